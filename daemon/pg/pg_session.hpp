#pragma once
// One client connection on a PostgreSQL listener, from accept to close: one state
// machine (PgSession::State), one handler per state, one file per phase:
//   pg_session.cpp        lifecycle: the state dispatch (run_phases), close_all, terminate
//   pg_startup.cpp        Negotiating (plaintext: SSLRequest -> 'S' + TLS handshake;
//                         GSSENCRequest -> 'N'; CancelRequest -> forwarded; StartupMessage
//                         without TLS -> FATAL 28000) and Starting (inside TLS:
//                         StartupMessage -> identity -> segment -> database -> credential)
//   pg_admission.cpp      revocations, connection limits, refusals before login
//   pg_backend_login.cpp  backend credential (dynamic: minted), login, session.open,
//                         AuthenticationOk ... ReadyForQuery to the client
//   pg_relay.cpp          Relaying / Discarding I/O: client frames decoded one by one,
//                         backend bytes streamed back through BackendStream
//   pg_client_message.cpp the fate of one client message, one handler per state
//   pg_backend_message.cpp typed backend messages (BackendCallbacks) -> session state
//   pg_deny.cpp           refusals raised by the backend itself (DO ... RAISE)
//   pg_reply_trim.cpp     the ParseComplete / BindComplete of a raise standing in for a
//                         Sync, dropped from the answer (the client never sent them)
//   pg_limits.cpp         idle timeout, access window, statement_timeout
//   pg_reload.cpp         adopt(): configuration reload
//   pg_audit.cpp          audit records (decision, result)
//   pg_wal.cpp            the write-ahead forwarding rule (issue 14): what is forwarded,
//                         held, refused; answers held until their records are durable
//                         (its state: pg_wal_state.hpp, only in an audited session)
//   pg_metrics.cpp        metrics and `segproxyctl sessions` state
#include <chrono>
#include <map>
#include <set>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "audit/result_fold.hpp"
#include "authz/credential_store.hpp"
#include "authz/identity.hpp"
#include "authz/wal/forwarding.hpp"
#include "protocols/common/byte_writer.hpp"
#include "protocols/common/fifo.hpp"
#include "protocols/pg/backend_callbacks.hpp"
#include "protocols/pg/backend_decoder.hpp"
#include "protocols/pg/backend_hold_back.hpp"
#include "protocols/pg/frontend_state.hpp"
#include "protocols/pg/messages.hpp"
#include "daemon/net/asio.hpp"
#include "daemon/credentials/dynamic_credentials.hpp"
#include "daemon/runtime.hpp"
#include "daemon/session/refusal.hpp"
#include "daemon/session/session_deadlines.hpp"
#include "daemon/session/session_registry.hpp"
#include "daemon/net/client_fill.hpp"
#include "daemon/net/stream.hpp"
#include "authz/gate/pg_gate.hpp"

