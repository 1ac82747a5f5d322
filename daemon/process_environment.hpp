#pragma once
// The process environment as an authz::EnvironmentLookup: the one place below main that
// calls std::getenv. Runtime::build hands it to CredentialStore::load; the view loaders
// read metadata password_env through it.
#include "authz/environment.hpp"

namespace segproxy::proxy {

authz::EnvironmentLookup process_environment();

}  // namespace segproxy::proxy
