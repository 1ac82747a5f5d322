// Which requests the backend skips (request_skips.hpp).
// Spec: PostgreSQL 15 docs 55.2.3 (Extended Query: "discard messages until Sync"),
// 55.2.6 (COPY: Sync and Flush ignored during COPY IN), src/backend/tcop/postgres.c
// (ignore_till_sync, doing_extended_query_message, pq_is_reading_msg after an error),
// src/backend/commands/copyfromparse.c (CopyGetData: the messages COPY FROM STDIN reads).
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

void RequestSkips::lose(const char* why, bool pairing) {
  lost_ = true;
  pairing_lost_ = pairing;
  lost_reason_ = why;
  requests_.clear();
  open_units_ = 0;
  answered_ = 0;
  skipping_ = false;
  copy_ = false;
  region_open_ = false;
  skip_behind_front_ = 0;
  front_copy_end_ = 0;
}

std::uint32_t RequestSkips::pop_skipped(std::uint32_t n) {
  for (std::uint32_t i = 0; i < n; ++i) {
    if (requests_.empty()) {
      lose("a COPY read more Syncs than were forwarded");
      return 0;
    }
    requests_.pop_front();
    answered_ = 0;
    front_copy_end_ = 0;
  }
  return n;
}

// Copy messages join the COPY's region; Syncs before them are now between copy
// messages (trailing -> mid) and CopyDone / CopyFail closes it.
void RequestSkips::region_add_copies(bool end) {
  mid_syncs_ += trailing_syncs_;
  trailing_syncs_ = 0;
  region_copies_ = true;
  if (end) region_open_ = false;
}

// CopyInResponse. The region is rebuilt from what was forwarded behind the COPY's start
// before the server said it: each request carries the copy messages counted before it
// and before its first / last extended message.
void RequestSkips::copy_started(bool extended) {
  copy_ = true;
  copy_execute_ = extended;
  region_open_ = true;
  region_copies_ = false;
  pre_syncs_ = mid_syncs_ = trailing_syncs_ = 0;
  // Copy messages forwarded between two points join the region; false once it closed.
  const auto gap = [this](const Pos& from, const Pos& to) {
    if (to.copies == from.copies) return true;
    region_add_copies(to.ends > from.ends);
    return region_open_;
  };
  Pos cur;
  std::size_t next = 0;  // the next pending request behind the start
  if (extended) {
    if (answered_ + 1 < front_units()) {
      region_open_ = false;  // another extended message follows the Execute: no Sync in the region
      return;
    }
    if (requests_.empty()) {
      gap(open_last_, now());  // the Execute is the last open message: only copy messages behind it
      return;
    }
    const Request& f = requests_.front();  // the Execute is its last extended message
    if (!gap(f.last, f.at)) return;
    if (!f.sync) {
      region_open_ = false;
      return;
    }
    region_add_sync();
    cur = f.at;
    next = 1;
  } else if (front_copy_end_ == 0) {
    cur = requests_.front().at;  // the front Query's first COPY
    next = 1;
  } else {
    // A later COPY of the same Query starts after the CopyDone / CopyFail the previous one
    // read (end number front_copy_end_); the Syncs that COPY read are queued first.
    next = 1 + skip_behind_front_;
    const bool queued = next < requests_.size();
    if (!queued && open_units_ == 0) {
      // Only copy messages behind it: the position of that end is known if it is the last.
      if (ends_ > front_copy_end_) region_add_copies(true);
      else if (copies_ > last_end_copies_) region_add_copies(false);
      return;
    }
    const Request* r = queued ? &requests_[next] : nullptr;
    const Pos lead = r == nullptr ? open_first_ : r->units > 0 ? r->first : r->at;
    if (lead.ends > front_copy_end_) {
      region_add_copies(true);  // this COPY's CopyDone / CopyFail went before the next message
    } else if (r != nullptr && r->sync && r->units == 0) {
      // Whether copy messages went between the previous COPY's end and this Sync is not known.
      lose("a Sync queued behind a Query running a second COPY FROM STDIN");
    } else {
      region_open_ = false;  // another kind of message: the COPY fails on it, or failed before
    }
    return;
  }
  for (; next < requests_.size(); ++next) {
    const Request& r = requests_[next];
    if (!gap(cur, r.units > 0 ? r.first : r.at)) return;
    if (r.units > 0 || !r.sync) {
      region_open_ = false;  // another kind of message: the COPY fails on it, or failed before
      return;
    }
    region_add_sync();
    cur = r.at;
  }
  if (!gap(cur, open_units_ > 0 ? open_first_ : now())) return;
  if (open_units_ > 0) region_open_ = false;
}

// The COPY's outcome: which Syncs of its region the server read as COPY input.
std::uint32_t RequestSkips::copy_consumed(bool failed) {
  copy_ = false;
  region_open_ = false;
  if (!failed) return pre_syncs_ + mid_syncs_ + trailing_syncs_;
  if (mid_syncs_ > 0) {
    lose("a Sync forwarded between copy messages of a COPY that failed");
    return 0;
  }
  return region_copies_ ? pre_syncs_ : 0;
}

