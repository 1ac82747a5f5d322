#pragma once
// Live sessions of the process, for operations that reach across sessions: graceful
// shutdown, kill, revoke, reload and session listing (admin socket), and the
// per-segment connection limits. Sessions live on their own I/O thread, so the
// registry only ever posts work to that thread; what it knows itself is the fixed
// facts a session registered when it was admitted (identity, segment, ...).
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "authz/identity.hpp"
#include "daemon/net/asio.hpp"
#include "daemon/session/seen_identities.hpp"

namespace segproxy::proxy {

struct Runtime;

// What does not change after admission.
struct SessionFacts {
  std::string listener;
  std::string protocol;  // "postgres" | "mysql"
  std::string client_addr;
  authz::SharedIdentity shared_identity;  // the session's own copy (issue 15: not a second one)
  std::string segment;
  std::string database;
  std::string backend_user;
  std::chrono::system_clock::time_point started;
  std::uint64_t backend_id = 0;  // PostgreSQL backend pid / MySQL connection id

  const authz::ClientIdentity& identity() const {
    return shared_identity ? *shared_identity : authz::empty_identity();
  }
};

// What a session reports about itself when asked (on its own thread).
struct SessionState {
  std::string current_statement;  // normalised (literals replaced); empty when none yet
  bool active = false;            // a statement is running
  std::uint64_t bytes_in = 0;     // from the client
  std::uint64_t bytes_out = 0;    // to the client
};

// Implemented by each protocol's session class. Every method is called on the
// session's own thread (the registry posts).
// Why a session is terminated: a revocation writes a session.revoked record (with the
// reason) before the session's own session.close; shutdown, kill, reload, window close and
// expired credentials write nothing more.
enum class Termination { Close, Revoked };
inline const char* audit_event(Termination why) {
  return why == Termination::Revoked ? "session.revoked" : "session.close";
}

class LiveSession {
 public:
  virtual ~LiveSession() = default;
  // Ends the session with the protocol's fatal error (PostgreSQL: FATAL `code`), after
  // cancelling a running statement.
  virtual void terminate(std::string code, std::string message, Termination why) = 0;
  virtual SessionState state() const = 0;
  // Configuration reload: the session moves to `rt` from its next statement on, or ends
  // itself (with a clear message) when its identity, segment or database no longer fit.
  virtual void adopt(std::shared_ptr<const Runtime> rt) = 0;
};

// Which identity the per-identity limit counts: the SPIFFE id, else the certificate.
std::string identity_key(const authz::ClientIdentity& id);

class SessionRegistry {
 public:
  using Action = std::function<void(LiveSession&)>;
  using Filter = std::function<bool(std::uint64_t id, const SessionFacts&)>;

  enum class Admission { Admitted, SegmentFull, IdentityFull };

  // A session that exists (accepted), not yet admitted.
  void add(std::uint64_t id, std::weak_ptr<LiveSession> session, asio::any_io_executor ex);
  // Records the facts and counts the session against its segment's limits (0 = none),
  // atomically with the check. Not admitted -> nothing is counted.
  Admission admit(std::uint64_t id, SessionFacts facts, std::size_t max_segment,
                  std::size_t max_per_identity);
  void remove(std::uint64_t id);
  // The backend user became known after admission (a minted dynamic credential).
  void set_backend_user(std::uint64_t id, const std::string& user);
  // The backend connection became known after admission (PostgreSQL: the backend pid,
  // which a CancelRequest names).
  void set_backend_id(std::uint64_t id, std::uint64_t backend_id);

  // Runs `action` on every live session, each on its own thread; returns how many
  // sessions it was posted to.
  std::size_t post_to_all(const Action& action);
  // Same for the admitted sessions whose facts pass `filter` (evaluated here, under the
  // registry's lock: keep it cheap); returns their ids.
  std::vector<std::uint64_t> post_matching(const Filter& filter, const Action& action);
  // Whether an admitted session passes `filter` (under the lock; nothing is posted).
  bool any_matching(const Filter& filter) const;

  struct Listed {
    std::uint64_t id = 0;
    SessionFacts facts;
    std::optional<SessionState> state;  // nullopt: the session did not answer in time
  };
  // Admitted sessions passing `filter` with their state, asked on their own threads;
  // waits at most `timeout` for the answers. Sorted by id.
  std::vector<Listed> list(const Filter& filter, std::chrono::milliseconds timeout);

  std::size_t size() const;
  std::map<std::string, std::size_t> admitted_by_segment() const;

  // Every identity that reached admission since start (bounded; daemon/session/seen_identities).
  const SeenIdentities& seen() const { return seen_; }

 private:
  struct Entry {
    std::weak_ptr<LiveSession> session;
    asio::any_io_executor executor;
    std::shared_ptr<const SessionFacts> facts;  // null until admitted
  };
  mutable std::mutex mu_;
  std::unordered_map<std::uint64_t, Entry> sessions_;
  std::unordered_map<std::string, std::size_t> per_segment_;
  std::unordered_map<std::string, std::size_t> per_identity_;  // key: segment + '\0' + identity_key
  SeenIdentities seen_;
};

}  // namespace segproxy::proxy
