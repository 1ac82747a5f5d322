#pragma once
// One client connection on a MySQL-protocol listener, from accept to close.
//
// Phases (each with a deadline):
//   greet    connect to the backend and read its greeting first (the client's
//            connection id is the backend's, so CONNECTION_ID() and the handshake
//            agree); send the proxy's own HandshakeV10 (CLIENT_SSL, never LOCAL_FILES
//            or compression); the client must answer with an SSLRequest (no plaintext
//            login) -> TLS with a verified client certificate -> HandshakeResponse41,
//            whose password is ignored (identity comes from the certificate).
//   login    identity -> segment -> database -> revocations / limits -> credential ->
//            backend login (mysql_backend.hpp) -> session.open (durable) -> OK.
//   commands one command at a time: decoded, judged (COM_QUERY / COM_STMT_PREPARE by the
//            MySQL analyzer and the policy engine, COM_INIT_DB / USE against the
//            segment's databases, refused commands answered with ERR), audited, then
//            the original bytes are forwarded and the response is streamed back while
//            protocols/mysql/ResponseTracker follows where it ends.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "audit/record.hpp"
#include "audit/result_fold.hpp"
#include "authz/identity.hpp"
#include "authz/gate/mysql_gate.hpp"
#include "authz/wal/forwarding.hpp"
#include "authz/wal/wal_catalog.hpp"
#include "protocols/mysql/commands.hpp"
#include "protocols/mysql/framer.hpp"
#include "protocols/mysql/response_tracker.hpp"
#include "daemon/net/asio.hpp"
#include "daemon/credentials/dynamic_credentials.hpp"
#include "daemon/mysql/backend_probes.hpp"
#include "daemon/mysql/mysql_backend.hpp"
#include "daemon/runtime.hpp"
#include "daemon/session/refusal.hpp"
#include "daemon/session/session_deadlines.hpp"
#include "daemon/session/session_registry.hpp"
#include "daemon/net/stream.hpp"

