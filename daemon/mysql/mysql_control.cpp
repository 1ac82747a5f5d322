// MySQL session: audit records, timers, the operator's reach (terminate, state, reload).
#include <algorithm>

#include "audit/statement_text.hpp"
#include "protocols/mysql/framer.hpp"
#include "protocols/mysql/packets.hpp"
#include "authz/gate/mysql_errors.hpp"
#include "daemon/mysql/mysql_session.hpp"
#include "daemon/metrics/proxy_metrics.hpp"
#include "daemon/session/window_close.hpp"
#include "daemon/session/runtime_fit.hpp"
#include "daemon/session/audit_waiter.hpp"
#include "daemon/session/session_audit.hpp"

namespace segproxy::proxy {
namespace my = protocols::mysql;
using protocols::Bytes;

audit::AuditRecord MysqlSession::audit_record(const char* event) const {
  return session_audit_record(event, SessionAuditFields{id_text_, listener_->cfg->name, "mysql", client_addr_, identity(),
                                                         segment_, database_, backend_user_});
}

void MysqlSession::audit_now(audit::AuditRecord r) {
  if (svc_.audit != nullptr) svc_.audit->submit_deferred(std::move(r), [](bool) {});  // written with the next batch
}

void MysqlSession::audit_results() {
  if (svc_.audit == nullptr || result_fold_.empty()) return;
  audit::AuditRecord rec = audit_record("statement.result");
  result_fold_.take(rec);
  svc_.audit->append(rec);  // outcomes gate nothing: appended, never waited for
}

awaitable<bool> MysqlSession::audit_durably(audit::AuditRecord r) {
  if (svc_.audit == nullptr) co_return true;
  auto ex = client_->lowest().get_executor();
  co_return co_await write_durably(*svc_.audit, svc_.audit_waiter, ex, std::move(r));
}

MysqlLoginRequest MysqlSession::login_request() const {
  MysqlLoginRequest req;
  req.tls = listener_->backend_tls.get();
  req.server_name = listener_->cfg->backend.tls.server_name.empty() ? listener_->cfg->backend.endpoint.host
                                                                     : listener_->cfg->backend.tls.server_name;
  req.auth = &listener_->cfg->backend.auth;
  req.user = backend_user_;
  if (minted_) req.password = &minted_->password->reveal();  // dynamic credential
  else if (const auto* cred = rt_->credentials->find(segment_, listener_->cfg->name)) req.password = &cred->password.reveal();
  req.timeout = rt_->config.limits.backend_connect_timeout;
  req.limits = &rt_->limits;
  return req;
}

void MysqlSession::evict() {
  if (state_ != State::Starting || opened_) return;  // logged in meanwhile, or closed
  evicted_ = true;
  close_all(State::Expired);
}

void MysqlSession::close_all(State final_state) {
  if (closed()) return;
  state_ = final_state;
  for (Deadline* timer : {&deadline_, &idle_, &window_, &statement_timer_, &backend_stall_}) timer->disarm();
  for (Stream* stream : {client_.get(), backend_.get()}) {
    if (stream != nullptr) stream->close();
  }
}

void MysqlSession::touch_idle() {
  if (idle_timeout_.count() > 0) idle_.arm(idle_timeout_);
}

void MysqlSession::on_idle_expired() {
  if (command_running()) {
    touch_idle();
    return;
  }
  if (state_ != State::Idle) return;
  if (seg_metrics_ != nullptr) seg_metrics_->limit_exceeded(LimitKind::IdleTimeout).inc();
  close_reason_ = "idle timeout";
  state_ = State::Ending;
  asio::co_spawn(client_->lowest().get_executor(),
                 terminate_with(shared_from_this(), State::Idle, 4031, "HY000",
                                "segproxy: the client was disconnected for inactivity (idle_timeout)"),
                 asio::detached);
}

// statement_timeout: the running statement is killed on the backend (KILL QUERY from a
// fresh connection of the same backend user); the backend then answers the command
// with its own "query interrupted" error and the session stays usable.
void MysqlSession::on_statement_timeout() {
  if (!command_running()) return;
  svc_.log.warn("session.statement_timeout", {{"session", id_text_},
                                              {"protocol", "mysql"},
                                              {"segment", segment_},
                                              {"timeout_ms", std::to_string(statement_timeout_.count())}});
  if (seg_metrics_ != nullptr) seg_metrics_->limit_exceeded(LimitKind::StatementTimeout).inc();
  interrupt_ = Interrupt::Killed;
  if (login_request().password == nullptr) return;
  asio::co_spawn(client_->lowest().get_executor(),
                 mysql_kill_query(listener_->cfg->backend.endpoint, login_request(), connection_id_), asio::detached);
}

void MysqlSession::schedule_window_close() {
  if (const auto delay = window_close_delay(*rt_->policy, segment_)) window_.arm(*delay);
}

void MysqlSession::on_window_closed() {
  auto now = std::chrono::system_clock::now();
  if (rt_->policy->check_window(segment_, now).allow) {
    schedule_window_close();
    return;
  }
  close_reason_ = "access window closed";
  terminate("57P01", "segproxy access window for segment \"" + segment_ + "\" closed", Termination::Close);
}

void MysqlSession::terminate(std::string code, std::string message, Termination why) {
  (void)code;
  if (state_ == State::Ending || closed()) return;
  const State was = state_;
  state_ = State::Ending;
  if (close_reason_.empty()) close_reason_ = message;
  if (why == Termination::Revoked && opened_) {
    audit::AuditRecord rec = audit_record(audit_event(why));
    rec.reason = message;
    audit_now(std::move(rec));
  }
  if (!backend_ || !tracker_) {  // before the backend login: nobody to answer
    close_all();
    return;
  }
  asio::co_spawn(client_->lowest().get_executor(),
                 terminate_with(shared_from_this(), was, ER_CONNECTION_KILLED, "70100", std::move(message)),
                 asio::detached);
}

// ERR then close (as a server does for KILL CONNECTION): when a command is waiting for
// its response and none of it was sent yet, the ERR is that response; an idle client
// gets it as an unsolicited ERR (sequence id 0). A statement still running on the
// backend is killed there too.
awaitable<void> MysqlSession::terminate_with(std::shared_ptr<MysqlSession> self, State was, std::uint16_t code,
                                             std::string sqlstate, std::string message) {
  if (self->closed()) co_return;
  const bool running = was == State::Awaiting || was == State::Streaming;
  if (was != State::Streaming) {
    Bytes out;
    my::encode_err_packet(out, running ? self->response_seq_ : 0, code, sqlstate, message, self->client_caps_);
    error_code ec;
    co_await self->client_->write(asio::buffer(out), ec);
  }
  // Captured before closing the client lets the command phase end underneath us.
  const MysqlLoginRequest kill = self->login_request();
  const config::Endpoint backend = self->listener_->cfg->backend.endpoint;
  if (self->client_) self->client_->close();
  co_await asio::post(self->client_->lowest().get_executor(), use_awaitable);
  if (running && kill.password != nullptr) {
    co_await mysql_kill_query(backend, kill, self->connection_id_);
  }
  self->close_all();
}

SessionState MysqlSession::state() const {
  SessionState s;
  if (!current_sql_.empty()) s.current_statement = audit::normalize_statement(current_sql_, "mysql");
  s.active = command_running();
  s.bytes_in = bytes_from_client_;
  s.bytes_out = bytes_from_backend_;
  return s;
}

std::string MysqlSession::misfit(const Runtime& rt) const {
  return runtime_misfit(rt, {identity(), segment_, database_, listener_->cfg->name, backend_user_, minted_.has_value()});
}

void MysqlSession::adopt(std::shared_ptr<const Runtime> rt) {
  if (state_ != State::Starting && state_ != State::Idle && !command_running()) return;
  if (state_ == State::Starting) {
    // Still starting: it finishes under the runtime it began with, then adopts this one
    // before its first command (command_phase).
    pending_rt_ = std::move(rt);
    return;
  }
  if (const std::string why = misfit(*rt); !why.empty()) {
    terminate("57P01", "segproxy configuration reloaded: " + why, Termination::Close);
    return;
  }
  wal_catalog_.reset();  // it refers into the old Runtime's catalogs: let go before the Runtime goes
  if (!adopt_runtime(rt_, listener_, std::move(rt))) {  // runtime_misfit checked it; never adopt without one
    terminate("57P01", "segproxy configuration reloaded: listener gone", Termination::Close);
    return;
  }
  // Cached decisions of the old policy go; SQL-level PREPARE names are forgotten (an
  // EXECUTE of one is refused until PREPAREd again, under the new policy; mysql_gate.hpp).
  // COM_STMT_PREPARE ids keep their text and are judged again at COM_STMT_EXECUTE.
  gate_->rebind(*rt_->policy, rt_->config.segments.at(segment_).databases, rt_->statement_limits);
  const auto& lim = rt_->config.segments.at(segment_).limits;
  statement_timeout_ = lim.statement_timeout;
  idle_timeout_ = lim.idle_timeout ? *lim.idle_timeout : rt_->config.limits.idle_timeout;
  touch_idle();
  window_.disarm();
  schedule_window_close();
}

}  // namespace segproxy::proxy
