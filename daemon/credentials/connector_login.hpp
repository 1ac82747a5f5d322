#pragma once
// The proxy's own MySQL Connector/C++ logins to a listener's MySQL/MariaDB backend (view
// metadata, dynamic-credential admin), with the listener's backend TLS settings: one
// place for the connection options (the libpq counterpart is daemon/credentials/libpq_login).
// Blocking connects: call only from worker threads.
#include <cppconn/connection.h>
#include <cppconn/exception.h>

#include <chrono>
#include <optional>
#include <string>

#include "authz/credential_store.hpp"
#include "config/config.hpp"

namespace segproxy::proxy {

struct ConnectorLogin {
  std::string user;
  std::chrono::seconds connect_timeout{5};  // capped at 1 h
  std::string purpose;                      // "admin login", "metadata login" (errors)
};

// Connection options for `login` to listener `l`'s backend (endpoint and backend TLS;
// utf8mb4; 30 s read/write timeouts; no reconnect). nullopt + why when the listener asks
// for a TLS server name other than backend.host: Connector/C++ 1.1 checks the
// certificate against the host it connects to.
std::optional<sql::ConnectOptionsMap> connector_login_options(const config::Listener& l, const ConnectorLogin& login,
                                                              const authz::Secret& password, std::string& why);

// Connector/C++ messages may span lines: one line for a log field.
std::string connector_one_line(std::string s);
// "MySQL error <code>: <message on one line>".
std::string connector_error(const sql::SQLException& e);

}  // namespace segproxy::proxy
