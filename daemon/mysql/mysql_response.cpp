// MySQL session: the handler of Awaiting / Streaming (mysql_session.hpp, State): the
// response of the command in flight is streamed to the client while
// protocols/mysql/ResponseTracker follows where it ends; its bytes reach the client once
// the records of everything forwarded before them are durable (write-ahead rule,
// mysql_wal.cpp). Then back to Idle, after what the response asks for (its answer
// replaced when its record failed, the lexing settings read back, a view refresh).
// Also the proxy's own ROLLBACK and the tracker's events (ResponseEvents).
//
// Issue 15, no coroutine frame per response: on_response runs the relay as plain calls
// (Stream::readable_now / read_now / write_now) while the sockets give and take at once,
// and returns the coroutine that goes on from the step that has to wait.
#include <chrono>
#include <string>

#include "protocols/mysql/commands.hpp"
#include "protocols/mysql/packets.hpp"
#include "daemon/metrics/proxy_metrics.hpp"
#include "daemon/mysql/mysql_session.hpp"

namespace segproxy::proxy {
namespace my = protocols::mysql;
using protocols::Bytes;
using protocols::DecodeStatus;

namespace {
constexpr std::size_t kReadChunk = 64 * 1024;
constexpr std::chrono::seconds kRollbackWait{10};
}  // namespace

// Awaiting / Streaming: the command's response is relayed to its end; then back to Idle
// (after reading the lexing settings back, or asking for a view refresh, when the
// command may have changed them).
std::optional<awaitable<bool>> MysqlSession::on_response(bool& go_on) {
  ResponseStep st;
  bool ok = false;
  if (!relay_response_now(st, ok)) return on_response_rest(st);
  if (!response_done(ok, go_on)) return std::nullopt;
  st.at = ResponseStep::At::Done;  // what the response asks for needs a coroutine
  return on_response_rest(st);
}

// on_response from the step that has to wait: the rest of the relay, then what the
// response asks for (its answer replaced when its record failed, the lexing settings
// read back).
awaitable<bool> MysqlSession::on_response_rest(ResponseStep st) {
  if (st.at != ResponseStep::At::Done) {
    const bool ok = co_await relay_response_rest(st);
    bool go_on = false;
    if (!response_done(ok, go_on)) co_return go_on;
  }
  if (wal_answer_withheld_ && !co_await wal_replace_answer()) co_return false;
  if (relex_after_ && !co_await follow_lexing_settings()) co_return false;
  response_ddl_done();
  co_return true;
}

bool MysqlSession::response_done(bool ok, bool& go_on) {
  statement_timer_.disarm();
  if (command_running()) state_ = State::Idle;
  go_on = false;
  if (!ok) return false;
  if (wal_answer_withheld_ || relex_after_) return true;
  response_ddl_done();
  go_on = true;
  return false;
}

void MysqlSession::response_ddl_done() {
  if (!ddl_after_) return;
  last_ddl_ = std::chrono::steady_clock::now();  // catalogs loaded before now miss it
  wal_catalog_stale_ = false;
  rt_->on_ddl();
}

// Streams backend bytes to the client until the tracker says the response is complete:
// the plain part. The buffer is borrowed from the thread's pool for this response (no
// allocation per statement once the pool is warm; an idle session holds no buffer).
bool MysqlSession::relay_response_now(ResponseStep& st, bool& ok) {
  using Chunk = ResponseStep::Chunk;
  ok = false;
  Bytes& buf = response_buf_;
  BufferPool& pool = backend_->buffers();
  if (buf.size() < kReadChunk) buf = pool.take(kReadChunk);
  while (!tracker_->idle()) {
    // Before the first byte the query may take its time; after it, a wait is watched
    // (limits.backend_message_timeout): relay_response_rest waits, this part never does.
    if (!backend_->readable_now()) return false;  // At::Read
    error_code ec;
    std::size_t n = 0;
    if (!backend_->read_now(asio::buffer(buf.data(), kReadChunk), ec, n)) return false;  // At::Read
    if (ec) {
      if (backend_stalled_) {
        st.at = ResponseStep::At::Stalled;
        return false;
      }
      if (close_reason_.empty()) close_reason_ = ec == asio::error::eof ? "backend closed" : "backend read: " + ec.message();
      pool.give_back(buf);
      return true;
    }
    st.started = true;
    const Chunk c = response_read(n, st);
    if (c == Chunk::Pending) return false;
    if (c == Chunk::Failed) {
      pool.give_back(buf);
      return true;
    }
  }
  pool.give_back(buf);
  if (st.withheld) wal_answer_withheld_ = true;  // on_response replaces it
  ok = true;
  return true;
}

awaitable<bool> MysqlSession::relay_response_rest(ResponseStep st) {
  using At = ResponseStep::At;
  using Chunk = ResponseStep::Chunk;
  Bytes& buf = response_buf_;
  const BufferLease lease(backend_->buffers(), buf, kReadChunk);  // given back at the end
  for (;;) {
    Chunk c = Chunk::Next;
    switch (st.at) {
      case At::Read: {
        if (tracker_->idle()) {
          if (st.withheld) wal_answer_withheld_ = true;  // on_response replaces it
          co_return true;
        }
        error_code ec;
        if (st.started) watch_backend(true);
        st.n = co_await backend_->read_some(asio::buffer(buf.data(), kReadChunk), ec);
        if (st.started) watch_backend(false);
        if (ec && backend_stalled_) co_return co_await backend_stalled();
        st.started = true;
        if (ec) {
          if (close_reason_.empty()) close_reason_ = ec == asio::error::eof ? "backend closed" : "backend read: " + ec.message();
          co_return false;
        }
        c = response_read(st.n, st);
        break;
      }
      case At::Stalled:
        co_return co_await backend_stalled();
      case At::Done:
        co_return true;
      case At::Malformed: {
        // Nothing of this response reached the client: a clean ERR instead.
        Bytes out;
        my::encode_err_packet(out, response_seq_, 1158, "08S01",
                              "segproxy: backend sent a malformed response (" + tracker_->error() + ")", client_caps_);
        co_await write_client(out);
        co_return false;
      }
      case At::Wal: {
        // Write-ahead (issue 14): bytes read now reach the client once every record of
        // what was forwarded before them is durable.
        const std::uint64_t needs = wal_answer_needs_;
        if (!co_await wal_wait(needs)) {
          st.withheld = true;
          break;
        }
        if (closed()) co_return false;
        c = response_send(st.n, st);
        break;
      }
      case At::TimedOut: {
        // statement_timeout: the client gets MySQL's own answer for it (ER_QUERY_TIMEOUT
        // 3024) instead of the server's generic "query execution was interrupted".
        Bytes out;
        my::encode_err_packet(out, response_seq_, 3024, "HY000",
                              "Query execution was interrupted, maximum statement execution time exceeded (segproxy "
                              "statement_timeout)",
                              client_caps_);
        co_return co_await write_client(out);
      }
      case At::WriteRest: {
        const asio::const_buffer out(buf.data(), st.n);
        error_code ec;
        co_await client_->finish_write(out, st.progress, ec);
        if (ec) {
          if (close_reason_.empty()) close_reason_ = "client write: " + ec.message();
          co_return false;
        }
        touch_idle();
        break;
      }
    }
    if (c == Chunk::Failed) co_return false;
    if (c == Chunk::Next) st.at = At::Read;  // Pending: the step set st.at
  }
}

MysqlSession::ResponseStep::Chunk MysqlSession::response_read(std::size_t n, ResponseStep& st) {
  using Chunk = ResponseStep::Chunk;
  bytes_from_backend_ += n;
  if (listener_metrics_ != nullptr) listener_metrics_->bytes(Direction::BackendToClient).inc(n);
  const auto chunk = std::span<const std::uint8_t>(response_buf_.data(), n);
  if (tracker_->feed(chunk, *this) == DecodeStatus::Malformed) {
    close_reason_ = "malformed backend response: " + tracker_->error();
    svc_.log.error("backend.protocol_violation", {{"session", id_text_}, {"error", tracker_->error()}});
    if (state_ != State::Awaiting) return Chunk::Failed;
    st.at = ResponseStep::At::Malformed;
    return Chunk::Pending;
  }
  if (state_ == State::Failed) return Chunk::Failed;
  if (st.withheld) return Chunk::Next;
  if (wal_ && wal_durable_ < wal_answer_needs_) {
    st.at = ResponseStep::At::Wal;
    st.n = n;
    return Chunk::Pending;
  }
  return response_send(n, st);
}

MysqlSession::ResponseStep::Chunk MysqlSession::response_send(std::size_t n, ResponseStep& st) {
  using Chunk = ResponseStep::Chunk;
  if (interrupt_ == Interrupt::TimedOut && state_ == State::Awaiting && tracker_->idle()) {
    st.at = ResponseStep::At::TimedOut;
    return Chunk::Pending;
  }
  if (state_ == State::Awaiting) state_ = State::Streaming;
  error_code ec;
  if (!client_->write_now(asio::const_buffer(response_buf_.data(), n), ec, st.progress)) {
    st.at = ResponseStep::At::WriteRest;
    st.n = n;
    return Chunk::Pending;
  }
  if (ec) {
    if (close_reason_.empty()) close_reason_ = "client write: " + ec.message();
    return Chunk::Failed;
  }
  touch_idle();
  return Chunk::Next;
}

// The proxy's own ROLLBACK on the backend, its response consumed here (not relayed) and
// followed by the tracker so the session's status flags stay current. Bounded by
// kRollbackWait (the session is closed when the backend does not answer). false: the
// session must end (the server rolls a closed connection's transaction back).
awaitable<bool> MysqlSession::rollback_backend() {
  struct Outcome final : my::ResponseEvents {
    bool done = false;
    bool error = false;
    my::ResponseSummary summary;
    std::string message;
    void on_response(const my::ResponseSummary& s) override {
      done = true;
      error = s.error;
      summary = s;
      if (s.error) message = std::to_string(s.err.code) + " " + s.err.message.substr(0, 256);
    }
  };
  Outcome outcome;
  static constexpr std::string_view kRollback = "ROLLBACK";
  const my::Command cmd = my::ComQuery{kRollback, 0};
  Bytes payload;
  my::encode_command(payload, cmd);
  Bytes framed;
  my::encode_message(framed, 0, payload);
  error_code ec;
  deadline_.arm(kRollbackWait);
  co_await backend_->write(asio::buffer(framed), ec);
  bool malformed = false;
  if (!ec) {
    tracker_->expect(cmd, 1);
    Bytes& buf = response_buf_;
    const BufferLease lease(backend_->buffers(), buf, kReadChunk);
    while (!tracker_->idle()) {
      const std::size_t n = co_await backend_->read_some(asio::buffer(buf.data(), kReadChunk), ec);
      if (ec) break;
      bytes_from_backend_ += n;
      if (tracker_->feed(std::span<const std::uint8_t>(buf.data(), n), outcome) == DecodeStatus::Malformed) {
        malformed = true;
        break;
      }
    }
  }
  deadline_.disarm();
  if (ec || malformed || !outcome.done || outcome.error) {
    const std::string why = ec ? "backend: " + ec.message()
                               : malformed ? "malformed backend response: " + tracker_->error() : outcome.message;
    svc_.log.error("transaction.rollback_failed", {{"session", id_text_}, {"protocol", "mysql"}, {"error", why}});
    if (close_reason_.empty()) close_reason_ = "rollback after a refused statement failed: " + why;
    co_return false;
  }
  wal_status(outcome.summary);  // the ROLLBACK's OK: a status for the write-ahead rule
  svc_.log.info("transaction.rolled_back", {{"session", id_text_},
                                            {"protocol", "mysql"},
                                            {"segment", segment_},
                                            {"reason", "a statement in the transaction was refused"}});
  co_return true;
}

void MysqlSession::on_response(const my::ResponseSummary& s) {
  wal_status(s);
  if (!s.error) {
    if (!pending_use_.empty()) database_ = pending_use_;
    if (s.schema) {
      // The backend reports the current database (session tracking): it must stay one of
      // the segment's (it can only change through USE / COM_INIT_DB, judged above).
      database_ = *s.schema;
    }
    if (s.prepared && pending_prepare_) prepared_[s.prepared->statement_id] = *pending_prepare_;
    if (s.prepared && pending_prepare_source_) prepared_source_[s.prepared->statement_id] = *pending_prepare_source_;
  }
  pending_use_.clear();
  pending_prepare_.reset();
  pending_prepare_source_.reset();
  if (interrupt_ == Interrupt::Killed && s.error && s.err.code == 1317) interrupt_ = Interrupt::TimedOut;  // ER_QUERY_INTERRUPTED
  if (seg_metrics_ != nullptr) {
    seg_metrics_->statement_duration().observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - command_start_).count());
  }
  const auto code = static_cast<my::CommandCode>(s.command);
  if (svc_.audit != nullptr && (code == my::CommandCode::Query || code == my::CommandCode::StmtExecute)) {
    const auto us = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - command_start_).count());
    std::string error;
    if (s.error) error = std::to_string(s.err.code) + " " + s.err.message.substr(0, 256);
    // Outcomes are folded (audit/result_fold.hpp): one statement.result per 32 commands
    // and at the session's end; they gate nothing.
    if (result_fold_.add(std::nullopt, s.rows != 0 ? s.rows : s.affected_rows, us, s.error ? s.err.sqlstate : "", error))
      audit_results();
  }
}

void MysqlSession::on_local_infile_request(std::string_view, std::uint8_t) {
  // CLIENT_LOCAL_FILES is never offered to the backend: a request is a protocol
  // violation. The chunk that carries it is not forwarded; the session ends.
  svc_.log.error("backend.local_infile_request", {{"session", id_text_}});
  close_reason_ = "the backend asked for a LOCAL INFILE (refused)";
  if (!closed()) state_ = State::Failed;
}

void MysqlSession::on_unsolicited_error(const my::ErrPacket& err) {
  svc_.log.warn("backend.unsolicited_error", {{"session", id_text_}, {"code", std::to_string(err.code)},
                                               {"error", err.message}});
}

}  // namespace segproxy::proxy