// The Execute that started a COPY IN completed: 'C' after CopyDone, or 'E' (CopyFail, bad
// data, a message of another kind). The Syncs of its region that the server read are
// skipped now, counted with the COPY's outcome before them; the first of them is the
// front request, whose extended messages are then all answered.
std::uint32_t RequestSkips::copy_execute_ended(bool failed) {
  const std::uint32_t n = copy_consumed(failed);
  if (lost_) return 0;
  const std::uint32_t skipped = pop_skipped(n);
  if (lost_) return 0;
  // Failed: started by an extended message, so the server now discards to the next Sync.
  return failed ? skipped + skip_to_sync() : skipped;
}

bool RequestSkips::forwarded(const FrontendMessage& m) {
  if (lost_) return false;
  const bool copy_end = std::holds_alternative<CopyDone>(m) || std::holds_alternative<CopyFail>(m);
  if (copy_end || std::holds_alternative<CopyData>(m)) {
    // COPY input, or ignored by the server outside COPY: no answer of its own. Counted,
    // so a COPY that starts later knows which requests went before or after it.
    ++copies_;
    if (copy_end) {
      ++ends_;
      last_end_copies_ = copies_;
    }
    if (region_open_) region_add_copies(copy_end);
    return false;
  }
  const bool ext = extended_message(m);
  const bool sync = std::holds_alternative<Sync>(m);
  if (!ext && !sync && !std::holds_alternative<Query>(m) && !std::holds_alternative<FunctionCall>(m))
    return false;  // Flush (ignored during COPY), Terminate
  // Another kind of message than copy messages, Flush and Sync ends the region: a COPY
  // still reading fails on it (and the server ends the connection).
  if (!sync) region_open_ = false;
  if (ext) {
    if (skipping_) return false;  // discarded: no completion will come
    if (open_units_ == std::numeric_limits<std::uint32_t>::max()) {
      lose("too many extended messages without a Sync", false);
      return false;
    }
    if (open_units_ == 0) open_first_ = now();
    open_last_ = now();
    ++open_units_;
    return false;
  }
  if (skipping_) {
    // Nothing before it is unanswered: the server discards it, or (a Sync) stops
    // discarding and answers with ReadyForQuery.
    if (!sync) return true;
    skipping_ = false;
    requests_.push_back(Request{true, 0, now(), now(), now()});
    answered_ = 0;
    return false;
  }
  if (requests_.size() >= kMaxPending) {
    lose("too many requests awaiting ReadyForQuery", false);
    return false;
  }
  const bool units = open_units_ > 0;
  requests_.push_back(Request{sync, open_units_, now(), units ? open_first_ : now(), units ? open_last_ : now()});
  open_units_ = 0;
  if (sync && region_open_) region_add_sync();
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
    front_copy_end_ = 0;
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
        return copy_ ? copy_execute_ended(false) : 0;
      case 'E':
        return copy_ ? copy_execute_ended(true) : skip_to_sync();
      case 'G':
        // COPY IN started by an Execute (libpq's PQexecParams / PQexecPrepared).
        if (copy_) lose("CopyInResponse during COPY IN");
        else copy_started(true);
        return 0;
      case 'W':
        lose("CopyBothResponse (replication) is not followed");
        return 0;
      case 'Z':  // no ReadyForQuery can come before the request
        lose("ReadyForQuery before an extended message was answered");
        return 0;
      default:  // 't' before a statement's description, DataRows, COPY OUT data
        return 0;
    }
  }
  if (requests_.empty()) {
    if (type == 'Z') lose("ReadyForQuery that answers no forwarded request");
    return 0;
  }
  switch (type) {
    case 'Z': {
      if (copy_) {
        lose("ReadyForQuery during COPY IN");
        return 0;
      }
      requests_.pop_front();
      answered_ = 0;
      front_copy_end_ = 0;
      // Syncs the front Query's COPY read as its input: no ReadyForQuery of their own.
      const std::uint32_t n = skip_behind_front_;
      skip_behind_front_ = 0;
      return pop_skipped(n);
    }
    case 'G':
      // COPY IN started by the front Query (simple protocol).
      if (requests_.front().sync || copy_) lose("CopyInResponse where no COPY can start");
      else copy_started(false);
      return 0;
    case 'C':
    case 'E':
      if (copy_) {
        // The outcome of the front Query's COPY; a later COPY of the same Query starts
        // after the CopyDone / CopyFail this one read.
        const bool failed = type == 'E';
        if (!failed) front_copy_end_ = (front_copy_end_ == 0 ? requests_.front().at.ends : front_copy_end_) + 1;
        const std::uint32_t n = copy_consumed(failed);
        if (!lost_) skip_behind_front_ += n;
      }
      return 0;
    case 'W':  // COPY BOTH (replication): not followed
      lose("CopyBothResponse (replication) is not followed");
      return 0;
    default:  // the front request's own answer (its errors included) up to its ReadyForQuery
      return 0;
  }
}

}  // namespace segproxy::protocols::pg
