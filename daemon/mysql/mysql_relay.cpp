// MySQL session: the command phase, one handler per state (Idle: on_idle; Awaiting /
// Streaming: on_response). Each client command is decided (authz/gate/mysql_gate via
// daemon/mysql/mysql_judge.cpp), its decision record appended, forwarded unchanged when
// the write-ahead rule says so (daemon/mysql/mysql_wal.cpp), and its answer relayed once
// the records of what was forwarded before it are durable.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <utility>

#include "authz/sql/mysql_classifier.hpp"
#include "protocols/mysql/capabilities.hpp"
#include "protocols/mysql/framer.hpp"
#include "protocols/mysql/packets.hpp"
#include "authz/gate/mysql_errors.hpp"
#include "daemon/mysql/mysql_session.hpp"
#include "daemon/metrics/proxy_metrics.hpp"
#include "daemon/net/idle_wait.hpp"
#include "daemon/session/session_audit.hpp"

namespace segproxy::proxy {
namespace my = protocols::mysql;
namespace sql = authz::sql;
using protocols::Bytes;
using protocols::DecodeStatus;

namespace {

constexpr std::size_t kReadChunk = 64 * 1024;
constexpr std::chrono::seconds kRollbackWait{10};
constexpr const char* kUnrecorded = "segproxy: the audit log cannot record this statement, so it was not run";

// "KILL QUERY 42" (the form drivers use to cancel); nullopt for anything else.
std::optional<std::uint32_t> kill_query_target(std::string_view s) {
  auto skip = [&] {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  };
  auto word = [&](std::string_view w) {
    skip();
    if (s.size() < w.size()) return false;
    for (std::size_t i = 0; i < w.size(); ++i) {
      if (std::toupper(static_cast<unsigned char>(s[i])) != w[i]) return false;
    }
    if (s.size() > w.size() && !std::isspace(static_cast<unsigned char>(s[w.size()]))) return false;
    s.remove_prefix(w.size());
    return true;
  };
  if (!word("KILL") || !word("QUERY")) return std::nullopt;
  skip();
  std::uint64_t n = 0;
  std::size_t digits = 0;
  while (!s.empty() && std::isdigit(static_cast<unsigned char>(s.front())) && digits < 10) {
    n = n * 10 + static_cast<std::uint64_t>(s.front() - '0');
    s.remove_prefix(1);
    ++digits;
  }
  skip();
  if (!s.empty() && s.front() == ';') s.remove_prefix(1);
  skip();
  if (digits == 0 || !s.empty() || n > 0xffffffffu) return std::nullopt;
  return static_cast<std::uint32_t>(n);
}

}  // namespace

// The command phase: one handler per state (mysql_session.hpp, State).
awaitable<void> MysqlSession::command_phase() {
  touch_idle();
  schedule_window_close();
  // A configuration reloaded while the session was starting (adopt() kept it for now).
  if (pending_rt_) adopt(std::exchange(pending_rt_, nullptr));
  wal_start();  // the write-ahead rule of this session (mysql_wal.cpp)
  for (;;) {
    bool go_on = false;
    switch (state_) {
      case State::Idle:
        if (cstart_ == cend_) {
          // Nothing buffered: the session waits here for the next command, with no read
          // buffer and without on_idle's frame (~3 KiB) alive while it is idle (issue 15).
          // An error is reported by the read in on_idle.
          error_code ec;
          co_await wait_client_idle(*client_, cbuf_, cstart_, cend_, ec);
        }
        go_on = co_await on_idle();
        break;
      case State::Awaiting:
      case State::Streaming:
        go_on = co_await on_response();
        break;
      case State::Starting:
      case State::Ending:
      case State::Failed:
      case State::Closed:
      case State::Expired:
        break;
    }
    if (!go_on) co_return;
  }
}

// Idle (MySQL client/server protocol, "Command Phase"): one whole command message is
// read (a client that pipelines waits in our buffer), decoded, judged, audited and, when
// allowed, forwarded unchanged; a command that gets a response moves to Awaiting.
awaitable<bool> MysqlSession::on_idle() {
  my::Message msg;
  std::size_t consumed = 0;
  for (;;) {
    auto view = std::span<const std::uint8_t>(cbuf_.data() + cstart_, cend_ - cstart_);
    auto d = my::decode_message(view, std::uint8_t{0}, rt_->limits.max_mysql_client_message);
    if (d.status == DecodeStatus::Ok) {
      msg = std::move(d.value);
      consumed = d.consumed;
      break;
    }
    if (d.status == DecodeStatus::Malformed) {
      close_reason_ = "malformed packet: " + d.error;
      Bytes out;
      my::encode_err_packet(out, 1, 1156, "08S01", "Got packets out of order (segproxy: " + d.error + ")", client_caps_);
      co_await write_client(out);
      co_return false;
    }
    if (!co_await read_client_more(kReadChunk)) co_return false;
    touch_idle();
  }
  if (state_ != State::Idle) co_return false;  // terminated while the command arrived
  const std::span<const std::uint8_t> frame(cbuf_.data() + cstart_, consumed);
  const std::uint8_t reply_seq = msg.next_seq();
  auto decoded = my::decode_command(msg.payload(), client_caps_);
  auto answer = [&](std::uint16_t code, const std::string& state, const std::string& message) -> awaitable<bool> {
    Bytes out;
    my::encode_err_packet(out, reply_seq, code, state, message, client_caps_);
    cstart_ += consumed;
    co_return co_await write_client(out);
  };
  if (decoded.status != DecodeStatus::Ok) {
    co_return co_await answer(ER_UNKNOWN_COM, "08S01", "segproxy: malformed command: " + decoded.error);
  }
  const my::Command& cmd = decoded.value;
  auto answer_unrecorded = [&]() -> awaitable<bool> {
    const std::string state = "HY000";  // named: never a temporary in a co_await (GCC 12)
    const std::string message = kUnrecorded;
    co_return co_await answer(ER_ERROR_ON_WRITE, state, message);
  };
  if (auto refusal = protocol_state_refusal(cmd)) {  // issue 12 item 4.5
    if (refusal->drop) {
      cstart_ += consumed;
      co_return true;
    }
    if (!co_await audit_decision(refusal->verdict, {}, refusal->verdict.command)) {
      co_return co_await answer_unrecorded();
    }
    co_return co_await answer(refusal->verdict.code, refusal->verdict.sqlstate, refusal->verdict.message);
  }
  if (txn_aborted_) {
    bool passes = false;
    const Verdict refused = aborted_verdict(cmd, passes);
    if (!passes) {
      std::string_view refused_text;
      if (const auto* q = std::get_if<my::ComQuery>(&cmd)) refused_text = q->sql;
      else if (const auto* p = std::get_if<my::ComStmtPrepare>(&cmd)) refused_text = p->sql;
      if (!refused_text.empty()) current_sql_.assign(refused_text.substr(0, 1024));
      const std::string refused_kind = my::command_name(my::command_code(cmd));
      if (!co_await audit_decision(refused, refused_text, refused_kind)) {
        co_return co_await answer_unrecorded();
      }
      co_return co_await answer(refused.code, refused.sqlstate, refused.message);
    }
  }
  Verdict verdict;
  verdict.allow = true;
  const Verdict* recorded = &verdict;  // what the decision record states (an execution: its PREPARE's)
  std::string_view text;
  std::string kind;
  bool judged = false;  // audited as a statement decision
  if (const auto* q = std::get_if<my::ComQuery>(&cmd)) {
    text = q->sql;
    kind = "COM_QUERY";
    if (auto target = kill_query_target(q->sql)) verdict = judge_kill_query(*target);
    else verdict = judge_sql(q->sql, false);
    judged = true;
  } else if (const auto* p = std::get_if<my::ComStmtPrepare>(&cmd)) {
    text = p->sql;
    kind = "COM_STMT_PREPARE";
    verdict = judge_sql(p->sql, true);
    judged = true;
  } else if (const auto* db = std::get_if<my::ComInitDb>(&cmd)) {
    text = db->schema;
    kind = "COM_INIT_DB";
    verdict = gate_->check_database(db->schema);
    judged = true;
  } else if (const auto* fl = std::get_if<my::ComFieldList>(&cmd)) {
    verdict = judge_field_list(fl->table);  // column metadata of one table: judged as reading it
  } else if (std::holds_alternative<my::ComStmtExecute>(cmd) || std::holds_alternative<my::ComStmtFetch>(cmd)) {
    const auto w = rt_->policy->check_window(segment_, std::chrono::system_clock::now());
    const auto* exec = std::get_if<my::ComStmtExecute>(&cmd);
    if (!w.allow) {
      verdict = MysqlGate::window_closed(w, {});
      kind = "COM_STMT_EXECUTE";
      judged = true;
    } else if (auto again = exec != nullptr ? rejudge_prepared(exec->statement_id, text) : std::nullopt) {
      verdict = std::move(*again);  // prepared before a reload, denied by the new policy
      kind = "COM_STMT_EXECUTE";
      judged = true;
    } else if (exec != nullptr) {
      // Every execution gets its own decision record before it runs (issue 14), stating
      // its PREPARE's decision; it takes the class of the prepared statement.
      if (const auto src = prepared_source_.find(exec->statement_id); src != prepared_source_.end()) {
        text = src->second.text;
      }
      if (const auto prep = prepared_.find(exec->statement_id); prep != prepared_.end()) recorded = &prep->second;
      kind = "COM_STMT_EXECUTE";
      judged = true;
    }
  } else if (const auto* r = std::get_if<my::ComRefused>(&cmd)) {
    verdict.allow = false;
    verdict.code = r->known ? ER_SPECIFIC_ACCESS_DENIED : ER_UNKNOWN_COM;
    verdict.sqlstate = r->known ? "42000" : "08S01";
    verdict.message = r->known ? "segproxy: command " + std::string(my::command_name(my::command_code(cmd))) + " is not allowed"
                               : std::string("Unknown command");
    kind = std::string(my::command_name(my::command_code(cmd)));
    judged = true;
  } else if (std::holds_alternative<my::ComProcessKill>(cmd)) {
    verdict.allow = false;
    verdict.code = ER_SPECIFIC_ACCESS_DENIED;
    verdict.sqlstate = "42000";
    verdict.message = "segproxy: COM_PROCESS_KILL is not allowed (use KILL QUERY on a session of your own)";
    kind = "COM_PROCESS_KILL";
    judged = true;
  }
  if (verdict.invalid_text) {
    // Bytes that are not UTF-8 outside string literals (issue 12 item 4.5): the server
    // would refuse the text itself, so it is answered like a protocol-state refusal:
    // recorded without the text, the transaction left as it is.
    if (!co_await audit_decision(verdict, {}, verdict.command)) co_return co_await answer_unrecorded();
    co_return co_await answer(verdict.code, verdict.sqlstate, verdict.message);
  }
  std::uint64_t record = 0;  // the decision record's session number (mysql_wal.cpp)
  if (judged) {
    if (!text.empty()) current_sql_.assign(text.substr(0, 1024));
    if (!co_await audit_decision(*recorded, text, kind, &record)) {
      verdict.allow = false;
      verdict.code = ER_ERROR_ON_WRITE;
      verdict.sqlstate = "HY000";
      verdict.message = kUnrecorded;
    }
  }
  if (!verdict.allow) {
    // Refused inside a transaction: the transaction must not commit without it
    // (PostgreSQL semantics): roll it back now, refuse everything until ROLLBACK.
    std::string message = verdict.message;
    // (--bench-policy-off judges nothing, so it could never leave the aborted state.)
    if (tracker_->in_transaction() && svc_.enforce_policy) {
      const bool rolled_back = co_await rollback_backend();
      if (!rolled_back) {
        message += " (segproxy could not roll the transaction back and closes the connection; the server rolls "
                   "it back)";
        co_await answer(verdict.code, verdict.sqlstate, message);
        co_return false;
      }
      // A COMMIT / ROLLBACK whose own record the log refused ended the transaction all
      // the same (rolled back), as when the write-ahead rule refuses it (mysql_wal.cpp):
      // no aborted state to leave with a second ROLLBACK.
      if (verdict.code == ER_ERROR_ON_WRITE && verdict.ends != TxnEnd::None) {
        message += " (segproxy rolled the transaction back; nothing was committed)";
      } else {
        txn_aborted_ = true;
        message += " (segproxy rolled the transaction back; statements are refused until ROLLBACK)";
      }
    }
    co_return co_await answer(verdict.code, verdict.sqlstate, message);
  }
  if (std::holds_alternative<my::ComQuit>(cmd)) {
    close_reason_ = "client quit";
    error_code ec;
    co_await backend_->write(asio::buffer(frame.data(), frame.size()), ec);
    co_return false;
  }
  // The write-ahead rule decides when the command goes (unless terminate() came while
  // the decision was recorded): at once, after its records are durable, or never
  // (refused / cancelled, answered here).
  if (state_ != State::Idle) co_return false;
  const bool no_response = std::holds_alternative<my::ComStmtClose>(cmd) ||
                           std::holds_alternative<my::ComStmtSendLongData>(cmd);
  authz::wal::MessageClass command_class;
  const authz::wal::MessageClass* klass = &command_class;
  if (std::holds_alternative<my::ComQuery>(cmd) || std::holds_alternative<my::ComStmtExecute>(cmd)) {
    klass = &recorded->wal;
  } else {
    command_class = wal_command_class(cmd);
  }
  const auto submission = authz::wal::Submission::of(
      ++wal_ids_, no_response ? authz::wal::MessageKind::MyNoResponse : authz::wal::MessageKind::MyCommand, *klass,
      record);
  const WalOutcome outcome = co_await wal_forward(submission, frame, reply_seq);
  if (outcome == WalOutcome::Failed) co_return false;
  cstart_ += consumed;
  if (outcome == WalOutcome::Answered) co_return true;
  if (const auto* p = std::get_if<my::ComStmtPrepare>(&cmd)) {
    pending_prepare_ = verdict;
    pending_prepare_source_ = PreparedSource{std::string(p->sql), database_, rt_->config_hash};
  }
  if (!verdict.use_database.empty()) pending_use_ = verdict.use_database;
  if (std::holds_alternative<my::ComQuery>(cmd)) gate_->note_forwarded(verdict);
  if (std::holds_alternative<my::ComResetConnection>(cmd)) {
    prepared_.clear();
    prepared_source_.clear();
    gate_->forget_prepared_names();
  }
  if (const auto* c = std::get_if<my::ComStmtClose>(&cmd)) {
    prepared_.erase(c->statement_id);
    prepared_source_.erase(c->statement_id);
  }
  // What the response asks for once complete: sql_mode / character_set_client may have
  // changed (daemon/mysql/mysql_lexing_follow.cpp); DDL commits implicitly once answered
  // (every DDL the analyzer allows names a relation with op "alter"; an ERR costs one
  // refresh of the learned views).
  relex_after_ = std::holds_alternative<my::ComResetConnection>(cmd) ||
                 (std::holds_alternative<my::ComQuery>(cmd) && verdict.changes_lexing);
  ddl_after_ = std::holds_alternative<my::ComQuery>(cmd) && verdict.alters;
  if (const auto* exec = std::get_if<my::ComStmtExecute>(&cmd)) {
    const auto prep = prepared_.find(exec->statement_id);
    relex_after_ = prep == prepared_.end() || prep->second.changes_lexing;
    ddl_after_ = prep != prepared_.end() && prep->second.alters;
  }
  if (ddl_after_) wal_catalog_stale_ = true;  // the loaded catalog no longer proves anything
  tracker_->expect(cmd, reply_seq);
  if (tracker_->idle()) co_return true;  // no response (COM_STMT_CLOSE, SEND_LONG_DATA)
  if (state_ != State::Idle) co_return false;
  state_ = State::Awaiting;
  interrupt_ = Interrupt::None;
  response_seq_ = reply_seq;
  command_start_ = std::chrono::steady_clock::now();
  if (statement_timeout_.count() > 0) statement_timer_.arm(statement_timeout_);
  co_return true;
}

// Awaiting / Streaming: the command's response is relayed to its end; then back to Idle
// (after reading the lexing settings back, or asking for a view refresh, when the
// command may have changed them).
awaitable<bool> MysqlSession::on_response() {
  const bool ok = co_await relay_response();
  statement_timer_.disarm();
  if (command_running()) state_ = State::Idle;
  if (!ok) co_return false;
  if (wal_answer_withheld_ && !co_await wal_replace_answer()) co_return false;
  if (relex_after_ && !co_await follow_lexing_settings()) co_return false;
  if (ddl_after_) {
    last_ddl_ = std::chrono::steady_clock::now();  // catalogs loaded before now miss it
    wal_catalog_stale_ = false;
    rt_->on_ddl();
  }
  co_return true;
}

// The aborted state: which commands still pass. Commands that are not statements (quit,
// ping, statistics, closing / resetting / feeding prepared statements, options, reset
// connection, and refused commands, which get their own ERR) pass; ROLLBACK passes and
// ends the state (the backend's transaction is already rolled back; ROLLBACK TO
// SAVEPOINT cannot recover: no savepoint exists any more); COMMIT ends the state with an
// ERR (nothing was committed: a client must never believe it was); everything else is
// refused without reaching the backend.
MysqlSession::Verdict MysqlSession::aborted_verdict(const my::Command& cmd, bool& passes) {
  passes = false;
  Verdict v;
  v.command = my::command_name(my::command_code(cmd));
  TxnEnd end = TxnEnd::None;
  if (const auto* q = std::get_if<my::ComQuery>(&cmd)) {
    const Verdict judged = judge_sql(q->sql, false);
    if (judged.invalid_text) {  // answered 1300 as in any state (on_idle)
      passes = true;
      return v;
    }
    end = judged.ends;
    v.command = judged.command;
    v.fingerprint = judged.fingerprint;
  } else if (const auto* p = std::get_if<my::ComStmtPrepare>(&cmd); p != nullptr && judge_sql(p->sql, true).invalid_text) {
    passes = true;  // answered 1300 as in any state (on_idle)
    return v;
  } else if (const auto* e = std::get_if<my::ComStmtExecute>(&cmd)) {
    if (auto it = prepared_.find(e->statement_id); it != prepared_.end()) {
      end = it->second.ends;
      v.command = it->second.command;
    }
  } else if (std::holds_alternative<my::ComQuit>(cmd) || std::holds_alternative<my::ComPing>(cmd) ||
             std::holds_alternative<my::ComStatistics>(cmd) || std::holds_alternative<my::ComStmtClose>(cmd) ||
             std::holds_alternative<my::ComStmtReset>(cmd) || std::holds_alternative<my::ComStmtSendLongData>(cmd) ||
             std::holds_alternative<my::ComSetOption>(cmd) || std::holds_alternative<my::ComRefused>(cmd) ||
             std::holds_alternative<my::ComProcessKill>(cmd)) {
    passes = true;
    return v;
  } else if (std::holds_alternative<my::ComResetConnection>(cmd)) {
    txn_aborted_ = false;  // a fresh session state
    passes = true;
    return v;
  }
  if (end == TxnEnd::Rollback) {
    txn_aborted_ = false;
    passes = true;
    return v;
  }
  v.allow = false;
  v.audit_reason = "transaction aborted";
  if (end == TxnEnd::Commit) {
    txn_aborted_ = false;
    v.code = ER_ERROR_DURING_COMMIT;
    v.sqlstate = "40000";
    v.message = "segproxy: the transaction was rolled back because a statement in it was refused; nothing was "
                "committed";
    return v;
  }
  v.code = ER_XAER_RMFAIL;
  v.sqlstate = "25000";
  v.message = "segproxy: current transaction is aborted (a statement in it was refused and the transaction was "
              "rolled back); statements are refused until ROLLBACK";
  return v;
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

// Streams backend bytes to the client until the tracker says the response is complete.
awaitable<bool> MysqlSession::relay_response() {
  // Borrowed from the thread's pool for this response (no allocation per statement once
  // the pool is warm; an idle session holds no buffer: issue 15).
  Bytes& buf = response_buf_;
  const BufferLease lease(backend_->buffers(), buf, kReadChunk);
  bool withheld = false;  // the records before this answer failed: read it to its end, send nothing
  // limits.backend_message_timeout watches the backend from the first byte of the
  // response to its end (mysql_backend_stall.cpp); before it, the query may take its time.
  bool started = false;
  while (!tracker_->idle()) {
    error_code ec;
    if (started) watch_backend(true);
    const std::size_t n = co_await backend_->read_some(asio::buffer(buf.data(), kReadChunk), ec);
    if (started) watch_backend(false);
    if (ec && backend_stalled_) co_return co_await backend_stalled();
    started = true;
    if (ec) {
      if (close_reason_.empty()) close_reason_ = ec == asio::error::eof ? "backend closed" : "backend read: " + ec.message();
      co_return false;
    }
    bytes_from_backend_ += n;
    if (listener_metrics_ != nullptr) listener_metrics_->bytes(Direction::BackendToClient).inc(n);
    const auto chunk = std::span<const std::uint8_t>(buf.data(), n);
    if (tracker_->feed(chunk, *this) == DecodeStatus::Malformed) {
      close_reason_ = "malformed backend response: " + tracker_->error();
      svc_.log.error("backend.protocol_violation", {{"session", id_text_}, {"error", tracker_->error()}});
      if (state_ == State::Awaiting) {  // nothing of this response reached the client: a clean ERR instead
        Bytes out;
        my::encode_err_packet(out, response_seq_, 1158, "08S01",
                              "segproxy: backend sent a malformed response (" + tracker_->error() + ")", client_caps_);
        co_await write_client(out);
      }
      co_return false;
    }
    if (state_ == State::Failed) co_return false;
    if (withheld) continue;
    // Write-ahead (issue 14): bytes read now reach the client once every record of what
    // was forwarded before them is durable.
    if (wal_ && wal_durable_ < wal_answer_needs_) {
      const std::uint64_t needs = wal_answer_needs_;
      if (!co_await wal_wait(needs)) {
        withheld = true;
        continue;
      }
      if (closed()) co_return false;
    }
    if (interrupt_ == Interrupt::TimedOut && state_ == State::Awaiting && tracker_->idle()) {
      // statement_timeout: the client gets MySQL's own answer for it (ER_QUERY_TIMEOUT
      // 3024) instead of the server's generic "query execution was interrupted".
      Bytes out;
      my::encode_err_packet(out, response_seq_, 3024, "HY000",
                            "Query execution was interrupted, maximum statement execution time exceeded (segproxy "
                            "statement_timeout)",
                            client_caps_);
      co_return co_await write_client(out);
    }
    if (state_ == State::Awaiting) state_ = State::Streaming;
    co_await client_->write(asio::buffer(chunk.data(), chunk.size()), ec);
    if (ec) {
      if (close_reason_.empty()) close_reason_ = "client write: " + ec.message();
      co_return false;
    }
    touch_idle();
  }
  if (withheld) wal_answer_withheld_ = true;  // on_response replaces it
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
