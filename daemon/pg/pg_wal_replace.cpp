// A PostgreSQL answer whose audit record failed after its request was forwarded is
// replaced in place (issue 14, docs/audit.md "The guarantee" 5; the design, its safety
// argument and its limits: docs/audit.md "Gaps"): the client gets ErrorResponse 58030 +
// ReadyForQuery 'I' instead of the answer, and the session goes on.
//
// Only messages forwarded before their record was durable can have it fail: read-only
// ones and contained ones. Everything that commits waits for every record of the
// session, and the failed records stay unsettled (PgWalLedger::replacing) until their
// answers are replaced, so nothing can commit behind them meanwhile. The affected
// requests are those sent from the one holding the first failed message up to the
// failure (`WalState::Replace`: [from, to)); each of their answers is swallowed up to its
// ReadyForQuery. The replacement is faithful only when the backend is idle after each
// of them ('I': no open block, nothing of them committed) and the client misses nothing
// it would otherwise have to follow; otherwise the session fails closed (FATAL 58030,
// wal_fail_closed) as before:
//  - a ReadyForQuery of the range says 'T' or 'E' (the backend block would stay valid
//    while the client is told its statement failed);
//  - part of the first affected answer already reached the client, or the bytes passed
//    so far end in the middle of a message;
//  - a NotificationResponse or ParameterStatus falls in the swallowed range;
//  - the ReadyForQuery's counted here and by BackendDispatch disagree, or the backend may
//    have ignored a request (wal_counts_trusted_: a Query sent into an open extended
//    batch, a COPY IN);
//  - a second record fails while answers are being replaced;
//  - the request holding the failed message had, before it, a message whose effect the
//    failure of the request does not undo (review finding: an extended batch INSERT,
//    COMMIT, SELECT whose SELECT record failed was answered "58030" as a whole although
//    its COMMIT had committed the INSERT; the client, told its pipeline failed, would
//    retry the write). Such a message waited for its own durable record, so it is
//    recorded; but only the FATAL leaves the client in the honest "outcome unknown".
//    Messages after the failed one cannot have gone out: the rule's watermark cannot
//    pass the failed record, so anything that needs a durable record is refused.
#include <algorithm>
#include <chrono>

#include "protocols/pg/encoder.hpp"
#include "daemon/pg/pg_wal_state.hpp"

