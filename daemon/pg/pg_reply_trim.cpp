// The replies of a refusal raised in place of a Sync that the client never asked for
// (issues 12 and 14; docs/policy.md "How a refusal is answered"). The raise standing in
// for a Sync is an extended Parse / Bind / Execute / Sync (pg_raise_at_sync, pg_deny.hpp),
// so a batch that did not fail before it answers ParseComplete ('1') and BindComplete
// ('2') for the raise's own Parse and Bind. They must not reach the client: per batch
// (up to its ReadyForQuery) only as many '1' / '2' are relayed as the client's Parse /
// Bind messages forwarded in that batch; the surplus is the raise's. An ErrorResponse
// stops the client's remaining ones and the raise's alike, so the count holds either way.
//
// The dropped messages are cut out of the relay buffer as the answers are edited when a
// record failed (pg_wal_replace.cpp): the bytes passed to the client are the buffer's
// minus the cuts (append_uncut), in the normal relay (pg_relay.cpp) and in
// relay_replacing alike. Without a raise in flight nothing of this runs: the dispatch
// counts '1' / '2' per batch and reports none (BackendDispatch::report_completions).
#include <string>

#include "daemon/pg/pg_session.hpp"

namespace segproxy::proxy {

namespace {
// ParseComplete / BindComplete: type, Int32 length 4, no body (the relay's
// BackendStream checks structure, so a body would have been refused before).
constexpr std::size_t kCompletionSize = 5;
}  // namespace

void PgSession::trim_raise_replies() {
  // Requests and ReadyForQuery's may no longer pair one to one (a Query or FunctionCall
  // sent into an open extended batch, which the backend skips if the batch failed; a
  // COPY IN, during which it ignores Sync): the raise's batch cannot be told apart, and
  // dropping a reply of the client's would leave it waiting. Nothing is dropped then; the
  // client sees the raise's ParseComplete / BindComplete (libpq ignores them).
  if (!wal_counts_trusted_) return;
  // wal_msg_ is the Sync (or its stand-in) being replaced: its request ends the batch.
  trims_.push_back(ReplyTrim{wal_msg_.requests_before, batch_parses_, batch_binds_});
  backend_dispatch_.report_completions(true);
}

// '1' / '2' while a raise is in flight: rfq_seen_ is the request whose answer it is part of.
void PgSession::on_extended_complete(char type, std::uint32_t nth) {
  if (trims_.empty() || trims_.front().request != rfq_seen_) return;
  const ReplyTrim& t = trims_.front();
  if (nth <= (type == '1' ? t.parses : t.binds)) return;  // the client's own
  const std::size_t start = backend_stream_.message_start();
  if (start != std::string::npos) {
    cuts_.push_back(Cut{cut_base_ + start, kCompletionSize});
  } else if (cut_base_ > 0) {
    // Begun in an earlier read: the relay kept its first bytes back at the buffer's
    // front (an unfinished short message always is, BackendHoldBack).
    cuts_.push_back(Cut{0, kCompletionSize});
  } else {
    cuts_.push_back(Cut{std::string::npos, 0});  // part of it already reached the client
  }
}

bool PgSession::cut_lost() const {
  for (const Cut& c : cuts_)
    if (c.start == std::string::npos) return true;
  return false;
}

void PgSession::append_uncut(protocols::Bytes& out, std::span<const std::uint8_t> all, std::size_t from,
                             std::size_t to) const {
  std::size_t pos = from;
  for (const Cut& c : cuts_) {  // in stream order
    if (c.start == std::string::npos || c.start + c.size <= pos || c.start >= to) continue;
    if (c.start > pos) out.insert(out.end(), all.begin() + static_cast<std::ptrdiff_t>(pos),
                                  all.begin() + static_cast<std::ptrdiff_t>(c.start));
    pos = c.start + c.size;
  }
  if (pos < to) out.insert(out.end(), all.begin() + static_cast<std::ptrdiff_t>(pos),
                           all.begin() + static_cast<std::ptrdiff_t>(to));
}

}  // namespace segproxy::proxy
