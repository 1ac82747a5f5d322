#pragma once
// Configuration reload, the same for both protocols: does a live session still fit the
// new Runtime? Its identity must map to the same segment, the segment must exist and
// still permit its database, its listener must exist, and its backend credential must be
// the same kind (static user unchanged, or dynamic). The session adopts the Runtime when
// it fits, else ends itself with the reason (LiveSession::adopt).
#include <memory>
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

// Moves a session to `next`: `listener` to the listener of `next` with the same name, then
// `current` to `next`. The lookup comes first because `listener` points into the old
// Runtime and the session may hold its last reference (swapping first read freed memory:
// a use-after-free found by bench/soak.sh). False: `next` has no such listener
// (runtime_misfit reports that); nothing changed.
bool adopt_runtime(std::shared_ptr<const Runtime>& current, const ListenerRuntime*& listener,
                   std::shared_ptr<const Runtime> next);

}  // namespace segproxy::proxy
