#pragma once
// Protocol state the proxy follows instead of leaving it to the database (issue 12 item
// 4.5), pure so it is testable without sockets:
//  - COPY sub-protocol: CopyData / CopyDone / CopyFail are forwarded only while the
//    backend is in COPY IN (CopyInResponse seen, no CommandComplete / ErrorResponse /
//    ReadyForQuery since) or may be about to enter it (a request is still unanswered:
//    a pipelined COPY ... FROM STDIN). Otherwise they are dropped, as PostgreSQL ignores
//    them outside COPY (postgres.c), so no stray copy message reaches the backend.
//  - Extended query names: Bind / Describe 'S' of a statement never Parsed through this
//    session -> 26000; Execute / Describe 'P' of a portal never Bound through this
//    session (or gone with its transaction) -> 34000. SQL-level PREPARE / DECLARE names
//    are therefore not reachable through Bind / Execute. Close is always forwarded
//    (PostgreSQL: closing a nonexistent name is not an error) and forgets the name.
// Order: the session calls check() for every client message, then forwarded() for each
// message it actually forwards, request_sent() for each forwarded request that ends in
// a ReadyForQuery (Query, Sync, a raised refusal), and the typed backend inputs
// copy_in_started() ('G'), command_ended() ('C', 'E') and ready_for_query() ('Z'), as
// BackendCallbacks (backend_callbacks.hpp) report them; backend() takes them untyped.
#include <cstddef>
#include <cstdint>
#include <span>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "protocols/pg/messages.hpp"

namespace segproxy::protocols::pg {

struct FrontendCheck {
  enum class Action { Forward, Drop, Refuse };
  Action action = Action::Forward;
  std::string sqlstate;  // Refuse: 26000, 34000, 54000
  std::string message;   // Refuse: client-facing text
};

class FrontendState {
 public:
  static constexpr std::size_t kDefaultMaxNames = 65536;
  explicit FrontendState(std::size_t max_names = kDefaultMaxNames) : max_names_(max_names) {}

  FrontendCheck check(const FrontendMessage& m) const;
  void forwarded(const FrontendMessage& m);
  void request_sent() { ++requests_sent_; }
  void copy_in_started() { copy_in_ = true; }  // CopyInResponse
  void command_ended() { copy_in_ = false; }    // CommandComplete, ErrorResponse
  void ready_for_query(char status);            // ReadyForQuery
  // A request the backend skipped (request_skips.hpp): answered without a ReadyForQuery,
  // so it says nothing about the transaction (portals stay).
  void request_skipped() { ++ready_received_; }
  // The same, from a raw backend message ('G', 'C', 'E', 'Z'; others are ignored).
  void backend(char type, std::span<const std::uint8_t> body);

  bool in_copy_in() const { return copy_in_; }
  std::size_t statement_count() const { return statements_.size() + (unnamed_statement_ ? 1 : 0); }
  std::size_t portal_count() const { return portals_.size() + (unnamed_portal_ ? 1 : 0); }

 private:
  std::size_t max_names_;
  bool copy_in_ = false;
  std::uint64_t requests_sent_ = 0;
  std::uint64_t ready_received_ = 0;
  // Transparent hashing: names are looked up as string_views, without a copy.
  struct NameHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  bool has_statement(std::string_view name) const {
    return name.empty() ? unnamed_statement_ : statements_.contains(name);
  }
  bool has_portal(std::string_view name) const { return name.empty() ? unnamed_portal_ : portals_.contains(name); }

  // Named statements; the unnamed one is the flag below (issue 15: no hash node
  // allocated and freed per statement, as the unnamed statement and portal come and go
  // with every extended-protocol transaction).
  std::unordered_set<std::string, NameHash, std::equal_to<>> statements_;
  bool unnamed_statement_ = false;
  // Named portal -> requests sent before its Bind: it dies with the transaction that the
  // ReadyForQuery('I') of a later request reports ended. The unnamed portal: the flag
  // and its count below.
  std::unordered_map<std::string, std::uint64_t, NameHash, std::equal_to<>> portals_;
  bool unnamed_portal_ = false;
  std::uint64_t unnamed_portal_bound_ = 0;
};

}  // namespace segproxy::protocols::pg
