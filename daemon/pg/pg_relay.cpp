// Relay phase of a PostgreSQL session. Protocol reference: PostgreSQL 15 docs 55.2.2
// (Simple Query), 55.2.3 (Extended Query), 55.2.6 (COPY), 55.2.8 (Termination).
#include <algorithm>
#include <cstring>
#include <exception>

#include "protocols/common/utf8.hpp"
#include "protocols/pg/encoder.hpp"
#include "protocols/pg/frontend_decoder.hpp"
#include "daemon/net/backend_connector.hpp"
#include "daemon/pg/pg_deny.hpp"
#include "daemon/pg/pg_session.hpp"
#include "daemon/metrics/proxy_metrics.hpp"

namespace segproxy::proxy {
namespace pg = protocols::pg;
using protocols::Bytes;
using protocols::DecodeStatus;

namespace {
constexpr std::size_t kReadChunk = 16 * 1024;
constexpr std::size_t kBackendChunk = 64 * 1024;
constexpr const char* kInvalidUtf8 = "segproxy: invalid byte sequence for encoding \"UTF8\" in the statement text";
constexpr const char* kLexingUnsettled =
    "segproxy: a statement that may change client_encoding or standard_conforming_strings was executed in this "
    "batch: send Sync before the next statement (the proxy judges statement text under the setting the server "
    "reports at ReadyForQuery)";
constexpr std::size_t kMaxLexingNames = 64;

// The SQL text of a Query or Parse is valid UTF-8 (other messages carry none).
bool statement_text_is_utf8(const protocols::pg::FrontendMessage& m) {
  if (const auto* q = std::get_if<protocols::pg::Query>(&m)) return protocols::is_valid_utf8(q->sql);
  if (const auto* p = std::get_if<protocols::pg::Parse>(&m)) return protocols::is_valid_utf8(p->query);
  return true;
}
}  // namespace

awaitable<bool> PgSession::fill_client_buffer(std::size_t frame_size) {
  error_code ec;
  if (cstart_ == cend_) {
    // Nothing buffered: the buffer goes back to the pool until there is something to read.
    cstart_ = cend_ = 0;
    client_->buffers().give_back(cbuf_);
    co_await client_->wait_readable(ec);
  } else if (cstart_ > 0) {
    std::memmove(cbuf_.data(), cbuf_.data() + cstart_, cend_ - cstart_);
    cend_ -= cstart_;
    cstart_ = 0;
  }
  std::size_t target = std::max(cend_ + kReadChunk, frame_size);
  if (!ec && cbuf_.empty()) cbuf_ = client_->buffers().take(target);
  if (cbuf_.size() < target) cbuf_.resize(target);
  std::size_t n = 0;
  if (!ec) n = co_await client_->read_some(asio::buffer(cbuf_.data() + cend_, cbuf_.size() - cend_), ec);
  if (ec) {
    if (close_reason_.empty()) close_reason_ = ec == asio::error::eof ? "client closed" : "client read: " + ec.message();
    co_return false;
  }
  cend_ += n;
  bytes_from_client_ += n;
  if (listener_metrics_ != nullptr) listener_metrics_->bytes(Direction::ClientToBackend).inc(n);
  if (backend_) touch_idle();  // relay phase only; startup has its own deadline
  co_return true;
}

void PgSession::touch_idle() {
  if (idle_timeout_.count() > 0) idle_.arm(idle_timeout_);
}

void PgSession::on_idle_expired() {
  // A statement still running is not idleness: the backend owes us an answer.
  if (outstanding_ > 0) {
    touch_idle();
    return;
  }
  close_reason_ = "idle timeout";
  if (seg_metrics_ != nullptr) seg_metrics_->limit_exceeded(LimitKind::IdleTimeout).inc();
  asio::co_spawn(client_->lowest().get_executor(),
                 terminate_with(shared_from_this(), "57P05", "terminating connection due to idle timeout (segproxy)"),
                 asio::detached);
}

awaitable<void> PgSession::terminate_with(std::shared_ptr<PgSession> self, std::string sqlstate, std::string message) {
  if (self->closed_) co_return;
  self->ending_ = true;
  // The client hears the FATAL first (as with pg_terminate_backend), and nothing after it.
  protocols::Bytes out;
  pg::encode_error_response(out, pg::ErrorInfo{"FATAL", sqlstate, message, "", ""});
  error_code ec;
  co_await self->write_client(asio::buffer(out), ec);
  // Whether a statement runs, and where to cancel it, before closing the client makes
  // the relay loop end (and close_all) underneath us.
  const bool running = self->outstanding_ > 0;
  const auto target = running ? self->svc_.cancels.find(self->backend_pid_, self->proxy_secret_) : std::nullopt;
  if (self->client_) self->client_->close();
  // Let every other termination queued on this thread (a revoke ends many sessions at
  // once) reach its client before backends are closed: a closing PostgreSQL backend
  // costs the server CPU that the remaining FATALs should not wait for.
  co_await asio::post(self->client_->lowest().get_executor(), use_awaitable);
  if (target) {
    // Stop the running statement too; closing our socket alone would leave it running.
    co_await send_backend_cancel(target->host, target->port, target->process_id, target->backend_secret,
                                 self->rt_->config.limits.backend_connect_timeout);
  }
  self->close_all();
}

void PgSession::schedule_window_close() {
  auto now = std::chrono::system_clock::now();
  auto end = rt_->policy->window_end(segment_, now);
  if (!end) return;
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(*end - now) + std::chrono::milliseconds(1);
  window_.arm(std::max(ms, std::chrono::milliseconds(1)));
}

void PgSession::on_window_closed() {
  auto now = std::chrono::system_clock::now();
  if (rt_->policy->check_window(segment_, now).allow) {
    if (gate_->window_grace()) {  // a window opened again during the grace: lift it
      gate_->set_window_grace(false);
      close_when_idle_ = false;
    }
    schedule_window_close();  // still (or again) inside a window: look again at its end
    return;
  }
  const auto* pol = rt_->policy->policy(segment_);
  std::string message = "terminating connection: segproxy access window for segment \"" + segment_ + "\" closed";
  if (gate_->window_grace()) {
    // Armed below: the open transaction did not end within window_close_grace.
    message += " and its window_close_grace ran out before the open transaction ended";
  } else if (pol != nullptr && pol->on_window_close == config::WindowClose::FinishTransaction &&
             (txn_status_ != 'I' || outstanding_ > 0)) {
    close_when_idle_ = true;  // terminate at the next ReadyForQuery outside a transaction
    gate_->set_window_grace(true);  // ...and let the transaction in progress end (COMMIT / ROLLBACK only)
    grace_statement_ok_ = false;
    grace_portal_ok_ = false;
    window_.arm(pol->window_close_grace);  // ...but not forever
    return;
  }
  close_reason_ = "access window closed";
  asio::co_spawn(client_->lowest().get_executor(), terminate_with(shared_from_this(), "57P01", std::move(message)),
                 asio::detached);
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
  if (!results_.empty()) on_result_message(type, body);
  if (type == 'G' || type == 'C' || type == 'E' || type == 'Z') frontend_state_.backend(type, body);
  if (type == 'Z') {
    if (auto st = pg::parse_ready_for_query(body)) txn_status_ = *st;
    if (outstanding_ > 0 && --outstanding_ == 0) idle_gate_.cancel();
    if (outstanding_ == 0 && txn_status_ == 'I') lexing_.txn_dirty = false;
    if (statement_timeout_.count() > 0) {
      if (outstanding_ == 0) statement_timer_.disarm();
      else statement_timer_.arm(statement_timeout_);  // the next pipelined request's turn
    }
    if (ddl_pending_ && txn_status_ == 'I') {
      ddl_pending_ = false;
      rt_->on_ddl();  // committed (or rolled back): the catalog now shows it
    }
    if (close_when_idle_ && outstanding_ == 0 && txn_status_ == 'I') {
      close_when_idle_ = false;
      close_reason_ = "access window closed";
      asio::co_spawn(client_->lowest().get_executor(),
                     terminate_with(shared_from_this(), "57P01",
                                    "terminating connection: segproxy access window for segment \"" + segment_ +
                                        "\" closed"),
                     asio::detached);
    }
  } else if (type == 'S') {
    if (auto ps = pg::parse_parameter_status(body)) gate_->on_parameter_status(ps->name, ps->value);
  } else if (type == 'E' && gate_->window_grace()) {
    // The backend refused something: whatever the unnamed statement or portal now is,
    // the proxy no longer knows it to be a COMMIT / ROLLBACK.
    grace_statement_ok_ = false;
    grace_portal_ok_ = false;
  }
}

awaitable<void> PgSession::backend_to_client() {
  Bytes buf;  // borrowed from the thread's pool while a response is in flight (issue 15)
  auto forward = [&](std::span<const std::uint8_t> data) -> awaitable<bool> {
    if (backend_stream_.feed(data, *this) == DecodeStatus::Malformed) {
      // Issue 12 item 4.4: the backend connection ends; the client gets what came before
      // the offending message and a clean FATAL 08P01 (when the message began in this
      // read; otherwise part of it is already relayed and the connection just closes).
      close_reason_ = "malformed backend message: " + backend_stream_.error();
      svc_.log.error("backend.protocol_violation", {{"session", id_text_}, {"error", backend_stream_.error()}});
      if (backend_) backend_->close();
      const std::size_t clean = backend_stream_.clean_prefix();
      if (clean != std::string::npos && clean <= data.size()) {
        Bytes out(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(clean));
        pg::encode_error_response(out, pg::ErrorInfo{"FATAL", "08P01", "segproxy: " + backend_stream_.error(), "", ""});
        error_code ec;
        co_await write_client(asio::buffer(out), ec);
      }
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
  BufferPool& pool = backend_->buffers();
  for (;;) {
    error_code ec;
    pool.give_back(buf);
    co_await backend_->wait_readable(ec);
    std::size_t n = 0;
    if (!ec) {
      buf = pool.take(kBackendChunk);
      n = co_await backend_->read_some(asio::buffer(buf.data(), kBackendChunk), ec);
    }
    if (ec) {
      if (close_reason_.empty()) close_reason_ = "backend closed";
      break;
    }
    bytes_from_backend_ += n;
    if (listener_metrics_ != nullptr) listener_metrics_->bytes(Direction::BackendToClient).inc(n);
    touch_idle();
    if (!co_await forward(std::span<const std::uint8_t>(buf.data(), n))) break;
  }
  pool.give_back(buf);
  close_all();
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

void PgSession::forward_raise(std::string_view sqlstate, std::string_view message, std::string_view detail) {
  Bytes q;
  pg::encode_frontend(q, pg::Query{pg_raise_statement(sqlstate, message, detail)});
  forward_owned(std::move(q));
}

void PgSession::deny(const GateVerdict& v, std::string_view kind) {
  svc_.log.info("statement.denied", {{"session", id_text_},
                                     {"identity", identity_.display()},
                                     {"segment", segment_},
                                     {"message", kind},
                                     {"command", v.command},
                                     {"rule", v.decision.rule_id},
                                     {"sqlstate", v.decision.sqlstate},
                                     {"reason", v.decision.reason}});
}

awaitable<bool> PgSession::flush_to_backend() {
  if (!batch_audit_.empty() && !co_await audit_durably()) refuse_batch_unaudited();
  batch_replies_ = 0;
  if (out_pieces_.empty()) co_return true;
  error_code ec;
  co_await backend_->write(out_pieces_, ec);
  out_pieces_.clear();
  out_owned_.clear();
  if (ec && close_reason_.empty()) close_reason_ = "backend write: " + ec.message();
  co_return !ec;
}

// The one place where a client frame's fate is decided. Refusals are raised by the
// backend itself (pg_deny.hpp), so their order and transaction effects are PostgreSQL's.
PgSession::Next PgSession::on_client_message(const pg::FrontendMessage& msg, std::span<const std::uint8_t> frame) {
  if (ending_) return Next::Stop;  // terminated (revoke, kill, reload): nothing more goes through
  auto raise_instead = [&](const authz::Decision& d) {
    forward_raise(d.sqlstate.empty() ? "42501" : d.sqlstate, d.reason,
                  d.rule_id.empty() ? std::string() : "rule: " + d.rule_id);
    note_forwarded(pg::Query{});  // the raise is a Query to the backend
    request_sent();
    ++batch_replies_;
    expect_result();
  };

  if (discarding_) {
    // Like a server after an error in extended protocol: everything up to Sync is
    // ignored; the Sync itself becomes the raised refusal (which ends with ReadyForQuery).
    if (std::holds_alternative<pg::Sync>(msg)) {
      discarding_ = false;
      raise_instead(pending_refusal_);
      settle_lexing();
    } else if (std::holds_alternative<pg::Terminate>(msg)) {
      forward(frame);
      close_reason_ = "client terminated";
      return Next::Stop;
    }
    return Next::Continue;
  }

  // Protocol state the backend must not be left to judge (issue 12 item 4.5): stray COPY
  // messages are dropped (PostgreSQL ignores them too), names this session never created
  // and statement text that is not UTF-8 are refused like a policy denial.
  if (const auto st = frontend_state_.check(msg); st.action != pg::FrontendCheck::Action::Forward) {
    if (st.action == pg::FrontendCheck::Action::Drop) return Next::Continue;
    refuse_protocol_state(msg, authz::Decision{false, "", st.message, st.sqlstate});
    if (std::holds_alternative<pg::Query>(msg)) raise_instead(pending_refusal_);
    return Next::Continue;
  }
  // Statement text must be UTF-8 while client_encoding is UTF8 (text in another
  // client_encoding is converted for the classifier, which refuses invalid sequences
  // with 22021 too: authz/sql/pg_lexing.hpp).
  if (gate_->client_encoding_utf8() && !statement_text_is_utf8(msg)) {
    refuse_protocol_state(msg, authz::Decision{false, "", kInvalidUtf8, "22021"});
    if (std::holds_alternative<pg::Query>(msg)) raise_instead(pending_refusal_);
    return Next::Continue;
  }

  if (lexing_.unsettled && (std::holds_alternative<pg::Query>(msg) || std::holds_alternative<pg::Parse>(msg) ||
                            std::holds_alternative<pg::FunctionCall>(msg))) {
    refuse_protocol_state(msg, authz::Decision{false, "", kLexingUnsettled, "0A000"});
    if (std::holds_alternative<pg::Query>(msg)) {
      raise_instead(pending_refusal_);
      settle_lexing();  // the Query ends the batch: its ReadyForQuery carries the setting
    }
    return Next::Continue;
  }

  if (const auto* q = std::get_if<pg::Query>(&msg)) {
    const auto t0 = std::chrono::steady_clock::now();
    GateVerdict v = gate_->check(q->sql, std::chrono::system_clock::now());
    observe_policy(t0);
    const std::string_view shown = v.audit_text.empty() ? std::string_view(q->sql) : std::string_view(v.audit_text);
    audit_decision(v, shown);
    note_statement(shown);
    if (v.decision.allow) {
      ddl_pending_ = ddl_pending_ || v.ddl;
      if (may_change_lexing(v)) {
        lexing_.txn_dirty = lexing_.txn_dirty || v.changes_lexing;
        lexing_.hold = true;
      }
      forward(frame);
      note_forwarded(msg);
      request_sent();
      ++batch_replies_;
      expect_result();
    } else {
      deny(v, "Query");
      raise_instead(v.decision);
    }
    return Next::Continue;
  }
  if (const auto* p = std::get_if<pg::Parse>(&msg)) {
    const auto t0 = std::chrono::steady_clock::now();
    GateVerdict v = gate_->check(p->query, std::chrono::system_clock::now());
    observe_policy(t0);
    const std::string_view shown = v.audit_text.empty() ? std::string_view(p->query) : std::string_view(v.audit_text);
    audit_decision(v, shown);
    note_statement(shown);
    if (v.decision.allow && may_change_lexing(v) && !lexing_.statements.count(p->statement) &&
        lexing_.statements.size() >= kMaxLexingNames) {
      v.decision = authz::Decision{false, "", "segproxy: too many prepared statements that change lexing settings", "0A000"};
    }
    if (v.decision.allow) {
      ddl_pending_ = ddl_pending_ || v.ddl;
      if (may_change_lexing(v)) lexing_.statements.emplace(p->statement);
      else if (auto it = lexing_.statements.find(p->statement); it != lexing_.statements.end()) lexing_.statements.erase(it);
      if (gate_->window_grace() && p->statement.empty()) grace_statement_ok_ = true;  // COMMIT / ROLLBACK
      forward(frame);
      note_forwarded(msg);
    } else {
      deny(v, "Parse");
      discarding_ = true;
      pending_refusal_ = v.decision;
    }
    return Next::Continue;
  }
  if (const auto* b = std::get_if<pg::Bind>(&msg)) {
    // Bound to a statement that may change lexing: its Execute unsettles the batch.
    if (lexing_.statements.count(b->statement)) {
      if (!lexing_.portals.count(b->portal) && lexing_.portals.size() >= kMaxLexingNames) {
        refuse_protocol_state(msg, authz::Decision{false, "", "segproxy: too many portals bound to statements that "
                                                              "change lexing settings", "0A000"});
        return Next::Continue;
      }
      lexing_.portals.emplace(b->portal);
    } else if (auto it = lexing_.portals.find(b->portal); it != lexing_.portals.end()) {
      lexing_.portals.erase(it);
    }
  }
  if (const auto* b = std::get_if<pg::Bind>(&msg); b != nullptr && gate_->window_grace()) {
    if (b->portal.empty()) grace_portal_ok_ = b->statement.empty() && grace_statement_ok_;
    forward(frame);
    note_forwarded(msg);
    return Next::Continue;
  }
  if (const auto* e = std::get_if<pg::Execute>(&msg)) {
    auto w = gate_->check_window(std::chrono::system_clock::now());  // the statement itself was checked at Parse
    if (w.allow && gate_->window_grace() && !(e->portal.empty() && grace_portal_ok_)) w = gate_->grace_refusal();
    if (w.allow) {
      forward(frame);
      if (lexing_.portals.count(e->portal)) {
        lexing_.unsettled = true;
        lexing_.txn_dirty = true;
      }
    } else {
      GateVerdict v;
      v.decision = w;
      v.command = "EXECUTE";
      audit_decision(v, "");
      deny(v, "Execute");
      discarding_ = true;
      pending_refusal_ = w;
    }
    return Next::Continue;
  }
  if (std::holds_alternative<pg::Sync>(msg)) {
    forward(frame);
    request_sent();
    ++batch_replies_;
    expect_result();
    settle_lexing();
    return Next::Continue;
  }
  if (std::holds_alternative<pg::Terminate>(msg)) {
    forward(frame);
    close_reason_ = "client terminated";
    return Next::Stop;
  }
  if (const auto* fc = std::get_if<pg::FunctionCall>(&msg)) {
    // Fast-path call (large objects): judged as a call of the function its OID names.
    const auto t0 = std::chrono::steady_clock::now();
    GateVerdict v = gate_->check_function_call(fc->function_oid, std::chrono::system_clock::now());
    observe_policy(t0);
    const std::string shown = "-- fast-path function call: OID " + std::to_string(fc->function_oid);
    audit_decision(v, shown);
    note_statement(shown);
    if (v.decision.allow) {
      forward(frame);
      request_sent();
      ++batch_replies_;
      expect_result();
    } else {
      deny(v, "FunctionCall");
      raise_instead(v.decision);
    }
    return Next::Continue;
  }
  if (std::holds_alternative<pg::PasswordMessage>(msg)) {
    close_reason_ = "password message after authentication";
    return Next::StopUnexpectedPassword;
  }
  forward(frame);  // Bind, Describe, Close, Flush, CopyData, CopyDone, CopyFail
  note_forwarded(msg);
  return Next::Continue;
}

// An extended-protocol message (or Query) refused for protocol state, not policy: like a
// denial, recorded, and answered in order by the backend (discard until Sync; a Query
// is replaced by the raise by the caller).
void PgSession::refuse_protocol_state(const pg::FrontendMessage& msg, authz::Decision d) {
  GateVerdict v;
  v.decision = std::move(d);
  v.command = std::holds_alternative<pg::Query>(msg)   ? "QUERY"
              : std::holds_alternative<pg::Parse>(msg) ? "PARSE"
              : std::holds_alternative<pg::Bind>(msg)  ? "BIND"
              : std::holds_alternative<pg::Execute>(msg) ? "EXECUTE"
                                                         : "DESCRIBE";
  audit_decision(v, "");
  deny(v, v.command);
  pending_refusal_ = v.decision;
  discarding_ = !std::holds_alternative<pg::Query>(msg);
}

// Decodes every complete client frame in the buffer, decides each, and writes the
// result to the backend in one write.
awaitable<PgSession::Next> PgSession::client_frames() {
  // A decodable (or undecodable) frame already buffered, e.g. a Query pipelined right
  // behind the StartupMessage, is processed now: reading first would wait for bytes the
  // client may never send. The buffer grows only to a size whose header was checked
  // (frontend_frame_size is 0 for a header decode_frontend rejects).
  const auto span = pending();
  const std::size_t frame_size = pg::frontend_frame_size(span, rt_->limits);
  const bool process_buffered = span.size() >= 5 && (frame_size == 0 || span.size() >= frame_size);
  if (!process_buffered && !co_await fill_client_buffer(frame_size)) co_return Next::Stop;

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
    std::span<const std::uint8_t> frame(cbuf_.data() + cstart_, d.consumed);
    cstart_ += d.consumed;
    next = on_client_message(d.value, frame);
    if (lexing_.hold) break;  // the frames behind it stay buffered until the backend has answered
  }
  if (next == Next::StopUnexpectedPassword) {
    Bytes out;
    pg::encode_error_response(out, pg::ErrorInfo{"FATAL", "08P01", "segproxy: unexpected password message", "", ""});
    error_code ec;
    co_await write_client(asio::buffer(out), ec);
    co_return Next::Stop;
  }
  if (!co_await flush_to_backend()) co_return Next::Stop;
  if (lexing_.hold) {
    // A lexing setting may have changed: the next frame is judged under the value the
    // backend reports (ParameterStatus before ReadyForQuery, read by pump_backend).
    lexing_.hold = false;
    co_await wait_backend_idle();
  }
  co_return next;
}

// A Query, or an Execute of a statement, that may change how the server lexes: SET /
// RESET of client_encoding or standard_conforming_strings, RESET ALL, DISCARD ALL, and,
// once such a change ran in the open transaction, transaction control (a ROLLBACK [TO
// SAVEPOINT] reverts it).
bool PgSession::may_change_lexing(const GateVerdict& v) const {
  return v.changes_lexing || (lexing_.txn_dirty && v.transaction_control);
}

// The batch ends (Sync, or a Query standing in for it): after an Execute that may have
// changed lexing, the frames behind it wait for the backend's ReadyForQuery.
void PgSession::settle_lexing() {
  if (!lexing_.unsettled) return;
  lexing_.unsettled = false;
  lexing_.hold = true;
}

awaitable<void> PgSession::relay() {
  write_gate_.expires_at(asio::steady_timer::time_point::max());
  idle_gate_.expires_at(asio::steady_timer::time_point::max());
  auto self = shared_from_this();
  if (std::string why = apply_pending_runtime(); !why.empty()) {
    std::string message = "terminating connection: segproxy configuration reloaded: " + why;
    close_reason_ = message;
    co_await terminate_with(self, "57P01", std::move(message));
    co_return;
  }
  touch_idle();
  schedule_window_close();
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
  // A termination in progress (terminate_with, spawned) sends its FATAL before we close:
  // the read that saw ending_ can complete first (a TLS read takes one step now).
  if (ending_ && !closed_) co_await asio::post(ex, use_awaitable);
  close_all();
}

}  // namespace segproxy::proxy
