#pragma once
// Configuration reload, the same for both protocols: does a live session still fit the
// new Runtime? Its identity must map to the same segment, the segment must exist and
// still permit its database, its listener must exist, and its backend credential must be
// the same kind (static user unchanged, or dynamic). The session adopts the Runtime when
// it fits, else ends itself with the reason (LiveSession::adopt).
#include <string>

#include "authz/identity.hpp"

namespace segproxy::proxy {

struct Runtime;
struct ListenerRuntime;

struct SessionFit {
  const authz::ClientIdentity& identity;
  const std::string& segment;
  const std::string& database;  // "" = none selected (MySQL): any database set fits
  const std::string& listener;
  const std::string& backend_user;
  bool dynamic_credential;  // the session holds a minted credential
};

// Why the session no longer fits `rt` (a message for the client and the log); empty = it fits.
std::string runtime_misfit(const Runtime& rt, const SessionFit& s);

// The listener of `rt` named like `current` (nullptr: gone; runtime_misfit reports that).
// Look it up BEFORE the session lets go of its old Runtime: `current` points into it, and
// the session may hold that Runtime's last reference (a reload every few seconds freed it
// under the lookup: a use-after-free found by bench/soak.sh).
const ListenerRuntime* same_listener(const Runtime& rt, const ListenerRuntime& current);

}  // namespace segproxy::proxy
