// Relay phase of a PostgreSQL session. Protocol reference: PostgreSQL 15 docs 55.2.2
// (Simple Query), 55.2.3 (Extended Query), 55.2.6 (COPY), 55.2.8 (Termination).
#include <algorithm>
#include <cstring>
#include <exception>

#include "protocols/pg/encoder.hpp"
#include "protocols/pg/frontend_decoder.hpp"
#include "proxy/pg_session.hpp"

namespace segproxy::proxy {
namespace pg = protocols::pg;
using protocols::Bytes;
using protocols::DecodeStatus;

namespace {
constexpr std::size_t kReadChunk = 16 * 1024;
constexpr std::size_t kBackendChunk = 64 * 1024;
constexpr std::size_t kShrinkAbove = 1024 * 1024;
}  // namespace

awaitable<bool> PgSession::fill_client_buffer(std::size_t frame_size) {
  if (cstart_ == cend_) {
    cstart_ = cend_ = 0;
    if (cbuf_.size() > kShrinkAbove) Bytes().swap(cbuf_);  // give back memory after a huge frame
  } else if (cstart_ > 0) {
    std::memmove(cbuf_.data(), cbuf_.data() + cstart_, cend_ - cstart_);
    cend_ -= cstart_;
    cstart_ = 0;
  }
  std::size_t target = std::max(cend_ + kReadChunk, frame_size);
  if (cbuf_.size() < target) cbuf_.resize(target);
  error_code ec;
  std::size_t n = co_await client_->read_some(asio::buffer(cbuf_.data() + cend_, cbuf_.size() - cend_), ec);
  if (ec) {
    if (close_reason_.empty()) close_reason_ = ec == asio::error::eof ? "client closed" : "client read: " + ec.message();
    co_return false;
  }
  cend_ += n;
  bytes_from_client_ += n;
  if (backend_) touch_idle();  // relay phase only; startup has its own deadline
  co_return true;
}

void PgSession::touch_idle() {
  if (rt_->config.limits.idle_timeout.count() > 0) idle_.arm(rt_->config.limits.idle_timeout);
}

void PgSession::on_idle_expired() {
  // A statement still running is not idleness: the backend owes us an answer.
  if (outstanding_ > 0) {
    touch_idle();
    return;
  }
  close_reason_ = "idle timeout";
  asio::co_spawn(client_->lowest().get_executor(), terminate_idle(shared_from_this()), asio::detached);
}

awaitable<void> PgSession::terminate_idle(std::shared_ptr<PgSession> self) {
  protocols::Bytes out;
  pg::encode_error_response(out, pg::ErrorInfo{"FATAL", "57P05", "terminating connection due to idle timeout (segproxy)", "", ""});
  error_code ec;
  co_await self->write_client(asio::buffer(out), ec);
  self->close_all();
}

awaitable<void> PgSession::write_client(asio::const_buffer buf, error_code& ec) {
  // One writer at a time on the TLS stream; waiters are woken by cancel() of the gate
  // (whose expiry stays at "never").
  while (client_writing_ && !closed_) {
    error_code ignored;
    co_await write_gate_.async_wait(asio::redirect_error(use_awaitable, ignored));
  }
  if (closed_) {
    ec = asio::error::operation_aborted;
    co_return;
  }
  client_writing_ = true;
  co_await client_->write(buf, ec);
  client_writing_ = false;
  write_gate_.cancel();
}

awaitable<void> PgSession::wait_backend_idle() {
  while (outstanding_ > 0 && !closed_) {
    error_code ignored;
    co_await idle_gate_.async_wait(asio::redirect_error(use_awaitable, ignored));
  }
}

void PgSession::on_backend_message(char type, std::span<const std::uint8_t> body) {
  if (type == 'Z') {
    if (auto st = pg::parse_ready_for_query(body)) txn_status_ = *st;
    if (outstanding_ > 0 && --outstanding_ == 0) idle_gate_.cancel();
  }
}

awaitable<void> PgSession::backend_to_client() {
  Bytes buf(kBackendChunk);
  auto forward = [&](std::span<const std::uint8_t> data) -> awaitable<bool> {
    if (backend_stream_.feed(data, *this) == DecodeStatus::Malformed) {
      close_reason_ = "malformed backend message: " + backend_stream_.error();
      svc_.log.error("backend.protocol_violation", {{"session", id_text_}, {"error", backend_stream_.error()}});
      co_return false;
    }
    error_code ec;
    co_await write_client(asio::buffer(data.data(), data.size()), ec);
    co_return !ec;
  };
  if (!backend_leftover_.empty() && !co_await forward(backend_leftover_)) {
    close_all();
    co_return;
  }
  Bytes().swap(backend_leftover_);
  for (;;) {
    error_code ec;
    std::size_t n = co_await backend_->read_some(asio::buffer(buf), ec);
    if (ec) {
      if (close_reason_.empty()) close_reason_ = "backend closed";
      break;
    }
    bytes_from_backend_ += n;
    touch_idle();
    if (!co_await forward(std::span<const std::uint8_t>(buf.data(), n))) break;
  }
  close_all();
}

awaitable<void> PgSession::answer_refused_frame(const std::string& sqlstate, const std::string& message) {
  // A server answers a request only after everything sent before it; so do we.
  co_await wait_backend_idle();
  Bytes out;
  pg::encode_error_response(out, pg::ErrorInfo{"ERROR", sqlstate, message, "", ""});
  pg::encode_ready_for_query(out, txn_status_);
  error_code ec;
  co_await write_client(asio::buffer(out), ec);
}

// Decodes every complete client frame in the buffer, checks it, and forwards the
// checked bytes unchanged in one write.
awaitable<PgSession::Next> PgSession::client_frames() {
  std::size_t frame_size = 0;
  auto span = pending();
  if (span.size() >= 5) {
    std::uint32_t len = (std::uint32_t{span[1]} << 24) | (std::uint32_t{span[2]} << 16) |
                        (std::uint32_t{span[3]} << 8) | std::uint32_t{span[4]};
    frame_size = std::size_t{len} + 1;
  }
  if (!co_await fill_client_buffer(frame_size)) co_return Next::Stop;

  std::size_t batch_begin = cstart_;
  Next next = Next::Continue;
  while (next == Next::Continue) {
    auto d = pg::decode_frontend(pending(), rt_->limits);
    if (d.status == DecodeStatus::NeedMore) break;
    if (d.status == DecodeStatus::Malformed) {
      close_reason_ = "malformed client message: " + d.error;
      svc_.log.warn("session.protocol_violation", {{"session", id_text_}, {"client", client_addr_}, {"error", d.error}});
      Bytes out;
      pg::encode_error_response(out, pg::ErrorInfo{"FATAL", "08P01", "segproxy: invalid frontend message", "", ""});
      error_code ec;
      co_await write_client(asio::buffer(out), ec);
      co_return Next::Stop;
    }
    std::size_t frame_begin = cstart_;
    cstart_ += d.consumed;
    std::visit(
        [&](const auto& m) {
          using T = std::decay_t<decltype(m)>;
          if constexpr (std::is_same_v<T, pg::Query> || std::is_same_v<T, pg::Sync>) {
            ++outstanding_;
          } else if constexpr (std::is_same_v<T, pg::Terminate>) {
            close_reason_ = "client terminated";
            next = Next::Stop;
          } else if constexpr (std::is_same_v<T, pg::FunctionCall> || std::is_same_v<T, pg::PasswordMessage>) {
            next = Next::Stop;  // handled below, after the frames before it are forwarded
          }
        },
        d.value);
    if (next == Next::Stop && !std::holds_alternative<pg::Terminate>(d.value)) {
      // Forward what came before this frame, then answer it ourselves.
      if (frame_begin > batch_begin) {
        error_code ec;
        co_await backend_->write(asio::buffer(cbuf_.data() + batch_begin, frame_begin - batch_begin), ec);
        if (ec) co_return Next::Stop;
      }
      batch_begin = cstart_;
      if (std::holds_alternative<pg::FunctionCall>(d.value)) {
        co_await answer_refused_frame("42501", "segproxy: the fast-path function call interface is not allowed");
        next = Next::Continue;
        continue;
      }
      close_reason_ = "password message after authentication";
      Bytes out;
      pg::encode_error_response(out, pg::ErrorInfo{"FATAL", "08P01", "segproxy: unexpected password message", "", ""});
      error_code ec;
      co_await write_client(asio::buffer(out), ec);
      co_return Next::Stop;
    }
  }
  if (cstart_ > batch_begin) {
    error_code ec;
    co_await backend_->write(asio::buffer(cbuf_.data() + batch_begin, cstart_ - batch_begin), ec);
    if (ec) {
      if (close_reason_.empty()) close_reason_ = "backend write: " + ec.message();
      co_return Next::Stop;
    }
  }
  co_return next;
}

awaitable<void> PgSession::relay() {
  write_gate_.expires_at(asio::steady_timer::time_point::max());
  idle_gate_.expires_at(asio::steady_timer::time_point::max());
  auto self = shared_from_this();
  touch_idle();
  // Keep co_await out of this full-expression: GCC 12 may destroy temporaries of a
  // full-expression containing co_await twice (GCC bug 100611), here a shared_ptr copy.
  auto ex = co_await asio::this_coro::executor;
  asio::co_spawn(
      ex, pump_backend(self),
      [self](std::exception_ptr e) {
        if (!e) return;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          self->svc_.log.error("session.exception", {{"session", self->id_text_}, {"error", ex.what()}});
        }
        self->close_all();
      });
  while (!closed_ && co_await client_frames() == Next::Continue) {
  }
  close_all();
}

}  // namespace segproxy::proxy
