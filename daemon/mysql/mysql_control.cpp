// MySQL session: audit records, timers, the operator's reach (terminate, state, reload).
#include <algorithm>

#include "audit/statement_text.hpp"
#include "protocols/mysql/framer.hpp"
#include "protocols/mysql/packets.hpp"
#include "daemon/mysql/mysql_errors.hpp"
#include "daemon/mysql/mysql_session.hpp"
#include "daemon/metrics/proxy_metrics.hpp"
#include "daemon/session/session_audit.hpp"

namespace segproxy::proxy {
namespace my = protocols::mysql;
using protocols::Bytes;

namespace {
constexpr std::chrono::seconds kAuditWait{10};
}  // namespace

audit::AuditRecord MysqlSession::audit_record(const char* event) const {
  return session_audit_record(event, SessionAuditFields{id_text_, listener_->cfg->name, "mysql", client_addr_, identity_,
                                                         segment_, database_, backend_user_});
}

void MysqlSession::audit_now(audit::AuditRecord r) {
  if (svc_.audit != nullptr) svc_.audit->submit_deferred(std::move(r), [](bool) {});  // written with the next batch
}

void MysqlSession::audit_results() {
  if (svc_.audit == nullptr || result_fold_.empty()) return;
  audit::AuditRecord rec = audit_record("statement.result");
  result_fold_.take(rec);
  audit_now(std::move(rec));
}

awaitable<bool> MysqlSession::audit_durably(audit::AuditRecord r) {
  if (svc_.audit == nullptr) co_return true;
  struct Wait {
    explicit Wait(asio::any_io_executor ex) : timer(std::move(ex)) {}
    asio::steady_timer timer;
    bool done = false;
    bool ok = false;
  };
  auto ex = client_->lowest().get_executor();
  auto w = std::make_shared<Wait>(ex);
  w->timer.expires_after(kAuditWait);
  svc_.audit->submit_deferred(std::move(r), [w, ex](bool ok) {
    asio::post(ex, [w, ok] {
      w->ok = ok;
      w->done = true;
      w->timer.cancel();
    });
  });
  asio::post(ex, [sink = svc_.audit] { sink->lead(); });  // starts the batch (AuditSink::lead)
  while (!w->done) {
    error_code ec;
    co_await w->timer.async_wait(asio::redirect_error(use_awaitable, ec));
    if (!ec) {
      svc_.log.error("audit.timeout", {{"session", id_text_}});
      co_return false;
    }
  }
  co_return w->ok;
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

void MysqlSession::close_all() {
  if (closed_) return;
  closed_ = true;
  deadline_.disarm();
  idle_.disarm();
  window_.disarm();
  statement_timer_.disarm();
  if (client_) client_->close();
  if (backend_) backend_->close();
}

void MysqlSession::touch_idle() {
  if (idle_timeout_.count() > 0) idle_.arm(idle_timeout_);
}

void MysqlSession::on_idle_expired() {
  if (in_command_) {
    touch_idle();
    return;
  }
  if (seg_metrics_ != nullptr) seg_metrics_->limit_exceeded(LimitKind::IdleTimeout).inc();
  close_reason_ = "idle timeout";
  asio::co_spawn(client_->lowest().get_executor(),
                 terminate_with(shared_from_this(), 4031, "HY000",
                                "segproxy: the client was disconnected for inactivity (idle_timeout)"),
                 asio::detached);
}

// statement_timeout: the running statement is killed on the backend (KILL QUERY from a
// fresh connection of the same backend user); the backend then answers the command
// with its own "query interrupted" error and the session stays usable.
void MysqlSession::on_statement_timeout() {
  if (!in_command_ || closed_) return;
  svc_.log.warn("session.statement_timeout", {{"session", id_text_},
                                              {"protocol", "mysql"},
                                              {"segment", segment_},
                                              {"timeout_ms", std::to_string(statement_timeout_.count())}});
  if (seg_metrics_ != nullptr) seg_metrics_->limit_exceeded(LimitKind::StatementTimeout).inc();
  statement_timed_out_ = true;
  if (login_request().password == nullptr) return;
  asio::co_spawn(client_->lowest().get_executor(),
                 mysql_kill_query(listener_->cfg->backend.endpoint, login_request(), connection_id_), asio::detached);
}

void MysqlSession::schedule_window_close() {
  auto now = std::chrono::system_clock::now();
  auto end = rt_->policy->window_end(segment_, now);
  if (!end) return;
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(*end - now) + std::chrono::milliseconds(1);
  window_.arm(std::max(ms, std::chrono::milliseconds(1)));
}

void MysqlSession::on_window_closed() {
  auto now = std::chrono::system_clock::now();
  if (rt_->policy->check_window(segment_, now).allow) {
    schedule_window_close();
    return;
  }
  close_reason_ = "access window closed";
  terminate("57P01", "segproxy access window for segment \"" + segment_ + "\" closed", "session.close");
}

void MysqlSession::terminate(std::string code, std::string message, std::string event) {
  (void)code;
  if (closed_ || ending_) return;
  ending_ = true;
  if (close_reason_.empty()) close_reason_ = message;
  if (event != "session.close" && opened_) {
    audit::AuditRecord rec = audit_record(event.c_str());
    rec.reason = message;
    audit_now(std::move(rec));
  }
  if (!backend_ || !tracker_) {
    close_all();
    return;
  }
  asio::co_spawn(client_->lowest().get_executor(),
                 terminate_with(shared_from_this(), ER_CONNECTION_KILLED, "70100", std::move(message)), asio::detached);
}

// ERR then close (as a server does for KILL CONNECTION): when a command is waiting for
// its response and none of it was sent yet, the ERR is that response; an idle client
// gets it as an unsolicited ERR (sequence id 0). A statement still running on the
// backend is killed there too.
awaitable<void> MysqlSession::terminate_with(std::shared_ptr<MysqlSession> self, std::uint16_t code, std::string sqlstate,
                                             std::string message) {
  if (self->closed_) co_return;
  self->ending_ = true;
  const bool running = self->in_command_;
  if (!running || !self->response_started_) {
    Bytes out;
    my::encode_err_packet(out, running ? self->response_seq_ : 0, code, sqlstate, message, self->client_caps_);
    error_code ec;
    co_await self->client_->write(asio::buffer(out), ec);
  }
  // Captured before closing the client lets the command loop end underneath us.
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
  s.active = in_command_;
  s.bytes_in = bytes_from_client_;
  s.bytes_out = bytes_from_backend_;
  return s;
}

std::string MysqlSession::misfit(const Runtime& rt) const {
  auto match = rt.mapper->map(identity_);
  if (!match) return "identity \"" + identity_.display() + "\" is no longer mapped to any segment";
  if (match->segment != segment_) {
    return "identity \"" + identity_.display() + "\" now maps to segment \"" + match->segment + "\"; reconnect";
  }
  auto seg = rt.config.segments.find(segment_);
  if (seg == rt.config.segments.end()) return "segment \"" + segment_ + "\" no longer exists";
  const auto& dbs = seg->second.databases;
  if (!database_.empty() && std::find(dbs.begin(), dbs.end(), database_) == dbs.end()) {
    return "database \"" + database_ + "\" is no longer permitted for segment \"" + segment_ + "\"";
  }
  const auto* cred = rt.credentials->find(segment_, listener_->cfg->name);
  if (cred == nullptr || cred->is_dynamic() != minted_.has_value() || (!minted_ && cred->user != backend_user_)) {
    return "the backend credential of segment \"" + segment_ + "\" changed";
  }
  return {};
}

void MysqlSession::adopt(std::shared_ptr<const Runtime> rt) {
  if (closed_ || ending_) return;
  if (!tracker_) {
    // Still starting: it finishes under the runtime it began with, then adopts this one
    // before its first command (command_loop).
    pending_rt_ = std::move(rt);
    return;
  }
  if (const std::string why = misfit(*rt); !why.empty()) {
    terminate("57P01", "segproxy configuration reloaded: " + why, "session.close");
    return;
  }
  const ListenerRuntime* next_listener = nullptr;
  for (const auto& l : rt->listeners) {
    if (l.cfg->name == listener_->cfg->name) next_listener = &l;
  }
  if (next_listener == nullptr) {
    terminate("57P01", "segproxy configuration reloaded: listener removed", "session.close");
    return;
  }
  rt_ = std::move(rt);
  listener_ = next_listener;
  cache_.clear();  // decisions of the old policy
  // SQL-level PREPAREs were judged under the old policy and their text is not kept: the
  // names are forgotten, so an EXECUTE of one is refused (fail closed) until the client
  // PREPAREs it again, which is judged under the new policy. (COM_STMT_PREPARE ids keep
  // their text and are judged again at COM_STMT_EXECUTE.)
  sql_prepared_.clear();
  sql_options_.limits = rt_->statement_limits;
  const auto& lim = rt_->config.segments.at(segment_).limits;
  statement_timeout_ = lim.statement_timeout;
  idle_timeout_ = lim.idle_timeout ? *lim.idle_timeout : rt_->config.limits.idle_timeout;
  touch_idle();
  window_.disarm();
  schedule_window_close();
}

}  // namespace segproxy::proxy
