// Which requests the backend skips (request_skips.hpp).
// Spec: PostgreSQL 15 docs 55.2.3 (Extended Query: "discard messages until Sync"),
// 55.2.6 (COPY: Sync and Flush ignored during COPY IN), src/backend/tcop/postgres.c
// (ignore_till_sync, doing_extended_query_message).
#include "protocols/pg/request_skips.hpp"

#include <limits>
#include <variant>

namespace segproxy::protocols::pg {

namespace {
bool extended_message(const FrontendMessage& m) {
  return std::holds_alternative<Parse>(m) || std::holds_alternative<Bind>(m) || std::holds_alternative<Describe>(m) ||
         std::holds_alternative<Execute>(m) || std::holds_alternative<Close>(m);
}
}  // namespace

void RequestSkips::lose() {
  lost_ = true;
  requests_.clear();
  open_units_ = 0;
  answered_ = 0;
  skipping_ = false;
  copy_in_ = false;
  copy_execute_ = false;
  ignored_sync_ = false;
  early_copy_ends_ = 0;
}

// The Execute that started a COPY IN completed: 'C' after CopyDone, or 'E' (CopyFail, bad
// data, a non-copy message). The Sync forwarded before the COPY started was ignored by
// the server (55.2.6): it is skipped now, and counted with the COPY's outcome before it.
std::uint32_t RequestSkips::copy_execute_ended(bool failed) {
  copy_execute_ = false;
  copy_in_ = false;
  std::uint32_t skipped = 0;
  if (ignored_sync_) {
    ignored_sync_ = false;
    requests_.pop_front();
    answered_ = 0;
    skipped = 1;
  }
  // Failed: started by an extended message, so the server now discards to the next Sync.
  return failed ? skipped + skip_to_sync() : skipped;
}

bool RequestSkips::forwarded(const FrontendMessage& m) {
  if (lost_) return false;
  const bool copy_end = std::holds_alternative<CopyDone>(m) || std::holds_alternative<CopyFail>(m);
  if (copy_in_) {
    // 55.2.6: the server takes copy messages (and ignores Flush) until CopyDone / CopyFail;
    // any other message fails the COPY and is consumed by it; a Sync is ignored unless the
    // COPY failed meanwhile. Neither can be followed.
    if (copy_end) copy_in_ = false;
    else if (!std::holds_alternative<CopyData>(m) && !std::holds_alternative<Flush>(m) &&
             !std::holds_alternative<Terminate>(m))
      lose();
    return false;
  }
  if (copy_end || std::holds_alternative<CopyData>(m)) {
    // Before the server said CopyInResponse: part of a COPY it has not started (or will
    // ignore: a stray one outside COPY). A COPY started by Execute is then not followed
    // (data that fails it before the Sync queued behind it makes that Sync answered).
    const bool pending = !requests_.empty() || open_units_ > 0;
    if (pending && early_copy_ends_ < std::numeric_limits<std::uint32_t>::max() &&
        (copy_end || requests_.empty() || requests_.back().sync))
      ++early_copy_ends_;
    return false;
  }
  if (extended_message(m)) {
    if (skipping_) return false;  // discarded: no completion will come
    if (open_units_ == std::numeric_limits<std::uint32_t>::max()) {
      lose();
      return false;
    }
    ++open_units_;
    return false;
  }
  const bool sync = std::holds_alternative<Sync>(m);
  if (!sync && !std::holds_alternative<Query>(m) && !std::holds_alternative<FunctionCall>(m)) return false;
  if (skipping_) {
    // Nothing before it is unanswered: the server discards it, or (a Sync) stops
    // discarding and answers with ReadyForQuery.
    if (!sync) return true;
    skipping_ = false;
    requests_.push_back(Request{true, 0});
    answered_ = 0;
    return false;
  }
  if (requests_.size() >= kMaxPending) {
    lose();
    return false;
  }
  requests_.push_back(Request{sync, open_units_});
  open_units_ = 0;
  return false;
}

// An extended message of the front request (or of the open ones) failed: the server
// discards everything up to the next Sync.
std::uint32_t RequestSkips::skip_to_sync() {
  std::uint32_t skipped = 0;
  while (!requests_.empty()) {
    if (requests_.front().sync) {
      answered_ = requests_.front().units;  // its messages are discarded; its ReadyForQuery comes
      return skipped;
    }
    requests_.pop_front();
    ++skipped;
  }
  // The Sync is not forwarded yet: the open messages and whatever comes before it are discarded.
  skipping_ = true;
  open_units_ = 0;
  answered_ = 0;
  return skipped;
}

std::uint32_t RequestSkips::backend(char type) {
  if (lost_) return 0;
  if (type == 'N' || type == 'A' || type == 'S') return 0;  // asynchronous: anywhere
  if (answered_ < front_units()) {
    // Answering the extended messages before the front request (or the open ones).
    switch (type) {
      case '1':  // ParseComplete
      case '2':  // BindComplete
      case '3':  // CloseComplete
      case 'T':  // RowDescription: a Describe (Execute sends none)
      case 'n':  // NoData: a Describe
      case 'C':  // CommandComplete: an Execute
      case 'I':  // EmptyQueryResponse: an Execute
      case 's':  // PortalSuspended: an Execute
        ++answered_;
        return copy_execute_ ? copy_execute_ended(false) : 0;
      case 'E':
        return copy_execute_ ? copy_execute_ended(true) : skip_to_sync();
      case 'G':
        // COPY IN started by an Execute (libpq's PQexecParams / PQexecPrepared): followed
        // when the Execute is the last message before the one request forwarded (its
        // Sync, which the server ignores: a second Sync follows CopyDone) or before none,
        // and nothing was forwarded behind it. Otherwise the server consumes the queued
        // messages as part of the COPY (an error) and nothing can be followed.
        if (!copy_execute_ && answered_ + 1 == front_units() && early_copy_ends_ == 0 &&
            (requests_.empty() || (requests_.size() == 1 && requests_.front().sync && open_units_ == 0))) {
          copy_in_ = true;
          copy_execute_ = true;
          ignored_sync_ = !requests_.empty();
          return 0;
        }
        lose();
        return 0;
      case 'W':
      case 'Z':  // no ReadyForQuery can come before the request
        lose();
        return 0;
      default:  // 't' before a statement's description, DataRows, COPY OUT data
        return 0;
    }
  }
  if (requests_.empty()) {
    if (type == 'Z') lose();  // answers no request the stream was told of
    return 0;
  }
  switch (type) {
    case 'Z':
      requests_.pop_front();
      answered_ = 0;
      if (requests_.empty()) early_copy_ends_ = 0;  // those went to no COPY
      return 0;
    case 'G':
      // COPY IN started by the front Query: followed only when nothing was forwarded
      // behind it yet (a client that waits for CopyInResponse before sending the data).
      if (requests_.front().sync || requests_.size() > 1 || open_units_ > 0 || early_copy_ends_ > 0) lose();
      else copy_in_ = true;
      return 0;
    case 'W':  // COPY BOTH (replication): not followed
      lose();
      return 0;
    default:  // the front request's own answer (its errors included) up to its ReadyForQuery
      return 0;
  }
}

}  // namespace segproxy::protocols::pg
