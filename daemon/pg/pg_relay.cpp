// Relay I/O of a PostgreSQL session (states Relaying, Discarding, Ending): client
// frames are read and decoded one by one (their fate: pg_client_message.cpp) and written
// to the backend in one write per batch; backend bytes are streamed back to the client
// while BackendStream follows their boundaries and BackendDispatch types the messages
// the session follows (pg_backend_message.cpp).
// Protocol reference: PostgreSQL 15 docs 55.2.2 (Simple Query), 55.2.3 (Extended Query),
// 55.2.6 (COPY), 55.2.8 (Termination).
#include <algorithm>
#include <cstring>
#include <exception>

#include "protocols/pg/backend_hold_back.hpp"
#include "protocols/pg/encoder.hpp"
#include "protocols/pg/frontend_decoder.hpp"
#include "daemon/metrics/proxy_metrics.hpp"
#include "daemon/net/client_fill.hpp"
#include "daemon/net/idle_wait.hpp"
#include "daemon/pg/pg_session.hpp"

namespace segproxy::proxy {
namespace pg = protocols::pg;
using protocols::Bytes;
using protocols::DecodeStatus;

namespace {
constexpr std::size_t kReadChunk = 16 * 1024;
constexpr std::size_t kBackendChunk = 64 * 1024;
constexpr std::size_t kHoldBack = 16 * 1024;  // < kBackendChunk: a read always has room
}  // namespace

awaitable<bool> PgSession::fill_client_buffer(std::size_t frame_size) {
  error_code ec;
  const std::size_t n = co_await fill_client(*client_, cbuf_, cstart_, cend_, kReadChunk, frame_size, ec);
  if (ec) {
    if (close_reason_.empty()) close_reason_ = ec == asio::error::eof ? "client closed" : "client read: " + ec.message();
    co_return false;
  }
  client_bytes_read(n);
  co_return true;
}

Fill PgSession::fill_client_now(std::size_t frame_size) {
  error_code ec;
  std::size_t n = 0;
  const Fill f = proxy::fill_client_now(*client_, cbuf_, cstart_, cend_, kReadChunk, frame_size, ec, n);
  if (f == Fill::Failed) {
    if (close_reason_.empty()) close_reason_ = ec == asio::error::eof ? "client closed" : "client read: " + ec.message();
  } else if (f == Fill::Done) {
    client_bytes_read(n);
  }
  return f;
}

void PgSession::client_bytes_read(std::size_t n) {
  cend_ += n;
  bytes_from_client_ += n;
  if (listener_metrics_ != nullptr) listener_metrics_->bytes(Direction::ClientToBackend).inc(n);
  if (backend_) touch_idle();  // relay phase only; startup has its own deadline
}

bool PgSession::write_client_now(asio::const_buffer buf, error_code& ec, ClientWrite& w) {
  w = ClientWrite{};
  if (client_writing_ || closed()) return false;  // write_client waits for its turn
  if (!client_->write_now(buf, ec, w.progress)) {
    client_writing_ = true;  // the turn is kept until write_client finishes the rest
    w.started = true;
    return false;
  }
  wake_waiters();  // as after every write (write_client)
  return true;
}

awaitable<void> PgSession::write_client(asio::const_buffer buf, error_code& ec, ClientWrite w) {
  if (w.started) {
    co_await client_->finish_write(buf, w.progress, ec);
  } else {
    // One writer at a time on the TLS stream; waiters are woken by wake_.cancel().
    while (client_writing_ && !closed()) {
      error_code ignored;
      co_await wake_timer().async_wait(asio::redirect_error(use_awaitable, ignored));
    }
    if (closed()) {
      ec = asio::error::operation_aborted;
      co_return;
    }
    client_writing_ = true;
    co_await client_->write(buf, ec);
  }
  client_writing_ = false;
  wake_waiters();
}

asio::steady_timer& PgSession::wake_timer() {
  if (!wake_) {
    wake_ = std::make_unique<asio::steady_timer>(client_->lowest().get_executor());
    wake_->expires_at(asio::steady_timer::time_point::max());  // waits end by cancel() only
  }
  return *wake_;
}

awaitable<void> PgSession::wait_backend_idle() {
  while (outstanding_ > 0 && !closed()) {
    error_code ignored;
    co_await wake_timer().async_wait(asio::redirect_error(use_awaitable, ignored));
  }
}

// Relays buf's held bytes and the `fresh` ones read behind them, as far as the hold-back
// lets them go, once the records of everything forwarded before they were read are
// durable (`need`: the ledger's watermark, write-ahead rule). The plain part: feeding,
// and the write when nothing waits; relay_rest goes on from `step` where it stopped.
PgSession::RelayResult PgSession::relay_now(Bytes& buf, pg::BackendHoldBack& hold, std::size_t fresh,
                                            std::uint64_t need, RelayStep& step) {
  step.old = hold.held();
  const std::span<const std::uint8_t> all(buf.data(), step.old + fresh);
  cut_base_ = step.old;  // replies of a raise to drop are found while feeding (pg_reply_trim.cpp)
  if (backend_stream_.feed(all.subspan(step.old), backend_dispatch_) == DecodeStatus::Malformed) {
    step.at = RelayStep::At::Malformed;
    return RelayResult::Pending;
  }
  if (wal_replacing() || need > wal_settled()) {
    step.at = RelayStep::At::Settle;
    return RelayResult::Pending;
  }
  return relay_settled_now(buf, hold, fresh, step);
}

PgSession::RelayResult PgSession::relay_settled_now(Bytes& buf, pg::BackendHoldBack& hold, std::size_t fresh,
                                                    RelayStep& step) {
  const std::span<const std::uint8_t> all(buf.data(), step.old + fresh);
  step.n = hold.relayable(backend_stream_, fresh);
  if (step.n > 0) {
    if (!cuts_.empty()) {
      step.at = RelayStep::At::Write;
      return RelayResult::Pending;
    }
    error_code ec;
    if (!write_client_now(asio::buffer(all.data(), step.n), ec, step.w)) {
      step.at = RelayStep::At::WriteRest;
      return RelayResult::Pending;
    }
    if (ec) return RelayResult::Failed;
  }
  relay_done(buf, hold, step.n);
  return RelayResult::Done;
}

void PgSession::relay_done(Bytes& buf, pg::BackendHoldBack& hold, std::size_t n) {
  if (n > 0 && hold.held() > 0) std::memmove(buf.data(), buf.data() + n, hold.held());
  cuts_.clear();
  relayed_normally(hold);
}

awaitable<bool> PgSession::relay_rest(Bytes& buf, pg::BackendHoldBack& hold, std::size_t fresh, std::uint64_t need,
                                      RelayStep step) {
  const std::size_t old = step.old;
  const std::span<const std::uint8_t> all(buf.data(), old + fresh);
  if (step.at == RelayStep::At::Malformed) {
    // Issue 12 item 4.4: the backend connection ends; the client gets what came before
    // the offending message and a clean FATAL 08P01 (when none of it was relayed;
    // otherwise part of it is already relayed and the connection just closes).
    close_reason_ = "malformed backend message: " + backend_stream_.error();
    svc_.log.error("backend.protocol_violation", {{"session", id_text_}, {"error", backend_stream_.error()}});
    if (backend_) backend_->close();
    const std::size_t c = backend_stream_.clean_prefix();
    std::size_t clean = c != std::string::npos ? old + c : old > 0 ? 0 : std::string::npos;
    // Write-ahead (review finding, h2): the bytes before the offending message are
    // answers too; they reach the client only when their records are durable, and never
    // while answers whose record failed are being replaced. Not waited for here (the
    // session ends): withheld, the client gets the FATAL alone.
    if (clean != std::string::npos && wal_gated_ && (wal_replacing() || need > wal_settled())) clean = 0;
    if (clean != std::string::npos && clean <= all.size()) {
      Bytes out;
      append_uncut(out, all, 0, clean);
      pg::encode_error_response(out, pg::ErrorInfo{"FATAL", "08P01", "segproxy: " + backend_stream_.error(), "", ""});
      error_code ec;
      co_await write_client(asio::buffer(out), ec);
    }
    co_return false;
  }
  if (step.at == RelayStep::At::Settle) {
    // Answers whose record failed after forwarding are replaced per request.
    if (!wal_replacing() && need > wal_settled() && !co_await answer_ready(need)) {
      cuts_.clear();
      co_return false;
    }
    if (wal_replacing()) {
      const bool ok = co_await relay_replacing(buf, hold, fresh, need);
      cuts_.clear();
      co_return ok;
    }
    step.n = hold.relayable(backend_stream_, fresh);
    step.at = RelayStep::At::Write;
  }
  const std::size_t n = step.n;
  if (n > 0) {
    error_code ec;
    if (step.at == RelayStep::At::WriteRest) {
      co_await write_client(asio::buffer(all.data(), n), ec, step.w);
    } else if (cuts_.empty()) {
      co_await write_client(asio::buffer(all.data(), n), ec);
    } else {
      // A raise's ParseComplete / BindComplete are dropped (pg_reply_trim.cpp); the cuts
      // are complete messages, before any bytes held back.
      if (cut_lost()) {
        close_reason_ = "a reply of a raised refusal was split across reads";
        svc_.log.error("session.reply_trim_lost", {{"session", id_text_}});
        cuts_.clear();
        co_return false;
      }
      Bytes out;  // rare: the answer of a batch whose Sync a refusal stood in for
      append_uncut(out, all, 0, n);
      cuts_.clear();
      if (!out.empty()) co_await write_client(asio::buffer(out), ec);
    }
    if (ec) co_return false;
  }
  relay_done(buf, hold, n);
  co_return true;
}

awaitable<void> PgSession::backend_to_client() {
  Bytes buf;  // borrowed from the thread's pool while a response is in flight (issue 15)
  // The start of an unfinished backend message, kept at buf's front instead of relayed
  // while it is short (at most kHoldBack): if the backend then stalls (issue 20,
  // limits.backend_message_timeout) the client can still get a clean FATAL.
  pg::BackendHoldBack hold(kHoldBack);
  BufferPool& pool = backend_->buffers();
  if (!backend_leftover_.empty() && !co_await relay_leftover(buf, hold)) {
    pool.give_back(buf);
    close_all();
    co_return;
  }
  const auto stall_limit = rt_->config.limits.backend_message_timeout;
  bool stall_armed = false;
  for (;;) {
    error_code ec;
    if (hold.held() == 0) pool.give_back(buf);
    if (stall_limit.count() > 0 && !backend_stream_.at_boundary()) {
      backend_stall_.arm(stall_limit);  // only while a message is unfinished
      stall_armed = true;
    }
    if (!backend_->readable_now()) co_await backend_->wait_readable(ec);
    std::size_t n = 0;
    if (!ec) {
      if (buf.empty()) buf = pool.take(kBackendChunk);
      const asio::mutable_buffer into(buf.data() + hold.held(), kBackendChunk - hold.held());
      if (!backend_->read_now(into, ec, n)) n = co_await backend_->read_some(into, ec);
    }
    if (stall_armed) {
      backend_stall_.disarm();  // the time a slow client takes to read is not the backend's
      stall_armed = false;
    }
    if (ec) {
      if (backend_stalled_) co_await backend_stalled(hold);
      if (close_reason_.empty()) close_reason_ = "backend closed";
      break;
    }
    bytes_from_backend_ += n;
    if (listener_metrics_ != nullptr) listener_metrics_->bytes(Direction::BackendToClient).inc(n);
    touch_idle();
    const std::uint64_t need = wal_answer_needs();
    RelayStep step;
    RelayResult r = relay_now(buf, hold, n, need, step);
    if (r == RelayResult::Pending && step.at == RelayStep::At::Settle && !wal_replacing()) {
      // Held behind the durable watermark: waited for here, in this frame (no relay_rest,
      // answer_ready and AuditWaiter::wait frames per held answer; issue 14).
      WalSettle s = wal_settle_now(need);
      while (s == WalSettle::Wait) {
        error_code ignored;
        co_await wal_answer_slot().async_wait(asio::redirect_error(use_awaitable, ignored));
        wal_settle_resumed();
        s = wal_settle_now(need);
      }
      if (s == WalSettle::Stop) {
        cuts_.clear();
        break;
      }
      if (!wal_replacing()) r = relay_settled_now(buf, hold, n, step);  // else relay_rest replaces them
    }
    if (r == RelayResult::Failed) break;
    if (r == RelayResult::Pending && !co_await relay_rest(buf, hold, n, need, step)) break;
    if (!backend_fatal_.empty() && hold.held() == 0 && backend_stream_.at_boundary()) {
      // After a FATAL the backend closes the connection (pg_terminate_backend: 57P01), and
      // its end may raise no readiness edge of its own: a plaintext backend's FATAL and its
      // FIN (or RST, when a query forwarded meanwhile was left unread) taken by one recv()
      // look like "socket empty" (read_readiness.hpp), so waiting for the end could leave
      // the client session open for good. End it now.
      if (close_reason_.empty()) close_reason_ = "backend closed after FATAL " + backend_fatal_;
      break;
    }
  }
  pool.give_back(buf);
  if (wal_broken_) co_return;  // failing closed: terminate_with sends the FATAL, then closes
  close_all();
}

// Bytes the login read past its ReadyForQuery: relayed like a first read (a coroutine of
// its own: its locals stay out of backend_to_client's frame, which lives as long as the
// session, issue 15).
awaitable<bool> PgSession::relay_leftover(Bytes& buf, pg::BackendHoldBack& hold) {
  const std::size_t n = backend_leftover_.size();
  buf = backend_->buffers().take(std::max(kBackendChunk, n));
  std::memcpy(buf.data(), backend_leftover_.data(), n);
  Bytes().swap(backend_leftover_);
  RelayStep step;
  const RelayResult r = relay_now(buf, hold, n, 0, step);
  if (r == RelayResult::Failed) co_return false;
  if (r == RelayResult::Pending) co_return co_await relay_rest(buf, hold, n, 0, step);
  co_return true;
}

awaitable<void> PgSession::backend_stalled(const pg::BackendHoldBack& hold) {
  // Nothing of the unfinished message reached the client: it can end cleanly.
  const bool clean = hold.held() > 0 || backend_stream_.at_boundary();
  close_reason_ = "backend stalled mid-message (limits.backend_message_timeout)";
  svc_.log.error("backend.stalled", {{"session", id_text_}, {"held_bytes", std::to_string(hold.held())}});
  if (!clean) co_return;
  Bytes out;
  pg::encode_error_response(out, pg::ErrorInfo{"FATAL", "08006",
                                               "segproxy: the backend stopped sending in the middle of a "
                                               "message (limits.backend_message_timeout)",
                                               "", ""});
  error_code ec;
  co_await write_client(asio::buffer(out), ec);
}

void PgSession::forward(std::span<const std::uint8_t> frame) {
  if (!out_pieces_.empty()) {
    auto& last = out_pieces_.back();
    if (static_cast<const std::uint8_t*>(last.data()) + last.size() == frame.data()) {
      last = asio::const_buffer(last.data(), last.size() + frame.size());
      return;
    }
  }
  out_pieces_.emplace_back(frame.data(), frame.size());
}

void PgSession::forward_owned(Bytes bytes) {
  out_owned_.push_back(std::move(bytes));  // a moved vector keeps its heap buffer
  out_pieces_.emplace_back(out_owned_.back().data(), out_owned_.back().size());
}

awaitable<bool> PgSession::flush_to_backend() {
  bool ok = true;
  std::size_t progress = 0;
  if (flush_to_backend_now(ok, progress)) co_return ok;
  co_return co_await flush_to_backend(progress);
}

bool PgSession::flush_to_backend_now(bool& ok, std::size_t& progress) {
  ok = true;
  progress = 0;
  if (out_pieces_.empty()) return true;
  error_code ec;
  if (!backend_->write_now(out_pieces_, ec, progress)) return false;
  ok = flushed(ec);
  return true;
}

awaitable<bool> PgSession::flush_to_backend(std::size_t progress) {
  error_code ec;
  co_await backend_->finish_write(out_pieces_, progress, ec);
  co_return flushed(ec);
}

bool PgSession::flushed(const error_code& ec) {
  out_pieces_.clear();
  out_owned_.clear();
  if (ec && close_reason_.empty()) close_reason_ = "backend write: " + ec.message();
  return !ec;
}

// Decodes every complete client frame in the buffer, decides each, and writes the
// result to the backend in one write. decode_frontend is the only reader of a frame's
// header: a frame already buffered (e.g. a Query pipelined right behind the
// StartupMessage) is processed at once, and the buffer grows only to the frame size a
// checked header announced (NeedMore's `needed`).
bool PgSession::client_frames_now(FramesStep& st) {
  Next next = Next::Continue;
  bool decoded_any = false;
  while (next == Next::Continue) {
    auto d = pg::decode_frontend(pending(), rt_->limits);
    if (d.status == DecodeStatus::NeedMore) {
      if (decoded_any) break;  // forward what was decided before waiting for more
      const Fill f = fill_client_now(d.needed);
      if (f == Fill::Failed) {
        st.next = Next::Stop;
        return true;
      }
      if (f == Fill::Wait) {  // nothing decoded yet: client_frames_rest starts over after the fill
        st.at = FramesStep::At::Fill;
        st.needed = d.needed;
        return false;
      }
      continue;
    }
    if (d.status == DecodeStatus::Malformed) {
      close_reason_ = "malformed client message: " + d.error;
      svc_.log.warn("session.protocol_violation", {{"session", id_text_}, {"client", client_addr_}, {"error", d.error}});
      st.at = FramesStep::At::Malformed;
      return false;
    }
    decoded_any = true;
    std::span<const std::uint8_t> frame(cbuf_.data() + cstart_, d.consumed);
    cstart_ += d.consumed;
    next = on_client_message(d.value, frame);
    if (lexing_.hold) break;  // the frames behind it stay buffered until the backend has answered
    // Held for its record (write-ahead rule): nothing overtakes it, so nothing more is
    // read; its frame stays where it is in cbuf_ until it is forwarded or refused.
    if (wal_held() > 0) break;
  }
  if (next == Next::StopUnexpectedPassword) {
    st.at = FramesStep::At::Password;
    return false;
  }
  st.next = next;
  bool flushed_ok = true;
  if (!flush_to_backend_now(flushed_ok, st.progress)) {
    st.at = FramesStep::At::Flush;
    return false;
  }
  if (!flushed_ok) {
    st.next = Next::Stop;
    return true;
  }
  if (wal_held() > 0 || lexing_.hold) {
    st.at = FramesStep::At::Waits;
    return false;
  }
  return true;
}

awaitable<PgSession::Next> PgSession::client_frames_rest(FramesStep st) {
  while (st.at == FramesStep::At::Fill) {
    if (!co_await fill_client_buffer(st.needed)) co_return Next::Stop;
    if (client_frames_now(st)) co_return st.next;
  }
  if (st.at == FramesStep::At::Malformed || st.at == FramesStep::At::Password) {
    Bytes out;
    pg::encode_error_response(out, pg::ErrorInfo{"FATAL", "08P01",
                                                 st.at == FramesStep::At::Malformed
                                                     ? "segproxy: invalid frontend message"
                                                     : "segproxy: unexpected password message",
                                                 "", ""});
    error_code ec;
    co_await write_client(asio::buffer(out), ec);
    co_return Next::Stop;
  }
  if (st.at == FramesStep::At::Flush && !co_await flush_to_backend(st.progress)) co_return Next::Stop;
  if (wal_held() > 0 && !co_await wait_wal_held()) co_return Next::Stop;
  if (lexing_.hold) {
    // A lexing setting may have changed: the next frame is judged under the value the
    // backend reports (ParameterStatus before ReadyForQuery, read by backend_to_client).
    lexing_.hold = false;
    co_await wait_backend_idle();
  }
  co_return st.next;
}

bool PgSession::start_relay() {
  if (std::string why = apply_pending_runtime(); !why.empty()) {
    close_reason_ = "terminating connection: segproxy configuration reloaded: " + why;
    return false;
  }
  touch_idle();
  schedule_window_close();
  // The completion handler's `self` keeps the session alive while backend_to_client
  // runs (no wrapper coroutine holding it: one frame less per session, issue 15).
  auto self = shared_from_this();
  asio::co_spawn(client_->lowest().get_executor(), backend_to_client(), [self](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      self->svc_.log.error("session.exception", {{"session", self->id_text_}, {"error", ex.what()}});
    }
    self->close_all();
  });
  return true;
}

awaitable<void> PgSession::terminate_reloaded() { return terminate_with(shared_from_this(), "57P01", close_reason_); }

awaitable<void> PgSession::yield_once() { return asio::post(client_->lowest().get_executor(), use_awaitable); }

awaitable<void> PgSession::relay() {
  if (!start_relay()) {
    co_await terminate_reloaded();
    co_return;
  }
  while (!closed()) {
    if (cstart_ == cend_) {
      // Nothing buffered: wait here for the client, with no read buffer and without
      // client_frames' frames alive while the session is idle (issue 15). An error is
      // reported by the read in client_frames.
      error_code ec;
      if (client_->readable_now()) cstart_ = cend_ = 0;  // the wait would complete at once
      else co_await wait_client_idle(*client_, cbuf_, cstart_, cend_, ec);
    }
    FramesStep st;
    Next next = Next::Continue;
    if (client_frames_now(st)) next = st.next;
    else next = co_await client_frames_rest(st);
    if (next != Next::Continue) break;
  }
  // A termination in progress (terminate_with, spawned) sends its FATAL before we close:
  // the read that saw Ending can complete first (a TLS read takes one step now).
  if (state_ == State::Ending && !closed()) co_await yield_once();
  close_all();
}

}  // namespace segproxy::proxy