namespace segproxy::proxy {

class RefusalAudit;

class ListenerMetrics;
class SegmentMetrics;

class MysqlSession : public LiveSession,
                     public std::enable_shared_from_this<MysqlSession>,
                     private protocols::mysql::ResponseEvents {
 public:
  MysqlSession(tcp::socket client, std::shared_ptr<const Runtime> rt, std::size_t listener_index, Services services);
  // session.refused records for connections dropped before login (rate-limited;
  // owned by the Server; null without audit). Set before run().
  void set_refusal_audit(RefusalAudit* r) { refusals_ = r; }
  ~MysqlSession() override;

  static awaitable<void> run(std::shared_ptr<MysqlSession> self);

  // LiveSession (on the session's thread)
  void terminate(std::string code, std::string message, Termination why) override;
  // Evicted under the listener's limits.max_concurrent_handshakes (handshake_eviction.hpp):
  // closed as by its startup deadline when it has not logged in yet.
  void evict();
  SessionState state() const override;
  void adopt(std::shared_ptr<const Runtime> rt) override;
  // KILL QUERY of this session's backend thread by another session of the same identity
  // (posted to this session's thread): a command held for its audit record is cancelled
  // in the proxy and never forwarded (mysql_wal.cpp).
  void cancel_held();

 private:
  using Verdict = MysqlVerdict;
  using TxnEnd = MysqlTxnEnd;

  // The session's one state; each has one handler and timers, the operator (terminate,
  // adopt) and the response relay read it instead of flags.
  enum class State : std::uint8_t {
    Starting,   // greet_and_login (mysql_startup.cpp): startup deadline armed, nothing judged yet
    Idle,       // on_idle (mysql_relay.cpp): read, judge, audit and forward the next command
    Awaiting,   // on_response (mysql_relay.cpp): a command was forwarded, nothing of its response sent yet
    Streaming,  // on_response: part of that response reached the client
    Ending,     // terminate(): its ERR goes out, then the session closes; nothing more is judged
    Failed,     // the backend broke the protocol mid-response (a LOCAL INFILE request): relay stops
    Closed,     // close_all(): sockets closed
    Expired,    // closed by the startup deadline
  };
  // What statement_timeout did to the running command.
  enum class Interrupt : std::uint8_t {
    None,
    Killed,      // the timer fired: KILL QUERY sent to the backend
    TimedOut,    // ...and the response is the server's "interrupted" ERR: answered as ER_QUERY_TIMEOUT
  };
  bool closed() const { return state_ == State::Closed || state_ == State::Expired; }
  bool command_running() const { return state_ == State::Awaiting || state_ == State::Streaming; }

  // `self` keeps the session alive while it runs (its frame is the only one holding it).
  awaitable<void> run_phases(std::shared_ptr<MysqlSession> self);
  // The command phase: dispatches on state_ to the handler of each state.
  awaitable<void> command_phase();
  // mysql_startup.cpp
  awaitable<bool> greet_and_login();
  awaitable<bool> read_client_message(std::optional<std::uint8_t> seq, std::size_t max, protocols::Bytes& payload,
                                      std::uint8_t& next_seq);
  // Reads more client bytes into cbuf_ (undecoded bytes moved to the front, room for at
  // least `chunk` more); false: the client is gone (close_reason_ says why).
  awaitable<bool> read_client_more(std::size_t chunk);
  awaitable<void> refuse(std::uint8_t seq, std::uint16_t code, const std::string& sqlstate,
                         const std::string& message, Refusal why);
  // A connection dropped before login without a refuse(): session.refused (rate-limited,
  // daemon/session/refusal_audit.hpp) with the reason class.
  void audit_prelogin(const char* reason, std::string_view error, std::string_view sqlstate = {});
  awaitable<bool> learn_session_options();
  // mysql_lexing_follow.cpp: the lexing settings the backend reports (sql_mode,
  // character_set_client) are read back from the backend after a command that may have changed them
  // (bounded wait); false: the session must end (fail closed).
  awaitable<bool> follow_lexing_settings();
  awaitable<bool> acquire_dynamic_credential(std::uint8_t ok_seq);
  // The handlers of Idle (mysql_relay.cpp: one command) and Awaiting / Streaming
  // (mysql_response.cpp: its response). Issue 15, no coroutine frame per command: each
  // runs as plain calls while the sockets take and give at once, and returns the
  // coroutine that goes on from the step that has to wait (nullopt: finished, `go_on`
  // says whether the command phase goes on; a coroutine's result says the same). Not
  // coroutines themselves: their state stays out of command_phase's frame, which lives
  // as long as the session.
  std::optional<awaitable<bool>> on_idle(bool& go_on);
  std::optional<awaitable<bool>> on_response(bool& go_on);
  // One client command on its way through on_idle: where it stopped and what it knows.
  struct IdleStep {
    enum class At : std::uint8_t {
      Read,       // no whole message buffered: read more, then decode
      Malformed,  // the message framing is broken (`error`)
      Decoded,    // `msg` decoded: decode the command, refuse or judge it
      Judged,     // `verdict` known (`audited`: its record appended): answer or submit
      Submitted,  // submitted to the write-ahead rule, held: wal_forward's wait
      Writing,    // being written to the backend, `progress` bytes out
    };
    At at = At::Read;
    std::size_t consumed = 0;  // the message is [cstart_, cstart_ + consumed) of cbuf_
    protocols::mysql::Message msg;
    protocols::mysql::Command cmd;  // views into msg / cbuf_
    Verdict verdict;
    const Verdict* recorded = nullptr;  // what the decision record states (null: verdict)
    std::string_view text;
    std::string_view kind;  // the command's name: a literal, or kind_text
    std::string kind_text;  // a refused command's name
    bool judged = false;    // audited as a statement decision
    bool audited = false;  // its decision record was appended (Judged)
    std::uint64_t record = 0;
    authz::wal::Submission submission;
    std::size_t progress = 0;
    std::string error;
    const Verdict& recorded_verdict() const { return recorded != nullptr ? *recorded : verdict; }
  };
  awaitable<bool> on_idle_rest(IdleStep st);
  // The judging of one decoded command (no refusal of the protocol state, no aborted
  // transaction): verdict, recorded, text, kind, judged.
  void judge_command(IdleStep& st);
  authz::wal::Submission wal_submission(const IdleStep& st);
  // A forwarded command's bookkeeping (prepared statements, USE, what its response asks
  // for) and the move to Awaiting; false: the session ends.
  bool after_forward(const IdleStep& st);
  void client_read(std::size_t n);             // accounting of client bytes read
  void client_read_failed(const error_code& ec);
  // One response on its way through on_response (mysql_response.cpp).
  struct ResponseStep {
    enum class At : std::uint8_t {
      Read,       // read the next bytes of the response
      Stalled,    // a read failed after the stall watch closed the backend
      Malformed,  // the tracker refused the response before any of it was sent: ERR 1158
      Wal,        // `n` bytes wait for the records of what was forwarded before them
      TimedOut,   // statement_timeout: answer ER_QUERY_TIMEOUT instead
      WriteRest,  // `n` bytes being written to the client, `progress` out
      Done,       // relayed: what the response asks for is left (on_response_rest)
    };
    enum class Chunk : std::uint8_t { Next, Failed, Pending };
    At at = At::Read;
    bool started = false;   // a byte of the response came (the stall watch runs between reads)
    bool withheld = false;  // the records before this answer failed: read it to its end, send nothing
    std::size_t n = 0;      // bytes at the front of response_buf_
    std::size_t progress = 0;
  };
  // The relay's plain part: true when the response is complete (`ok`) or failed.
  bool relay_response_now(ResponseStep& st, bool& ok);
  awaitable<bool> relay_response_rest(ResponseStep st);
  // `n` bytes read into response_buf_: fed to the tracker, then sent unless withheld or
  // waiting for records (Pending: st.at says what is next).
  ResponseStep::Chunk response_read(std::size_t n, ResponseStep& st);
  ResponseStep::Chunk response_send(std::size_t n, ResponseStep& st);
  // After the relay (`ok`): back to Idle; true when what the response asks for needs
  // a coroutine (its record failed, lexing settings to read back: on_response_rest from
  // At::Done), else `go_on` says whether the command phase goes on.
  bool response_done(bool ok, bool& go_on);
  awaitable<bool> on_response_rest(ResponseStep st);
  void response_ddl_done();
  // daemon/mysql/mysql_protocol_state.cpp: unknown statement ids (invalid UTF-8 statement
  // text: the gate's MysqlVerdict::invalid_text).
  struct StateRefusal {
    bool drop = false;  // a command without an answer: not forwarded, not answered
    Verdict verdict;
  };
  std::optional<StateRefusal> protocol_state_refusal(const protocols::mysql::Command& cmd) const;
  // COM_STMT_EXECUTE of statement `id` prepared under an earlier configuration: its text
  // judged again under the current one; the refusal, or nullopt (allowed, or judged
  // under this configuration already). `text` is set to the statement's text.
  std::optional<Verdict> rejudge_prepared(std::uint32_t id, std::string_view& text);
  // mysql_judge.cpp: the session's side of each decision (authz/gate/mysql_gate.hpp
  // decides; here the policy-evaluation metric and KILL QUERY, which needs the registry).
  Verdict judge_sql(std::string_view sql, bool prepare);
  Verdict judge_field_list(std::string_view table);
  Verdict judge_kill_query(std::uint32_t target);
  awaitable<bool> audit_decision(const Verdict& v, std::string_view sql, std::string_view kind,
                                 std::uint64_t* record = nullptr);
  // audit_decision's plain part: Recorded, Refused (the log refused the record) or Wait
  // (a denial under the write-ahead rule: its ERR waits for record `wait`).
  enum class Audited : std::uint8_t { Recorded, Refused, Wait };
  Audited audit_decision_now(const Verdict& v, std::string_view sql, std::string_view kind, std::uint64_t* record,
                             std::uint64_t& wait);
  // mysql_backend_stall.cpp (limits.backend_message_timeout): the watch relay_response
  // keeps while it waits for the backend in the middle of a response, what its expiry
  // does, and the session's end when the backend is stalled.
  void watch_backend(bool on);
  void on_backend_silent();
  // Runs the probe `probe` holds a slot for (none: no cap configured, as in tests) and
  // takes its verdict; the slot's waiters get it too.
  static awaitable<void> probe_backend(std::shared_ptr<MysqlSession> self, std::uint64_t watch,
                                       std::optional<BackendProbes::Probe> probe);
  // On the session's thread: a verdict for watch `watch` (shared: another session's probe).
  void take_probe_verdict(std::uint64_t watch, const ProbeVerdict& v, bool shared);
  awaitable<bool> backend_stalled();
  awaitable<bool> rollback_backend();
  Verdict aborted_verdict(const protocols::mysql::Command& cmd, bool& passes);
  awaitable<bool> write_client(const protocols::Bytes& bytes);
  void on_response(const protocols::mysql::ResponseSummary& summary) override;
  void on_local_infile_request(std::string_view filename, std::uint8_t reply_seq) override;
  void on_unsolicited_error(const protocols::mysql::ErrPacket& err) override;
  // mysql_control.cpp
  audit::AuditRecord audit_record(const char* event) const;
  void audit_now(audit::AuditRecord r);
  void audit_results();  // submits the folded statement outcomes (result_fold_)
  awaitable<bool> audit_durably(audit::AuditRecord r);
  std::string misfit(const Runtime& rt) const;
  // mysql_wal.cpp: the write-ahead rule (issue 14, docs/audit.md "The guarantee").
  enum class WalOutcome : std::uint8_t { Forwarded, Answered, Failed };
  void wal_start();
  // What a statement's class depends on besides its text. THE one place the WalCatalog
  // enters the session.
  authz::wal::ClassContext wal_context() const;
  // Appends a decision record: its session record number (0: audit off or not
  // numbered), nullopt: refused by the log (fail_closed: the command must not run).
  std::optional<std::uint64_t> wal_append(const audit::AuditRecord& r);
  // Waits until every session record <= `upto` is durable. false: one failed (the
  // failure is then handled by the caller and forgiven with wal_forgive()).
  awaitable<bool> wal_wait(std::uint64_t upto);
  void wal_forgive();
  std::uint64_t wal_now_ms() const;
  // Submits one command to the rule and carries out its actions until the command is
  // forwarded (frame written to the backend) or answered by the proxy (refused, cancelled).
  // `submitted`: wal_submit(m) was done already (and its actions did not forward it).
  awaitable<WalOutcome> wal_forward(const authz::wal::Submission& m, std::span<const std::uint8_t> frame,
                                    std::uint8_t reply_seq, bool submitted = false);
  void wal_submit(const authz::wal::Submission& m);
  // The actions of wal_submit(m) forward it at once (always without the rule).
  bool wal_forwards_now(const authz::wal::Submission& m) const;
  awaitable<bool> wal_answer_err(std::uint8_t seq, std::uint16_t code, const std::string& sqlstate,
                                 const std::string& message);
  void wal_status(const protocols::mysql::ResponseSummary& s);
  awaitable<bool> wal_replace_answer();
  // The message class of a command that is not statement text (ping, reset, fetch...).
  static authz::wal::MessageClass wal_command_class(const protocols::mysql::Command& cmd);
  void close_all(State final_state = State::Closed);
  void touch_idle();
  void on_idle_expired();
  void on_statement_timeout();
  void schedule_window_close();
  void on_window_closed();
  MysqlLoginRequest login_request() const;
  // `was`: the state when the session was told to end (Idle, Awaiting or Streaming).
  static awaitable<void> terminate_with(std::shared_ptr<MysqlSession> self, State was, std::uint16_t code,
                                        std::string sqlstate, std::string message);

  std::shared_ptr<const Runtime> rt_;
  std::shared_ptr<const Runtime> pending_rt_;  // reloaded while starting: adopted before the first command
  const ListenerRuntime* listener_;
  Services svc_;
  std::uint64_t id_;
  std::string id_text_;
  std::string client_addr_;
  std::chrono::steady_clock::time_point started_;

  std::unique_ptr<Stream> client_;
  std::unique_ptr<Stream> backend_;
  MysqlReader backend_reader_;  // login phase only
  DeadlineSet deadlines_;  // one timer for the five deadlines below (issue 15)
  Deadline deadline_;
  Deadline idle_;
  Deadline window_;
  Deadline statement_timer_;
  Deadline backend_stall_;  // limits.backend_message_timeout (mysql_backend_stall.cpp)
  bool backend_stalled_ = false;
  std::uint64_t backend_watch_ = 0;  // which watch is current: a probe for an older one is moot

  protocols::Bytes cbuf_;
  protocols::Bytes response_buf_;  // backend -> client chunks (relay_response)
  std::size_t cstart_ = 0;
  std::size_t cend_ = 0;

  protocols::mysql::HandshakeV10 backend_greeting_;
  protocols::mysql::Capabilities client_caps_ = 0;
  protocols::mysql::Capabilities backend_caps_ = 0;
  std::uint8_t charset_ = protocols::mysql::kUtf8mb4GeneralCi;
  std::unique_ptr<protocols::mysql::ResponseTracker> tracker_;
  std::unique_ptr<MysqlGate> gate_;  // from the backend login on

  // The client's identity, one copy shared with the registry's facts and the gate's
  // grants (issue 15); null before the certificate was read: identity() is then empty.
  authz::SharedIdentity identity_;
  const authz::ClientIdentity& identity() const { return identity_ ? *identity_ : authz::empty_identity(); }
  std::string segment_;
  std::string database_;  // current database ("" = none)
  std::string backend_user_;
  std::optional<MintedCredential> minted_;  // dynamic credential: its lease lives with the session
  std::uint32_t connection_id_ = 0;  // the backend's thread id, also the client's
  std::unordered_map<std::uint32_t, Verdict> prepared_;  // statement id -> its PREPARE verdict
  std::optional<Verdict> pending_prepare_;                // judged COM_STMT_PREPARE awaiting its id
  // What a COM_STMT_PREPARE judged: its text, the database it resolved names in and the
  // configuration (hash) it was judged under. A COM_STMT_EXECUTE after a reload judges the
  // text again under the new policy (rejudge_prepared, mysql_judge.cpp).
  struct PreparedSource {
    std::string text;
    std::string database;
    std::string config_hash;
  };
  std::unordered_map<std::uint32_t, PreparedSource> prepared_source_;
  audit::ResultFolder result_fold_;  // outcomes not yet in a statement.result record
  std::optional<PreparedSource> pending_prepare_source_;
  std::string pending_use_;                               // database of a USE / COM_INIT_DB in flight

  State state_ = State::Starting;
  Interrupt interrupt_ = Interrupt::None;
  // Orthogonal to state_: a statement was refused inside a transaction, the proxy rolled
  // the backend's transaction back and refuses every statement until ROLLBACK / COMMIT
  // (PostgreSQL's 25P02 state; docs/mysql.md "Refusals inside a transaction"). Any
  // command-phase state can hold it.
  bool txn_aborted_ = false;
  std::uint8_t response_seq_ = 0;
  // What the response of the command in flight asks for once complete (on_response).
  bool relex_after_ = false;  // sql_mode / character_set_client may have changed: read them back
  bool ddl_after_ = false;    // DDL committed: refresh learned views (Runtime::on_ddl)
  RefusalAudit* refusals_ = nullptr;
  bool refusal_audited_ = false;   // a session.refused record was written for this connection
  bool evicted_ = false;           // closed by evict(), not by its deadline
  std::string current_sql_;
  std::chrono::steady_clock::time_point command_start_;
  std::chrono::milliseconds statement_timeout_{0};
  std::chrono::milliseconds idle_timeout_{0};
  std::uint64_t bytes_from_client_ = 0;
  std::uint64_t bytes_from_backend_ = 0;
  std::string close_reason_;
  bool opened_ = false;  // session.open was recorded (a fact for the audit chain, whatever state_ is)
  ListenerMetrics* listener_metrics_ = nullptr;
  SegmentMetrics* seg_metrics_ = nullptr;

  // Write-ahead audit (mysql_wal.cpp). Records are numbered per session (1, 2, ...) for
  // the rule, so a seq the log reuses after a failed write never confuses it.
  std::optional<authz::wal::Forwarding> wal_;  // set when the guarantee applies (group | fsync_each, fail_closed)
  std::vector<authz::wal::Action> wal_actions_;
  struct WalPending {
    std::uint64_t n = 0;
    audit::AuditTicket ticket;
  };
  std::vector<WalPending> wal_pending_;  // appended, not yet known durable (in order)
  std::uint64_t wal_next_ = 0;           // last session record number handed out
  std::uint64_t wal_durable_ = 0;        // every session record <= it is durable (or its failure was handled)
  std::uint64_t wal_answer_needs_ = 0;   // answers read now wait for this (Forwarding::answer_needs)
  std::uint64_t wal_ids_ = 0;            // submission ids
  bool wal_catalog_stale_ = false;       // a DDL is forwarded and not answered yet
  std::chrono::steady_clock::time_point last_ddl_{};  // when this session's last DDL was answered
  mutable WalCatalogs::Reader wal_catalog_;  // the catalog wal_context() last handed out
  bool wal_holding_ = false;             // a command waits for its records (cancel_held)
  bool wal_cancel_ = false;              // ... and a KILL QUERY came for it
  bool wal_answer_withheld_ = false;     // the answer's record failed: replaced once read (wal_replace_answer)
};

}  // namespace segproxy::proxy
