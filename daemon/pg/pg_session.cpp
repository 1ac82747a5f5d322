// Lifecycle of a PostgreSQL session: construction, the state dispatch over the phases,
// termination (LiveSession::terminate, and the session's own: idle, window, reload) and
// closing. Protocol reference: PostgreSQL 15 docs 55.2 "Message Flow", 55.2.8 (Termination).
#include "daemon/pg/pg_session.hpp"
#include "daemon/pg/pg_verdict_scratch.hpp"
#include "daemon/pg/pg_wal_state.hpp"

#include "protocols/pg/encoder.hpp"
#include "daemon/metrics/proxy_metrics.hpp"
#include "daemon/net/backend_connector.hpp"
#include "daemon/session/handshake_eviction.hpp"
#include "daemon/session/session_audit.hpp"
#include "daemon/session/session_presence.hpp"
#include "daemon/session/session_registry.hpp"

namespace segproxy::proxy {
namespace pg = protocols::pg;

PgSession::PgSession(tcp::socket client, std::shared_ptr<const Runtime> rt, std::size_t listener_index,
                     Services services)
    : rt_(std::move(rt)),
      first_rt_(rt_),
      listener_(&rt_->listeners.at(listener_index)),
      svc_(services),
      id_(services.next_session_id.fetch_add(1) + 1),
      id_text_(std::to_string(id_)),
      started_(std::chrono::steady_clock::now()),
      deadlines_(client.get_executor()),
      deadline_(deadlines_, this, [](PgSession& s) { s.close_all(State::TimedOut); }),
      idle_(deadlines_, this, [](PgSession& s) { s.on_idle_expired(); }),
      window_(deadlines_, this, [](PgSession& s) { s.on_window_closed(); }),
      statement_timer_(deadlines_, this, [](PgSession& s) { s.on_statement_timeout(); }),
      backend_stall_(deadlines_, this,
                     [](PgSession& s) {
                       s.backend_stalled_ = true;
                       if (s.backend_) s.backend_->close();  // backend_to_client ends with a FATAL 08006
                     }),
      backend_stream_(rt_->limits, pg::BackendCheck::Structure) {
  client_addr_ = client_arrived(client, svc_, listener_->cfg->name, listener_metrics_);
  client_ = std::make_unique<Stream>(std::move(client));
  verdict_ = &PgVerdictScratch::of(client_->lowest().get_executor()).verdict;
}

PgSession::~PgSession() {
  if (cancel_registered_) svc_.cancels.remove(backend_pid_, proxy_secret_);
  client_departed(svc_, id_, listener_metrics_, seg_metrics_);
}

// Not a coroutine: run_phases' frame holds `self` (one frame less per session, issue 15).
awaitable<void> PgSession::run(std::shared_ptr<PgSession> self) {
  PgSession& s = *self;
  return s.run_phases(std::move(self));
}

// The phase dispatch: one handler per state until the session is closed. A phase that
// fails closes the session; one that succeeds moves to the next state unless something
// else (terminate, the deadline) moved the session meanwhile.
awaitable<void> PgSession::run_phases(std::shared_ptr<PgSession> self) {
  [this, &self] {  // not in the coroutine frame (see the epilogue)
    if (svc_.registry != nullptr) svc_.registry->add(id_, self, client_->lowest().get_executor());
    arm_handshake_eviction(svc_, self, client_->lowest().get_executor());
    svc_.log.debug("session.accept",
                   {{"session", id_text_}, {"listener", listener_->cfg->name}, {"client", client_addr_}});
  }();
  while (!closed()) {
    switch (state_) {
      case State::Negotiating:
        if (!co_await negotiate()) close_all();
        else advance(State::Negotiating, State::Starting);
        break;
      case State::Starting:
        if (!co_await startup()) close_all();
        else advance(State::Starting, State::Relaying);
        break;
      case State::Relaying:
      case State::Discarding:
      case State::Ending:  // terminated right after login: relay() stops at once
        co_await relay();
        close_all();
        break;
      case State::Closed:
      case State::TimedOut:
        break;
    }
  }
  // The epilogue runs in a plain function: GCC keeps every local of a coroutine (here an
  // AuditRecord and the log fields) in its frame for the session's whole life, ~1.1 KiB
  // per idle session (issue 15).
  [this] {
    if (state_ == State::TimedOut && backend_pid_ == 0 && evicted_) {
      // Counted by the accept loop (handshake_evicted) when it made the room.
      audit_prelogin("handshake_evicted", "evicted for a connection from a lighter address at limits.max_concurrent_handshakes");
    } else if (state_ == State::TimedOut && backend_pid_ == 0) {
      if (listener_metrics_ != nullptr) listener_metrics_->refused(RefuseReason::StartupTimeout).inc();
      audit_prelogin("timeout", "no complete login within the handshake/startup timeout");
    }
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started_);
    if (backend_pid_ != 0) {
      audit_results();
      audit::AuditRecord rec = session_close_record(audit_record("session.close"), started_, close_reason_);
      audit_now(std::move(rec));
    }
    if (!segment_.empty()) {
      svc_.log.info("session.close", {{"session", id_text_},
                                      {"identity", identity().display()},
                                      {"segment", segment_},
                                      {"duration_ms", std::to_string(ms.count())},
                                      {"bytes_in", std::to_string(bytes_from_client_)},
                                      {"bytes_out", std::to_string(bytes_from_backend_)},
                                      // DataRows checked against their RowDescription (result_shape.hpp)
                                      {"datarows_checked", std::to_string(backend_stream_.rows_checked())},
                                      {"reason", close_reason_.empty() ? "client" : close_reason_}});
    }
  }();
}

void PgSession::evict() {
  if (state_ != State::Negotiating && state_ != State::Starting) return;  // logged in meanwhile, or closed
  evicted_ = true;
  close_all(State::TimedOut);
}

void PgSession::close_all(State final) {
  if (closed()) return;
  state_ = final;
  deadline_.disarm();
  idle_.disarm();
  window_.disarm();
  statement_timer_.disarm();
  backend_stall_.disarm();
  if (client_) client_->close();
  if (backend_) backend_->close();
  wake_waiters();
  if (wal_state_) wal_state_->gate.cancel();
}

void PgSession::terminate(std::string sqlstate, std::string message, Termination why) {
  if (closed()) return;
  state_ = State::Ending;
  if (close_reason_.empty()) close_reason_ = message;
  if (why == Termination::Revoked && backend_pid_ != 0) {
    audit::AuditRecord rec = audit_record(audit_event(why));
    rec.reason = message;
    audit_now(std::move(rec));
  }
  if (!backend_) {
    close_all();
    return;
  }
  spawn_terminate(std::move(sqlstate), std::move(message));
}

void PgSession::spawn_terminate(std::string sqlstate, std::string message) {
  if (closed()) return;
  state_ = State::Ending;  // from now on no client message is judged
  asio::co_spawn(client_->lowest().get_executor(),
                 terminate_with(shared_from_this(), std::move(sqlstate), std::move(message)), asio::detached);
}

awaitable<void> PgSession::terminate_with(std::shared_ptr<PgSession> self, std::string sqlstate, std::string message) {
  if (self->closed()) co_return;
  self->state_ = State::Ending;
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

}  // namespace segproxy::proxy
