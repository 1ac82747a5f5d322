#pragma once
// One client connection on a PostgreSQL listener, from accept to close.
//
// Phases (each in its own function, each with a deadline):
//   negotiate  plaintext: SSLRequest -> 'S' + TLS handshake; GSSENCRequest -> 'N';
//              CancelRequest -> forwarded; StartupMessage without TLS -> FATAL 28000.
//   startup    inside TLS: StartupMessage -> identity -> segment -> database ->
//              credential -> backend login -> AuthenticationOk ... ReadyForQuery.
//   relay      client frames are decoded and checked one by one, then forwarded
//              unchanged; backend bytes are streamed back while their message
//              boundaries are followed (ReadyForQuery status, outstanding requests).
#include <chrono>
#include <deque>
#include <set>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "audit/result_fold.hpp"
#include "authz/identity.hpp"
#include "protocols/common/byte_writer.hpp"
#include "protocols/pg/backend_decoder.hpp"
#include "protocols/pg/frontend_state.hpp"
#include "protocols/pg/messages.hpp"
#include "daemon/net/asio.hpp"
#include "daemon/credentials/dynamic_credentials.hpp"
#include "daemon/runtime.hpp"
#include "daemon/session/refusal.hpp"
#include "daemon/session/session_registry.hpp"
#include "daemon/net/stream.hpp"
#include "authz/gate/statement_gate.hpp"