namespace segproxy::proxy {

class RefusalAudit;

class PgSession : public LiveSession,
                  public std::enable_shared_from_this<PgSession>,
                  private protocols::pg::BackendCallbacks {
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
  // closed (pg_session.cpp). adopt: pg_reload.cpp. state: pg_metrics.cpp.
  void terminate(std::string sqlstate, std::string message, Termination why) override;
  // Evicted under the listener's limits.max_concurrent_handshakes (handshake_eviction.hpp):
  // closed as by its handshake deadline when it has not logged in yet.
  void evict();
  SessionState state() const override;
  void adopt(std::shared_ptr<const Runtime> rt) override;

 private:
  // The session's control state. Each state has one handler: run_phases dispatches the
  // phases, on_client_message the client messages of the relay states. Data that is
  // not control state stays in members: the access window's grace (gate_ and grace_,
  // which overlap Relaying and Discarding), lexing follow-up (lexing_), DDL refresh.
  enum class State : std::uint8_t {
    Negotiating,  // plaintext, before TLS (55.2.10 SSL Session Encryption, 55.2.7 cancel)
    Starting,     // inside TLS: StartupMessage, admission, backend login (55.2.1)
    Relaying,     // each client message judged, then forwarded (55.2.2, 55.2.3, 55.2.6)
    Discarding,   // a refused extended-protocol message: drop up to Sync (55.2.3, errors)
    Ending,       // terminated (revoke, kill, reload, idle, window): FATAL on its way,
                  // no client message is judged any more (55.2.8 Termination)
    Closed,       // sockets closed, every waiter woken
    TimedOut,     // closed by the handshake / startup deadline before login
  };
  bool closed() const { return state_ == State::Closed || state_ == State::TimedOut; }
  // Moves from `from` to `to`; false (no move) when the session is elsewhere, e.g. it
  // was terminated or closed meanwhile.
  bool advance(State from, State to) {
    if (state_ != from) return false;
    state_ = to;
    return true;
  }

  // What the relay does after a client frame: go on, stop (close_reason_ says why), or
  // stop after answering FATAL 08P01 for a PasswordMessage sent after authentication.
  enum class Next { Continue, Stop, StopUnexpectedPassword };

  // --- lifecycle (pg_session.cpp) ---
  // `self` keeps the session alive while it runs (its frame is the only one holding it).
  awaitable<void> run_phases(std::shared_ptr<PgSession> self);
  // Closes both sides and wakes every waiter; `final` is Closed or TimedOut.
  void close_all(State final = State::Closed);
  // Sends FATAL `sqlstate` `message` to the client (after cancelling a running backend
  // statement) and closes the session.
  static awaitable<void> terminate_with(std::shared_ptr<PgSession> self, std::string sqlstate, std::string message);
  // terminate_with, spawned on the session's thread.
  void spawn_terminate(std::string sqlstate, std::string message);

  // --- Negotiating, Starting (pg_startup.cpp) ---
  awaitable<bool> negotiate();
  awaitable<bool> startup();
  awaitable<std::optional<protocols::pg::StartupPacket>> read_startup_packet();
  // `tls_owner`: the requester's certificate hash when the request came inside TLS.
  awaitable<void> handle_cancel(protocols::pg::CancelRequest req, std::optional<std::string> tls_owner);

  // --- admission (pg_admission.cpp) ---
  // After the identity is known: revocations and the segment's connection limits. False
  // when refused (the refusal was sent).
  awaitable<bool> admit();
  awaitable<void> refuse(const std::string& sqlstate, const std::string& message, Refusal why);
  // A connection dropped before login without a refuse(): session.refused (rate-limited,
  // daemon/session/refusal_audit.hpp) with the reason class.
  void audit_prelogin(const char* reason, std::string_view error, std::string_view sqlstate = {});

  // --- backend login (pg_backend_login.cpp) ---
  // Logs in to the backend as `cred` (minting a dynamic user first) with the filtered
  // startup `parameters` (moved from), writes session.open durably and completes the
  // client's login. False when refused or closed.
  awaitable<bool> login_backend(const authz::BackendCredential& cred,
                                std::vector<std::pair<std::string, std::string>>& parameters);

  // --- relay I/O (pg_relay.cpp) ---
  awaitable<void> relay();
  // relay()'s set-up and ending, outside its frame (issue 15: GCC keeps every local of
  // a coroutine for its whole life). start_relay: false when a reload made the session
  // misfit (close_reason_ says why; terminate_reloaded() ends it).
  bool start_relay();
  awaitable<void> terminate_reloaded();
  awaitable<void> yield_once();  // lets a termination in progress send its FATAL first
  // limits.backend_message_timeout passed: logs it and, when nothing of the unfinished message
  // reached the client (`hold` keeps it, or the stream is on a boundary), sends FATAL 08006.
  awaitable<void> backend_stalled(const protocols::pg::BackendHoldBack& hold);
  awaitable<void> backend_to_client();
  awaitable<bool> relay_leftover(protocols::Bytes& buf, protocols::pg::BackendHoldBack& hold);
  // Decodes every complete client frame in the buffer, decides each, and writes the
  // result to the backend in one write, as plain calls while nothing has to be awaited
  // (issue 15): true when finished (`st.next` says what follows); false: co_await
  // client_frames_rest(st), which goes on from st.at.
  struct FramesStep {
    enum class At { Fill, Malformed, Password, Flush, Waits } at = At::Fill;
    Next next = Next::Continue;
    std::size_t needed = 0;    // At::Fill: the frame size the decoder asked for
    std::size_t progress = 0;  // At::Flush: bytes already written
  };
  bool client_frames_now(FramesStep& st);
  awaitable<Next> client_frames_rest(FramesStep st);
  // Issue 15, no coroutine frame per message: the I/O of a transaction runs as plain
  // calls while the sockets take and give at once; only a step that has to wait
  // continues in a coroutine (write_client, fill_client_buffer, flush_to_backend,
  // relay_rest), from where the plain call stopped.
  // write_client's common case: nobody else is writing and the socket takes it all.
  // true: finished (`ec` on failure); false: co_await write_client(buf, ec, w).
  struct ClientWrite {
    bool started = false;  // this call holds the writer's turn, `progress` bytes are out
    std::size_t progress = 0;
  };
  bool write_client_now(asio::const_buffer buf, error_code& ec, ClientWrite& w);
  awaitable<void> write_client(asio::const_buffer buf, error_code& ec, ClientWrite w);
  awaitable<void> write_client(asio::const_buffer buf, error_code& ec) { return write_client(buf, ec, ClientWrite{}); }
  // One read of backend bytes (`fresh`, behind hold.held() kept ones) relayed: fed to
  // the stream, and written to the client once nothing needs waiting for (write-ahead
  // rule). Done; Failed (the relay stops); Pending: co_await relay_rest(...) with `step`.
  enum class RelayResult { Done, Failed, Pending };
  struct RelayStep {
    enum class At { Malformed, Settle, Write, WriteRest } at = At::Settle;
    std::size_t old = 0;  // held bytes before the read
    std::size_t n = 0;    // At::Write / WriteRest: the relayable bytes
    ClientWrite w;        // At::WriteRest
  };
  RelayResult relay_now(protocols::Bytes& buf, protocols::pg::BackendHoldBack& hold, std::size_t fresh,
                        std::uint64_t need, RelayStep& step);
  awaitable<bool> relay_rest(protocols::Bytes& buf, protocols::pg::BackendHoldBack& hold, std::size_t fresh,
                             std::uint64_t need, RelayStep step);
  // relay_now's second half, once `need` is settled (the relay waited in its own frame).
  RelayResult relay_settled_now(protocols::Bytes& buf, protocols::pg::BackendHoldBack& hold, std::size_t fresh,
                                RelayStep& step);
  // After a relay's bytes went out: the held ones move to the front; bookkeeping.
  void relay_done(protocols::Bytes& buf, protocols::pg::BackendHoldBack& hold, std::size_t n);
  awaitable<void> wait_backend_idle();
  void forward(std::span<const std::uint8_t> frame);
  // Audit (daemon/pg/pg_audit.cpp): records share the session's fields. A decision record
  // is appended (audit_append) before its message goes through the write-ahead rule.
  struct WalRecord {
    std::uint64_t local = 0;  // the ledger's number (0: no audit)
    bool refused = false;     // the sink refused it (fail_closed, log not writable)
  };
  audit::AuditRecord audit_record(const char* event) const;
  audit::AuditRecord decision_record(const GateVerdict& v, std::string_view sql) const;
  WalRecord audit_decision(const GateVerdict& v, std::string_view sql);
  WalRecord audit_append(const audit::AuditRecord& r);
  void audit_now(audit::AuditRecord record);  // fire and forget (refusals, close)
  awaitable<bool> audit_session_open();       // session.open, durable before the client's login completes
  void audit_results();  // submits the folded statement outcomes (result_fold_)
  // A client message (or a raise standing in for one) goes to the backend: the protocol
  // state, the backend stream's DataRow/RowDescription matching and its following of
  // skipped requests follow it. Every forwarded message is noted, in order; a request
  // (Query, FunctionCall, Sync) after its request_sent / expect_result, since the backend
  // may be known to skip it at once (on_request_skipped).
  void note_forwarded(const protocols::pg::FrontendMessage& m) {
    frontend_state_.forwarded(m);
    note_backend_bound(m);
  }
  // The backend stream's part alone (a raise is a Query or a Sync to the backend, but
  // replaces the unnamed statement and portal for FrontendState either way).
  void note_backend_bound(const protocols::pg::FrontendMessage& m) {
    if (backend_stream_.frontend_forwarded(m)) on_request_skipped();
  }
  // statement.result: one per request that ends with ReadyForQuery (a Query, or the
  // extended-protocol messages up to a Sync): rows from CommandComplete tags, the first
  // error's SQLSTATE, and the time from the decision to ReadyForQuery.
  void expect_result();
  void result_rows(std::string_view tag);
  void result_error(const protocols::pg::ErrorView& error);
  void result_done();
  void forward_owned(protocols::Bytes bytes);
  awaitable<bool> flush_to_backend();
  // flush_to_backend's common case: true when finished (`ok`: no error); false:
  // co_await flush_to_backend(progress).
  bool flush_to_backend_now(bool& ok, std::size_t& progress);
  awaitable<bool> flush_to_backend(std::size_t progress);
  bool flushed(const error_code& ec);  // the pieces are out (or failed): false on failure

  // --- write-ahead forwarding (pg_wal.cpp; issue 14, docs/audit.md "The guarantee") ---
  // The rule is gated (holds forwards and answers) only with durability group /
  // fsync_each and on_failure fail_closed; otherwise records are appended, never awaited.
  void wal_start();
  // The class context of this session's statements: the one place it is made.
  const authz::wal::ClassContext& wal_context();
  // Remembers what a verdict's PREPARE / DECLARE define (EXECUTE / FETCH take it).
  void wal_remember(const GateVerdict& v);
  // One judged message goes through the rule: forwarded, held or refused. `owned`: bytes
  // the proxy made to stand in for it (a raised refusal), else `frame` is forwarded.
  void wal_submit(authz::wal::MessageKind kind, const authz::wal::MessageClass& klass, WalRecord rec,
                  std::span<const std::uint8_t> frame, protocols::Bytes* owned = nullptr);
  void run_wal_actions();  // client_frames only: it owns out_pieces_
  void wal_refresh(bool ok);  // after a wait: failure, then the ledger's watermark
  void wal_wake();
  awaitable<bool> wait_wal_held();  // client_frames: until nothing is held (false: stop)
  static awaitable<void> wal_flush_wait(std::shared_ptr<PgSession> self, audit::AuditTicket t);
  awaitable<bool> answer_ready(std::uint64_t need);  // backend bytes read under `need`
  // answer_ready without a coroutine frame (the relay's common case, issue 14): Ready (settled, or
  // answers are being replaced: relay_rest decides), Stop (the session ends), or Wait - the thread's
  // AuditWaiter holds the state's answer slot: co_await its timer, then wal_settle_resumed(), ask again.
  enum class WalSettle { Ready, Wait, Stop };
  WalSettle wal_settle_now(std::uint64_t need);
  asio::steady_timer& wal_answer_slot();  // the timer a Wait is resumed by
  void wal_settle_resumed();
  void refuse_current(const authz::wal::Action& a, const char* sqlstate, const char* message);
  void wal_fail_closed();
  // A record failed although its message was forwarded (`requests_before`: that
  // message's request number): its answers are replaced in place (pg_wal_replace.cpp) or,
  // when that cannot be done, the session fails closed.
  void wal_answers_failed(std::uint64_t requests_before);
  // The relay while answers are replaced: `buf` holds hold.held() bytes kept back and
  // `fresh` bytes read behind them (already fed to the stream); relays the answers of
  // requests before the range, replaces those in it, and relays what follows it once
  // `need` is durable. false: the relay stops.
  awaitable<bool> relay_replacing(protocols::Bytes& buf, protocols::pg::BackendHoldBack& hold, std::size_t fresh,
                                  std::uint64_t need);
  // Bookkeeping of a normal relay: which ReadyForQuery the relayed bytes end after.
  void relayed_normally(const protocols::pg::BackendHoldBack& hold) {
    rfq_relayed_ = rfq_seen_;
    relay_at_boundary_ = hold.held() > 0 || backend_stream_.at_boundary();
    relay_after_rfq_ = relay_at_boundary_ && backend_stream_.last_complete() == 'Z';
  }
  void wal_backend_cancel();
  // A cancel request for this session (CancelRequest with its key): a held message is
  // cancelled in the proxy, running work is cancelled on the backend.
  void cancel_requested();
  struct WalStatement;
  struct WalPortal;
  // Messages held by the rule (0 without the gate), answers being replaced
  // (pg_wal_replace.cpp), the ledger's watermark and the record backend bytes read now
  // wait for (both 0 without the gate).
  std::size_t wal_held() const;
  bool wal_replacing() const;
  std::uint64_t wal_settled() const;
  std::uint64_t wal_answer_needs() const;
  // Extended protocol names: Parse defines a statement, Bind a portal running one.
  // false: the name table is full (kMaxWalNames); the caller records the Parse itself.
  bool wal_remember_statement(std::string_view name, const authz::wal::MessageClass& klass,
                              std::shared_ptr<audit::AuditRecord> record);
  const WalStatement* wal_statement(std::string_view name) const;
  // The portal Bind defines (nullptr: an unknown statement, or too many names).
  WalPortal* wal_bind_portal(const WalStatement* statement, std::string_view portal);
  WalPortal* wal_portal(std::string_view portal);
  // Names the backend forgets (review finding, issue 14: a session that prepares and
  // closes many statements must not fill the 1,024-name tables, after which everything
  // would be unknown, i.e. escaping): a forwarded Close of a statement / portal, an
  // allowed DEALLOCATE name (SQL-level and protocol-level statements share PostgreSQL's
  // namespace), DEALLOCATE ALL / DISCARD ALL. Applied to the tables only at the
  // ReadyForQuery that ends its request when no ErrorResponse came in that request (after
  // an error the backend may have discarded it, and a name it still has must keep its
  // folded class); a name defined again before then is not forgotten.
  void wal_forget_later(const protocols::pg::Close& close);
  void wal_forget_later(const GateVerdict& v);
  void wal_defined(std::string_view name, bool portal);  // a (re)definition cancels its pending forgets
  void wal_settle_forgets();                             // at a ReadyForQuery that answers a request
  // The record of an Execute of `portal` (issue 14: one record per execution): its
  // Bind's record for the portal's first Execute in the Bind's batch, else the
  // statement's record appended again (an unknown portal: a record without text).
  WalRecord wal_execution_record(WalPortal* portal, const authz::Decision& window);

  // --- client messages, one handler per state (pg_client_message.cpp) ---
  // Decides what happens to one decoded client frame (policy checks happen here, via
  // the gate): forwarded unchanged, replaced, dropped (discard-until-Sync), or answered.
  Next on_client_message(const protocols::pg::FrontendMessage& msg, std::span<const std::uint8_t> frame);
  Next on_relaying(const protocols::pg::FrontendMessage& msg, std::span<const std::uint8_t> frame);
  Next on_discarding(const protocols::pg::FrontendMessage& msg, std::span<const std::uint8_t> frame);
  Next on_query(const protocols::pg::Query& q, const protocols::pg::FrontendMessage& msg,
                std::span<const std::uint8_t> frame);
  Next on_parse(const protocols::pg::Parse& p, const protocols::pg::FrontendMessage& msg,
                std::span<const std::uint8_t> frame);
  Next on_bind(const protocols::pg::Bind& b, const protocols::pg::FrontendMessage& msg,
               std::span<const std::uint8_t> frame);
  Next on_execute(const protocols::pg::Execute& e, const protocols::pg::FrontendMessage& msg,
                  std::span<const std::uint8_t> frame);
  Next on_function_call(const protocols::pg::FunctionCall& fc, std::span<const std::uint8_t> frame);
  // A refusal standing in for a request that ends with ReadyForQuery.
  // `record`: the denial's decision record (its error waits for it); `kind`: PgSync when
  // the raise stands in for the Sync of a discarded batch.
  void raise_instead(const authz::Decision& d, WalRecord record,
                     authz::wal::MessageKind kind = authz::wal::MessageKind::PgQuery);
  // raise_instead for pending_refusal_ with pending_refusal_record_, both then cleared.
  void raise_pending(authz::wal::MessageKind kind = authz::wal::MessageKind::PgQuery);
  bool may_change_lexing(const GateVerdict& v) const;  // lexing settings followed
  void settle_lexing();

  // --- typed backend messages (pg_backend_message.cpp) ---
  void on_ready_for_query(char status) override;
  void on_command_complete(std::string_view tag) override;
  void on_error_response(const protocols::pg::ErrorView& error) override;
  void on_parameter_status(std::string_view name, std::string_view value) override;
  void on_copy_in_response() override;
  void on_request_skipped() override;
  void on_extended_complete(char type, std::uint32_t nth) override;  // pg_reply_trim.cpp

  // --- refusals raised by the backend (pg_deny.cpp) ---
  // A Query that makes the backend raise `sqlstate` `message` (pg_deny.hpp).
  static protocols::Bytes raise_query(std::string_view sqlstate, std::string_view message, std::string_view detail);
  // In place of a Sync the raise is pg_raise_at_sync (pg_deny.hpp): Parse / Bind /
  // Execute / Sync, since a batch the backend already failed skips a Query.

  // --- the raise's replies the client never asked for (pg_reply_trim.cpp) ---
  // An extended raise (pg_raise_at_sync) goes out for wal_msg_: the ParseComplete and
  // BindComplete of its batch beyond the client's own forwarded Parse / Bind are dropped.
  void trim_raise_replies();
  // Bytes [from, to) of `all` (the relay buffer) without the dropped messages (cuts_).
  void append_uncut(protocols::Bytes& out, std::span<const std::uint8_t> all, std::size_t from, std::size_t to) const;
  // A message to drop began in bytes already passed to the client: it cannot be dropped.
  bool cut_lost() const;
  void refuse_protocol_state(const protocols::pg::FrontendMessage& msg, authz::Decision d);
  void deny(const GateVerdict& verdict, std::string_view kind);

  // Client-side buffer: [cstart_, cend_) holds undecoded bytes.
  std::span<const std::uint8_t> pending() const { return {cbuf_.data() + cstart_, cend_ - cstart_}; }
  awaitable<bool> fill_client_buffer(std::size_t want);
  // fill_client_buffer's common case (daemon/net/client_fill.hpp; Wait: co_await fill_client_buffer).
  Fill fill_client_now(std::size_t want);
  void client_bytes_read(std::size_t n);  // accounting of a client read

  // Metrics (pg_metrics.cpp): refusal reasons, TLS failures, statement counters.
  void count_refusal(Refusal why);
  void count_tls_failure(const error_code& ec);
  void count_statement(const GateVerdict& v);
  void observe_policy(std::chrono::steady_clock::time_point start);

  // --- reload (pg_reload.cpp) ---
  // Applies a runtime that adopt() received while the session was still starting;
  // returns why the session no longer fits it (empty: it fits or there was none).
  std::string apply_pending_runtime();
  // The outcome of checking this session against runtime `rt`: empty = it fits.
  std::string misfit(const Runtime& rt) const;
  // A request that ends with ReadyForQuery went to the backend (statement_timeout runs
  // while any is outstanding).
  void request_sent() {
    ++wal_batch_;  // an extended batch ends with it (Sync, or a Query committing it)
    wal_batch_open_ = false;
    frontend_state_.request_sent();
    if (++outstanding_ == 1 && statement_timeout_.count() > 0) statement_timer_.arm(statement_timeout_);
  }

  // --- limits (pg_limits.cpp) ---
  void touch_idle();  // re-arms the idle deadline (limits.idle_timeout) after traffic
  void on_idle_expired();
  void on_window_closed();
  void schedule_window_close();
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
  DeadlineSet deadlines_;  // one timer for the five deadlines below (issue 15)
  Deadline deadline_;  // handshake / startup deadlines
  Deadline idle_;      // limits.idle_timeout during relay
  Deadline window_;    // end of the segment's current access window
  Deadline statement_timer_;  // segments.<s>.limits.statement_timeout
  Deadline backend_stall_;    // limits.backend_message_timeout (pg_relay.cpp)
  bool backend_stalled_ = false;
  // SQLSTATE of a FATAL / PANIC ErrorResponse from the backend (empty: none). PostgreSQL
  // ends the connection after it, so the relay ends the session once it is relayed.
  std::string backend_fatal_;
  // Wakes the session's waiters (cancel(); its expiry stays at "never"): writers waiting
  // for the client stream, and a waiter for the backend to have answered everything.
  // One timer for both (issue 15): each waiter checks its own condition again. Made by the
  // first waiter (wake_timer): most sessions never wait for either.
  std::unique_ptr<asio::steady_timer> wake_;
  asio::steady_timer& wake_timer();
  void wake_waiters() {
    if (wake_) wake_->cancel();
  }

  protocols::Bytes cbuf_;
  std::size_t cstart_ = 0;
  std::size_t cend_ = 0;
  protocols::Bytes backend_leftover_;

  // The client's identity, one copy shared with the registry's facts and the gate's
  // grants (issue 15); null before the certificate was read: identity() is then empty.
  authz::SharedIdentity identity_;
  const authz::ClientIdentity& identity() const { return identity_ ? *identity_ : authz::empty_identity(); }
  std::string segment_;
  std::string database_;
  std::string backend_user_;
  std::unique_ptr<MintedCredential> minted_;  // dynamic credential: its lease lives with the session
  std::int32_t backend_pid_ = 0;
  std::int32_t proxy_secret_ = 0;
  bool cancel_registered_ = false;
  bool evicted_ = false;  // closed by evict(), not by its deadline

  State state_ = State::Negotiating;
  std::unique_ptr<PgGate> gate_;
  // The thread's verdict that on_query / on_parse judge into (pg_verdict_scratch.hpp).
  GateVerdict* verdict_ = nullptr;
  // Discarding: raised at the Sync (raise_pending); null otherwise (issue 15).
  std::unique_ptr<authz::Decision> pending_refusal_;
  // on_window_close: finish_transaction. While gate_->window_grace() only COMMIT /
  // ROLLBACK run and the session ends at the next ReadyForQuery outside a transaction.
  // Extended protocol: an Execute passes only for the unnamed portal bound, during the
  // grace, from the unnamed statement parsed during the grace (the gate let it through,
  // so it is COMMIT / ROLLBACK). Named statements and portals may predate the grace (a
  // Parse or Bind of an existing name fails on the backend and leaves the old one), so
  // they never pass.
  struct WindowGrace {
    bool statement_ok = false;
    bool portal_ok = false;
  } grace_;
  bool ddl_pending_ = false;        // DDL let through: refresh learned views once committed
  // Lexing settings are followed, never guessed (issue 12 item 2.2; docs/policy.md
  // "Lexing settings"): after a message that may change client_encoding or
  // standard_conforming_strings, no further client frame is judged before the backend's
  // answer up to ReadyForQuery (with its ParameterStatus) has been read.
  struct LexingFollow {
    bool hold = false;       // after this frame: flush, then wait until the backend is idle
    bool unsettled = false;  // such an Execute was forwarded: no Parse / Query before Sync
    bool txn_dirty = false;  // a lexing change ran in the open transaction (a ROLLBACK may revert it)
    // Rare (a prepared SET client_encoding ...): made on first use (issue 15: idle memory).
    struct Names {
      std::set<std::string, std::less<>> statements;  // prepared statements that may change lexing
      std::set<std::string, std::less<>> portals;     // portals bound to them
    };
    std::unique_ptr<Names> names;
    bool statement(std::string_view s) const { return names && names->statements.count(s) > 0; }
    bool portal(std::string_view p) const { return names && names->portals.count(p) > 0; }
    Names& made() {
      if (!names) names = std::make_unique<Names>();
      return *names;
    }
  } lexing_;
  // Statements Parse'd only because of an emergency grant (name -> text): judged again at every
  // Bind, so they stop running when the grant ends (docs/admin.md). Made on first use (issue 15).
  using GrantedStatements = std::map<std::string, std::string, std::less<>>;
  std::unique_ptr<GrantedStatements> granted_statements_;
  // Raises standing in for a Sync (pg_raise_at_sync): the request each one ends and how many
  // ParseComplete / BindComplete of that request's answer are the client's (its Parse /
  // Bind forwarded in that batch); the rest are the raise's and are dropped. Popped at the
  // request's ReadyForQuery; empty (no allocation) unless such a raise is in flight.
  struct ReplyTrim {
    std::uint64_t request = 0;
    std::uint32_t parses = 0;
    std::uint32_t binds = 0;
  };
  protocols::Fifo<ReplyTrim> trims_;
  // During one relay step: messages to drop, as [start, start + size) of the relay
  // buffer (start npos: it began in bytes already passed on); cut_base_ is where the
  // span being fed to backend_stream_ begins in that buffer.
  struct Cut {
    std::size_t start = 0;
    std::size_t size = 0;
  };
  std::vector<Cut> cuts_;
  std::size_t cut_base_ = 0;
  // Client Parse / Bind forwarded since the last request that ends with ReadyForQuery.
  std::uint32_t batch_parses_ = 0;
  std::uint32_t batch_binds_ = 0;
  std::vector<asio::const_buffer> out_pieces_;  // this batch, for one backend write
  std::vector<protocols::Bytes> out_owned_;     // bytes the proxy made for this batch

  // Write-ahead forwarding (pg_wal.cpp). At most one message is held: client_frames
  // reads nothing more while one is, so the held frame stays in cbuf_.
  bool wal_gated_ = false;
  // The rule's state, the ledger, the class context and the names it follows
  // (pg_wal_state.hpp): made by wal_start for an audited session only (issue 15).
  struct WalState;
  std::unique_ptr<WalState> wal_state_;
  std::vector<authz::wal::Action> wal_actions_;  // capacity kept: no allocation per message
  struct WalMessage {
    std::uint64_t id = 0;
    std::span<const std::uint8_t> frame;
    protocols::Bytes owned;
    bool use_owned = false;
    std::uint64_t record = 0;
    std::uint64_t requests_before = 0;  // wal_batch_ when submitted: its own request's number
    authz::wal::MessageKind kind = authz::wal::MessageKind::PgQuery;
    authz::wal::WriteClass klass = authz::wal::WriteClass::Escaping;
    // Its effect outlives a failure of its request: escaping, a commit point, transaction
    // control (a COMMIT executed inside an extended batch commits what came before it).
    bool lasting = false;
  } wal_msg_;
  // 1 + the request number of the last forwarded message with a lasting effect (0: none).
  // Answers of that request cannot be replaced by "this request failed" (pg_wal_replace.cpp).
  std::uint64_t wal_lasting_request_ = 0;
  bool wal_batch_open_ = false;  // extended messages forwarded since the last request_sent
  // Requests (request_sent) and ReadyForQuery's pair one to one, which replacing answers
  // relies on, unless the backend may have ignored a request: a Query or FunctionCall
  // sent into an open extended batch (ignored after an error in it, until Sync) or any
  // request during COPY IN (Sync and Flush are ignored there). Then: never trusted again.
  bool wal_counts_trusted_ = true;
  std::uint64_t rfq_seen_ = 0;     // ReadyForQuery's the backend sent (BackendDispatch)
  std::uint64_t rfq_relayed_ = 0;  // ... passed to the client (relayed or replaced)
  bool relay_at_boundary_ = true;  // the bytes passed to the client end on a message boundary
  bool relay_after_rfq_ = true;    // ... right after a ReadyForQuery (or none were passed yet)
  std::uint64_t wal_next_id_ = 0;
  bool wal_broken_ = false;      // a forwarded message's record failed: failing closed
  std::uint64_t wal_batch_ = 0;  // requests answered by ReadyForQuery sent so far (request_sent)
  WalRecord pending_refusal_record_;  // Discarding: the refusal's record, raised at the Sync
  struct PendingResult {
    std::chrono::steady_clock::time_point start;
    std::uint64_t rows = 0;
    std::string sqlstate;
    std::string error;
  };
  protocols::Fifo<PendingResult> results_;  // requests awaiting their ReadyForQuery (audit only)
  audit::ResultFolder result_fold_;    // outcomes not yet in a statement.result record

  protocols::pg::BackendStream backend_stream_;
  protocols::pg::BackendDispatch backend_dispatch_{*this};  // types each message for the callbacks
  protocols::pg::FrontendState frontend_state_;  // COPY state, statement / portal names
  char txn_status_ = 'I';
  std::size_t outstanding_ = 0;  // Query / Sync sent without a ReadyForQuery back
  bool client_writing_ = false;  // one writer at a time on the client stream (wake_)
  std::uint64_t bytes_from_client_ = 0;
  std::uint64_t bytes_from_backend_ = 0;
  std::string close_reason_;
  std::string current_sql_;  // the last statement checked (truncated), for `sessions`
  std::chrono::milliseconds statement_timeout_{0};
  std::chrono::milliseconds idle_timeout_{0};
  RefusalAudit* refusals_ = nullptr;
  bool refusal_audited_ = false;    // a session.refused record was written for this connection
  class ListenerMetrics* listener_metrics_ = nullptr;
  class SegmentMetrics* seg_metrics_ = nullptr;  // set at admission
};

}  // namespace segproxy::proxy