namespace segproxy::proxy {
namespace pg = protocols::pg;
using protocols::Bytes;

namespace {
constexpr const char* kReplaced =
    "segproxy: the audit log cannot record this statement, so its answer was withheld";
}  // namespace

void PgSession::wal_answers_failed(std::uint64_t requests_before) {
  WalState::Replace& r = wal_state_->replace;  // a record failed: the session is gated
  // A second failure while replacing is not followed; without one ReadyForQuery per
  // request the answers cannot be told apart.
  if (r.active || !wal_counts_trusted_ || wal_lasting_request_ == requests_before + 1) {
    wal_fail_closed();
    return;
  }
  r = WalState::Replace{};
  r.active = true;
  r.from = requests_before;
  // Every request sent so far, and the extended batch still open (its Sync, a commit
  // point, waits for the failed record and is refused: a raise stands in for it).
  r.to = std::max(wal_batch_ + (wal_batch_open_ ? 1 : 0), requests_before + 1);
  wal_state_->ledger.replacing(*svc_.audit);
  // Until the range is replaced the watermark stays below the failed record, and the
  // rule refuses (never holds) what needs a durable record: nothing commits behind it.
  const auto now = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
  wal_state_->rule.on_write_failure(now, wal_actions_);
  svc_.log.warn("audit.answer_unrecorded", {{"session", id_text_},
                                            {"segment", segment_},
                                            {"requests", std::to_string(r.to - r.from)},
                                            {"action", "replacing the answers with 58030"}});
}

awaitable<bool> PgSession::relay_replacing(Bytes& buf, pg::BackendHoldBack& hold, std::size_t fresh,
                                           std::uint64_t need) {
  WalState::Replace& r = wal_state_->replace;  // answers are replaced: the session is gated
  pg::ReplyScan& scan = wal_state_->reply_scan;
  // A raise's ParseComplete / BindComplete to drop (cuts_, pg_reply_trim.cpp) whose first
  // bytes already reached the client: not followed.
  if (cut_lost()) {
    wal_fail_closed();
    co_return false;
  }
  if (!r.entered) {
    // The bytes not yet passed start on a message boundary (the held ones always do),
    // and nothing of the first affected answer has reached the client.
    const bool boundary = hold.held() > 0 || relay_at_boundary_;
    if (!boundary || rfq_relayed_ > r.from || (rfq_relayed_ == r.from && !relay_after_rfq_)) {
      wal_fail_closed();
      co_return false;
    }
    scan = pg::ReplyScan{};
    r.at = rfq_relayed_;
    r.entered = true;
  }
  // Once entered every byte is taken here: the buffer holds no kept-back bytes then.
  const std::span<const std::uint8_t> all(buf.data(), hold.held() + fresh);
  hold.forget();
  Bytes out;  // what the client gets, in order (a rare path: allocating is fine)
  std::size_t pos = 0;                           // bytes before it are decided
  std::size_t after_range = std::string::npos;  // where the bytes behind the range begin
  std::uint64_t rfq_after = 0;                   // ReadyForQuery's behind the range
  char last_after = 0;
  bool faithful = true;
  const bool scanned = scan.feed(all, [&](const pg::ReplyScan::Message& m) {
    if (!faithful) return;
    if (after_range != std::string::npos) {
      rfq_after += m.type == 'Z';
      last_after = m.type;
      return;
    }
    if (r.at < r.from) {  // an answer before the range: its records are durable
      if (m.type == 'G' || m.type == 'W') faithful = false;  // requests may go unanswered from here on
      append_uncut(out, all, pos, m.end);  // without a raise's ParseComplete / BindComplete
      pos = m.end;
      r.at += m.type == 'Z';
      return;
    }
    // In the range: swallowed. A notification or a parameter change would be lost; a
    // COPY IN makes the backend ignore Sync (no ReadyForQuery per request).
    if (m.type == 'A' || m.type == 'S' || m.type == 'G' || m.type == 'W') {
      faithful = false;
      return;
    }
    pos = m.end;
    if (m.type != 'Z') return;
    if (m.status != 'I') {
      faithful = false;
      return;
    }
    pg::encode_error_response(out, pg::ErrorInfo{"ERROR", "58030", kReplaced, "", ""});
    pg::encode_ready_for_query(out, 'I');
    if (++r.at == r.to) after_range = m.end;
  });
  if (!scanned || !faithful) {
    wal_fail_closed();
    co_return false;
  }
  if (after_range == std::string::npos) {
    // The range goes on in later reads. An unfinished message before the range is passed
    // on (the scan follows it); one in the range is swallowed.
    if (r.at < r.from) append_uncut(out, all, pos, all.size());
    if (r.at != rfq_seen_) {  // every complete ReadyForQuery was passed or replaced
      wal_fail_closed();
      co_return false;
    }
    rfq_relayed_ = r.at;
    relay_at_boundary_ = scan.at_boundary();
    relay_after_rfq_ = false;  // unused until the range ends
    if (out.empty()) co_return true;
    error_code ec;
    co_await write_client(asio::buffer(out), ec);
    co_return !ec;
  }
  // The range is replaced: its records are settled, the rule's watermark moves past them.
  wal_state_->ledger.replaced(*svc_.audit);
  r.active = false;
  svc_.log.warn("audit.answer_replaced", {{"session", id_text_},
                                          {"segment", segment_},
                                          {"requests", std::to_string(r.to - r.from)}});
  if (!out.empty()) {
    error_code ec;
    co_await write_client(asio::buffer(out), ec);
    if (ec) co_return false;
  }
  wal_refresh(true);
  wal_wake();
  if (wal_broken_ || closed()) co_return false;
  // Behind the range: answers of requests sent after the failure, relayed as usual once
  // the records of everything forwarded before they were read are durable.
  if (r.active) {  // another record failed meanwhile: not followed
    wal_fail_closed();
    co_return false;
  }
  if (need > wal_state_->ledger.settled() && !co_await answer_ready(need)) co_return false;
  if (r.active) {
    wal_fail_closed();
    co_return false;
  }
  if (r.at + rfq_after != rfq_seen_) {
    wal_fail_closed();
    co_return false;
  }
  const std::span<const std::uint8_t> rest = all.subspan(after_range);
  if (!rest.empty()) {
    Bytes uncut;  // without a raise's ParseComplete / BindComplete (pg_reply_trim.cpp)
    append_uncut(uncut, all, after_range, all.size());
    error_code ec;
    if (!uncut.empty()) co_await write_client(asio::buffer(uncut), ec);
    if (ec) co_return false;
  }
  rfq_relayed_ = rfq_seen_;
  relay_at_boundary_ = scan.at_boundary();
  relay_after_rfq_ = relay_at_boundary_ && (rest.empty() || last_after == 'Z');
  co_return true;
}

}  // namespace segproxy::proxy