namespace segproxy::proxy {

class RefusalAudit;

class PgSession : public LiveSession,
                  public std::enable_shared_from_this<PgSession>,
                  private protocols::pg::BackendEvents {
 public:
  PgSession(tcp::socket client, std::shared_ptr<const Runtime> rt, std::size_t listener_index, Services services);
  // session.refused records for connections dropped before login (rate-limited;
  // owned by the Server; null without audit). Set before run().
  void set_refusal_audit(RefusalAudit* r) { refusals_ = r; }
  ~PgSession() override;

  // Runs the session to its end; the parameter keeps it alive for that long.
  static awaitable<void> run(std::shared_ptr<PgSession> self);
  // LiveSession (each on the session's own thread). terminate: FATAL `sqlstate`
  // `message` after cancelling a running statement; a session still starting is just
  // closed (pg_startup.cpp). adopt: pg_control.cpp.
  void terminate(std::string sqlstate, std::string message, std::string event) override;
  SessionState state() const override;
  void adopt(std::shared_ptr<const Runtime> rt) override;

 private:
  // What the relay does after a client frame: go on, stop (close_reason_ says why), or
  // stop after answering FATAL 08P01 for a PasswordMessage sent after authentication.
  enum class Next { Continue, Stop, StopUnexpectedPassword };

  awaitable<void> run_phases();
  static awaitable<void> pump_backend(std::shared_ptr<PgSession> self) { co_await self->backend_to_client(); }

  // --- startup (pg_startup.cpp) ---
  awaitable<bool> negotiate();
  awaitable<bool> startup();
  awaitable<std::optional<protocols::pg::StartupPacket>> read_startup_packet();
  // `tls_owner`: the requester's certificate hash when the request came inside TLS.
  awaitable<void> handle_cancel(protocols::pg::CancelRequest req, std::optional<std::string> tls_owner);
  awaitable<void> refuse(const std::string& sqlstate, const std::string& message, Refusal why);
  // A connection dropped before login without a refuse(): session.refused (rate-limited,
  // daemon/session/refusal_audit.hpp) with the reason class.
  void audit_prelogin(const char* reason, std::string_view error, std::string_view sqlstate = {});

  // --- relay (pg_relay.cpp) ---
  awaitable<void> relay();
  awaitable<void> backend_to_client();
  awaitable<Next> client_frames();
  void on_backend_message(char type, std::span<const std::uint8_t> body) override;
  awaitable<void> write_client(asio::const_buffer buf, error_code& ec);
  awaitable<void> wait_backend_idle();
  void close_all();
  void touch_idle();  // re-arms the idle deadline (limits.idle_timeout) after traffic
  void on_idle_expired();
  void on_window_closed();
  void schedule_window_close();
  // Sends FATAL `sqlstate` `message` to the client (after cancelling a running backend
  // statement) and closes the session.
  static awaitable<void> terminate_with(std::shared_ptr<PgSession> self, std::string sqlstate, std::string message);

  // Decides what happens to one decoded client frame (policy checks happen here, via
  // the gate): forwarded unchanged, replaced, dropped (discard-until-Sync), or answered.
  Next on_client_message(const protocols::pg::FrontendMessage& msg, std::span<const std::uint8_t> frame);
  void forward(std::span<const std::uint8_t> frame);
  // Audit (daemon/pg/pg_audit.cpp): records share the session's fields; decision records of
  // a batch are written (durably, per audit.durability) before the batch is forwarded.
  audit::AuditRecord audit_record(const char* event) const;
  void audit_decision(const GateVerdict& v, std::string_view sql);
  void audit_now(audit::AuditRecord record);  // fire and forget (refusals, close)
  void audit_results();  // submits the folded statement outcomes (result_fold_)
  awaitable<bool> audit_durably();  // writes batch_audit_; true when all are durable
  void refuse_batch_unaudited();
  // A client message (or a raise standing in for one) goes to the backend: the protocol
  // state and the backend stream's DataRow/RowDescription matching follow it.
  void note_forwarded(const protocols::pg::FrontendMessage& m) {
    frontend_state_.forwarded(m);
    backend_stream_.frontend_forwarded(m);
  }
  // statement.result: one per request that ends with ReadyForQuery (a Query, or the
  // extended-protocol messages up to a Sync): rows from CommandComplete tags, the first
  // error's SQLSTATE, and the time from the decision to ReadyForQuery.
  void expect_result();
  void on_result_message(char type, std::span<const std::uint8_t> body);
  void forward_owned(protocols::Bytes bytes);
  // Appends a Query that makes the backend raise `sqlstate` `message` (pg_deny.hpp).
  void forward_raise(std::string_view sqlstate, std::string_view message, std::string_view detail);
  void refuse_protocol_state(const protocols::pg::FrontendMessage& msg, authz::Decision d);
  void deny(const GateVerdict& verdict, std::string_view kind);
  awaitable<bool> flush_to_backend();
  bool may_change_lexing(const GateVerdict& v) const;  // pg_relay.cpp: lexing settings followed
  void settle_lexing();

  // Client-side buffer: [cstart_, cend_) holds undecoded bytes.
  std::span<const std::uint8_t> pending() const { return {cbuf_.data() + cstart_, cend_ - cstart_}; }
  awaitable<bool> fill_client_buffer(std::size_t want);

  // Admission after the identity is known (pg_control.cpp): revocations and the
  // segment's connection limits. False when refused (the refusal was sent).
  awaitable<bool> admit();
  // Metrics (pg_control.cpp): refusal reasons, TLS failures, statement counters.
  void count_refusal(Refusal why);
  void count_tls_failure(const error_code& ec);
  void count_statement(const GateVerdict& v);
  void observe_policy(std::chrono::steady_clock::time_point start);

  // Applies a runtime that adopt() received while the session was still starting;
  // returns why the session no longer fits it (empty: it fits or there was none).
  std::string apply_pending_runtime();
  // The outcome of checking this session against runtime `rt`: empty = it fits.
  std::string misfit(const Runtime& rt) const;
  // A request that ends with ReadyForQuery went to the backend (statement_timeout runs
  // while any is outstanding).
  void request_sent() {
    frontend_state_.request_sent();
    if (++outstanding_ == 1 && statement_timeout_.count() > 0) statement_timer_.arm(statement_timeout_);
  }
  void on_statement_timeout();
  // Remembers the statement text for `sessions` (capacity reused: no allocation once grown).
  void note_statement(std::string_view sql) { current_sql_.assign(sql.substr(0, kCurrentSqlMax)); }
  static constexpr std::size_t kCurrentSqlMax = 1024;
  // The segment's limits (segments.<s>.limits, else the global ones) under rt_.
  void apply_segment_limits();

  std::shared_ptr<const Runtime> rt_;
  const std::shared_ptr<const Runtime> first_rt_;  // owns the limits backend_stream_ refers to
  std::shared_ptr<const Runtime> pending_rt_;      // adopted before the relay phase
  const ListenerRuntime* listener_;
  Services svc_;
  std::uint64_t id_;
  std::string id_text_;
  std::string client_addr_;
  std::chrono::steady_clock::time_point started_;

  std::unique_ptr<Stream> client_;
  std::unique_ptr<Stream> backend_;
  Watchdog deadline_;  // handshake / startup deadlines
  Watchdog idle_;      // limits.idle_timeout during relay
  Watchdog window_;    // end of the segment's current access window
  Watchdog statement_timer_;  // segments.<s>.limits.statement_timeout
  asio::steady_timer write_gate_;  // wakes writers waiting for the client stream
  asio::steady_timer idle_gate_;   // wakes a waiter when the backend has answered everything

  protocols::Bytes cbuf_;
  std::size_t cstart_ = 0;
  std::size_t cend_ = 0;
  protocols::Bytes backend_leftover_;

  authz::ClientIdentity identity_;
  std::string segment_;
  std::string database_;
  std::string backend_user_;
  std::optional<MintedCredential> minted_;  // dynamic credential: its lease lives with the session
  std::int32_t backend_pid_ = 0;
  std::int32_t proxy_secret_ = 0;
  bool cancel_registered_ = false;

  std::unique_ptr<StatementGate> gate_;
  bool discarding_ = false;         // a refused extended-protocol message: drop until Sync
  authz::Decision pending_refusal_;  // raised at that Sync
  bool close_when_idle_ = false;    // on_window_close: finish_transaction
  // During that grace only COMMIT / ROLLBACK run. Extended protocol: an Execute passes
  // only for the unnamed portal bound, during the grace, from the unnamed statement
  // parsed during the grace (the gate let it through, so it is COMMIT / ROLLBACK).
  // Named statements and portals may predate the grace (a Parse or Bind of an existing
  // name fails on the backend and leaves the old one), so they never pass.
  bool grace_statement_ok_ = false;
  bool grace_portal_ok_ = false;
  bool ddl_pending_ = false;        // DDL let through: refresh learned views once committed
  // Lexing settings are followed, never guessed (issue 12 item 2.2; docs/policy.md
  // "Lexing settings"): after a message that may change client_encoding or
  // standard_conforming_strings, no further client frame is judged before the backend's
  // answer up to ReadyForQuery (with its ParameterStatus) has been read.
  struct LexingFollow {
    bool hold = false;       // after this frame: flush, then wait until the backend is idle
    bool unsettled = false;  // such an Execute was forwarded: no Parse / Query before Sync
    bool txn_dirty = false;  // a lexing change ran in the open transaction (a ROLLBACK may revert it)
    std::set<std::string, std::less<>> statements;  // prepared statements that may change lexing
    std::set<std::string, std::less<>> portals;     // portals bound to them
  } lexing_;
  std::vector<asio::const_buffer> out_pieces_;  // this batch, for one backend write
  std::vector<protocols::Bytes> out_owned_;     // bytes the proxy made for this batch
  std::size_t batch_replies_ = 0;               // ReadyForQuery-producing messages in the batch
  std::vector<audit::AuditRecord> batch_audit_;  // decisions of this batch
  struct PendingResult {
    std::chrono::steady_clock::time_point start;
    std::uint64_t rows = 0;
    std::string sqlstate;
    std::string error;
  };
  std::deque<PendingResult> results_;  // requests awaiting their ReadyForQuery (audit only)
  audit::ResultFolder result_fold_;    // outcomes not yet in a statement.result record

  protocols::pg::BackendStream backend_stream_;
  protocols::pg::FrontendState frontend_state_;  // COPY state, statement / portal names
  char txn_status_ = 'I';
  std::size_t outstanding_ = 0;  // Query / Sync sent without a ReadyForQuery back
  bool client_writing_ = false;
  bool closed_ = false;
  std::uint64_t bytes_from_client_ = 0;
  std::uint64_t bytes_from_backend_ = 0;
  std::string close_reason_;
  std::string current_sql_;  // the last statement checked (truncated), for `sessions`
  std::chrono::milliseconds statement_timeout_{0};
  std::chrono::milliseconds idle_timeout_{0};
  bool ending_ = false;
  bool deadline_expired_ = false;   // the handshake / startup deadline closed the connection
  RefusalAudit* refusals_ = nullptr;
  bool refusal_audited_ = false;    // a session.refused record was written for this connection
  class ListenerMetrics* listener_metrics_ = nullptr;
  class SegmentMetrics* seg_metrics_ = nullptr;  // set at admission  // terminate() was called: no further client frame is judged
};

}  // namespace segproxy::proxy
