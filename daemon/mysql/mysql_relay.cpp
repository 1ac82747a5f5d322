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
#include "daemon/net/client_fill.hpp"
#include "daemon/net/idle_wait.hpp"
#include "daemon/session/session_audit.hpp"

namespace segproxy::proxy {
namespace my = protocols::mysql;
namespace sql = authz::sql;
using protocols::Bytes;
using protocols::DecodeStatus;

namespace {

constexpr std::size_t kReadChunk = 64 * 1024;
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
  // A handler's continuation when it has to wait. Declared here, not in an if-condition:
  // GCC 12 keeps such a variable out of the coroutine frame although its life spans the
  // co_await (its destructor then ran on a stale stack slot: a crash).
  std::optional<awaitable<bool>> rest;
  for (;;) {
    bool go_on = false;
    switch (state_) {
      case State::Idle:
        if (cstart_ == cend_) {
          // Nothing buffered: the session waits here for the next command, with no read
          // buffer and without on_idle's state alive while it is idle (issue 15). An
          // error is reported by the read in on_idle.
          error_code ec;
          if (client_->readable_now()) cstart_ = cend_ = 0;  // the wait would complete at once
          else co_await wait_client_idle(*client_, cbuf_, cstart_, cend_, ec);
        }
        if (auto now = on_idle(go_on)) rest.emplace(std::move(*now));  // `now` ends before any co_await
        if (rest) {
          go_on = co_await std::move(*rest);
          rest.reset();
        }
        break;
      case State::Awaiting:
      case State::Streaming:
        if (state_ == State::Awaiting && !backend_->readable_now()) {
          // The backend has not answered yet: the response is awaited here, so that
          // on_response reads it as plain calls (issue 15; before the first byte the
          // query may take its time: no stall watch). An error is reported by its read.
          error_code ec;
          co_await backend_->wait_readable(ec);
        }
        if (auto now = on_response(go_on)) rest.emplace(std::move(*now));  // `now` ends before any co_await
        if (rest) {
          go_on = co_await std::move(*rest);
          rest.reset();
        }
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

void MysqlSession::client_read(std::size_t n) {
  cend_ += n;
  bytes_from_client_ += n;
  if (listener_metrics_ != nullptr) listener_metrics_->bytes(Direction::ClientToBackend).inc(n);
}

void MysqlSession::client_read_failed(const error_code& ec) {
  if (close_reason_.empty()) close_reason_ = ec == asio::error::eof ? "client closed" : "client read: " + ec.message();
}

// Idle (MySQL client/server protocol, "Command Phase"): one whole command message is
// read (a client that pipelines waits in our buffer), decoded, judged, audited and, when
// allowed, forwarded unchanged; a command that gets a response moves to Awaiting. This
// is the plain part: the common command (allowed, forwarded at once) takes no coroutine
// frame; anything that waits or answers goes on in on_idle_rest.
std::optional<awaitable<bool>> MysqlSession::on_idle(bool& go_on) {
  using At = IdleStep::At;
  IdleStep st;
  for (;;) {
    auto view = std::span<const std::uint8_t>(cbuf_.data() + cstart_, cend_ - cstart_);
    auto d = my::decode_message(view, std::uint8_t{0}, rt_->limits.max_mysql_client_message);
    if (d.status == DecodeStatus::Ok) {
      st.msg = std::move(d.value);
      st.consumed = d.consumed;
      break;
    }
    if (d.status == DecodeStatus::Malformed) {
      st.error = std::move(d.error);
      st.at = At::Malformed;
      return on_idle_rest(std::move(st));
    }
    error_code ec;
    std::size_t n = 0;
    const Fill f = fill_client_now(*client_, cbuf_, cstart_, cend_, kReadChunk, 0, ec, n);
    if (f == Fill::Wait) return on_idle_rest(std::move(st));  // At::Read
    if (f == Fill::Failed) {
      client_read_failed(ec);
      go_on = false;
      return std::nullopt;
    }
    client_read(n);
    touch_idle();
  }
  st.at = At::Decoded;
  go_on = false;
  if (state_ != State::Idle) return std::nullopt;  // terminated while the command arrived
  auto decoded = my::decode_command(st.msg.payload(), client_caps_);
  // Malformed commands, refusals of the protocol state and the aborted transaction are
  // answered by on_idle_rest (which decodes the command again).
  if (decoded.status != DecodeStatus::Ok || txn_aborted_) return on_idle_rest(std::move(st));
  st.cmd = decoded.value;
  if (protocol_state_refusal(st.cmd)) return on_idle_rest(std::move(st));
  judge_command(st);
  st.at = At::Judged;
  if (st.verdict.invalid_text || !st.verdict.allow || !st.recorded_verdict().allow ||
      std::holds_alternative<my::ComQuit>(st.cmd)) {
    return on_idle_rest(std::move(st));
  }
  if (st.judged) {
    if (!st.text.empty()) current_sql_.assign(st.text.substr(0, 1024));
    st.audited = true;
    std::uint64_t wait = 0;  // an allowed command's record is never waited for here
    if (audit_decision_now(st.recorded_verdict(), st.text, st.kind, &st.record, wait) != Audited::Recorded) {
      st.verdict.allow = false;
      st.verdict.code = ER_ERROR_ON_WRITE;
      st.verdict.sqlstate = "HY000";
      st.verdict.message = kUnrecorded;
      return on_idle_rest(std::move(st));
    }
  }
  // The write-ahead rule decides when the command goes (unless terminate() came while
  // the decision was recorded): at once, after its records are durable, or never.
  if (state_ != State::Idle) return std::nullopt;
  st.submission = wal_submission(st);
  wal_submit(st.submission);
  if (!wal_forwards_now(st.submission)) {
    st.at = At::Submitted;
    return on_idle_rest(std::move(st));
  }
  if (wal_) wal_answer_needs_ = wal_->answer_needs();
  error_code ec;
  if (!backend_->write_now(asio::const_buffer(cbuf_.data() + cstart_, st.consumed), ec, st.progress)) {
    st.at = At::Writing;
    return on_idle_rest(std::move(st));
  }
  if (ec) {
    close_reason_ = "backend write: " + ec.message();
    return std::nullopt;
  }
  cstart_ += st.consumed;
  go_on = after_forward(st);
  return std::nullopt;
}

// on_idle from the step that has to wait (st.at) to the command's end.
awaitable<bool> MysqlSession::on_idle_rest(IdleStep st) {
  using At = IdleStep::At;
  while (st.at == At::Read) {
    if (!co_await read_client_more(kReadChunk)) co_return false;
    touch_idle();
    auto view = std::span<const std::uint8_t>(cbuf_.data() + cstart_, cend_ - cstart_);
    auto d = my::decode_message(view, std::uint8_t{0}, rt_->limits.max_mysql_client_message);
    if (d.status == DecodeStatus::Ok) {
      st.msg = std::move(d.value);
      st.consumed = d.consumed;
      st.at = At::Decoded;
    } else if (d.status == DecodeStatus::Malformed) {
      st.error = std::move(d.error);
      st.at = At::Malformed;
    }
  }
  if (st.at == At::Malformed) {
    close_reason_ = "malformed packet: " + st.error;
    Bytes out;
    my::encode_err_packet(out, 1, 1156, "08S01", "Got packets out of order (segproxy: " + st.error + ")", client_caps_);
    co_await write_client(out);
    co_return false;
  }
  // The message stays where it is in cbuf_ (nothing more is read) until it is consumed.
  const std::span<const std::uint8_t> frame(cbuf_.data() + cstart_, st.consumed);
  const std::uint8_t reply_seq = st.msg.next_seq();
  const std::size_t consumed = st.consumed;
  auto answer = [&](std::uint16_t code, const std::string& state, const std::string& message) -> awaitable<bool> {
    Bytes out;
    my::encode_err_packet(out, reply_seq, code, state, message, client_caps_);
    cstart_ += consumed;
    co_return co_await write_client(out);
  };
  auto answer_unrecorded = [&]() -> awaitable<bool> {
    const std::string state = "HY000";  // named: never a temporary in a co_await (GCC 12)
    const std::string message = kUnrecorded;
    co_return co_await answer(ER_ERROR_ON_WRITE, state, message);
  };
  if (st.at == At::Decoded) {
    if (state_ != State::Idle) co_return false;  // terminated while the command arrived
    auto decoded = my::decode_command(st.msg.payload(), client_caps_);
    if (decoded.status != DecodeStatus::Ok) {
      co_return co_await answer(ER_UNKNOWN_COM, "08S01", "segproxy: malformed command: " + decoded.error);
    }
    st.cmd = decoded.value;
    const my::Command& cmd = st.cmd;
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
    judge_command(st);
    st.at = At::Judged;
  }
  const my::Command& cmd = st.cmd;
  Verdict& verdict = st.verdict;
  if (st.at == At::Judged) {
    if (!st.kind_text.empty()) st.kind = st.kind_text;  // (a moved string's characters may have moved)
    if (verdict.invalid_text) {
      // Bytes that are not UTF-8 outside string literals (issue 12 item 4.5): the server
      // would refuse the text itself, so it is answered like a protocol-state refusal:
      // recorded without the text, the transaction left as it is.
      if (!co_await audit_decision(verdict, {}, verdict.command)) co_return co_await answer_unrecorded();
      co_return co_await answer(verdict.code, verdict.sqlstate, verdict.message);
    }
    if (st.judged && !st.audited) {
      if (!st.text.empty()) current_sql_.assign(st.text.substr(0, 1024));
      if (!co_await audit_decision(st.recorded_verdict(), st.text, st.kind, &st.record)) {
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
    st.submission = wal_submission(st);
  }
  if (st.at == At::Writing) {
    const asio::const_buffer out(frame.data(), frame.size());
    error_code ec;
    co_await backend_->finish_write(out, st.progress, ec);
    if (ec) {
      close_reason_ = "backend write: " + ec.message();
      co_return false;
    }
    cstart_ += consumed;
  } else {
    const WalOutcome outcome = co_await wal_forward(st.submission, frame, reply_seq, st.at == At::Submitted);
    if (outcome == WalOutcome::Failed) co_return false;
    cstart_ += consumed;
    if (outcome == WalOutcome::Answered) co_return true;
  }
  co_return after_forward(st);
}

// The judging of one command (on_idle): each kind of command to its judge.
void MysqlSession::judge_command(IdleStep& st) {
  const my::Command& cmd = st.cmd;
  Verdict& verdict = st.verdict;
  verdict.allow = true;
  if (const auto* q = std::get_if<my::ComQuery>(&cmd)) {
    st.text = q->sql;
    st.kind = "COM_QUERY";
    if (auto target = kill_query_target(q->sql)) verdict = judge_kill_query(*target);
    else verdict = judge_sql(q->sql, false);
    st.judged = true;
  } else if (const auto* p = std::get_if<my::ComStmtPrepare>(&cmd)) {
    st.text = p->sql;
    st.kind = "COM_STMT_PREPARE";
    verdict = judge_sql(p->sql, true);
    st.judged = true;
  } else if (const auto* db = std::get_if<my::ComInitDb>(&cmd)) {
    st.text = db->schema;
    st.kind = "COM_INIT_DB";
    verdict = gate_->check_database(db->schema);
    st.judged = true;
  } else if (const auto* fl = std::get_if<my::ComFieldList>(&cmd)) {
    verdict = judge_field_list(fl->table);  // column metadata of one table: judged as reading it
  } else if (std::holds_alternative<my::ComStmtExecute>(cmd) || std::holds_alternative<my::ComStmtFetch>(cmd)) {
    const auto w = rt_->policy->check_window(segment_, std::chrono::system_clock::now());
    const auto* exec = std::get_if<my::ComStmtExecute>(&cmd);
    if (!w.allow) {
      verdict = MysqlGate::window_closed(w, {});
      st.kind = "COM_STMT_EXECUTE";
      st.judged = true;
    } else if (auto again = exec != nullptr ? rejudge_prepared(exec->statement_id, st.text) : std::nullopt) {
      verdict = std::move(*again);  // prepared before a reload, denied by the new policy
      st.kind = "COM_STMT_EXECUTE";
      st.judged = true;
    } else if (exec != nullptr) {
      // Every execution gets its own decision record before it runs (issue 14), stating
      // its PREPARE's decision; it takes the class of the prepared statement.
      if (const auto src = prepared_source_.find(exec->statement_id); src != prepared_source_.end()) {
        st.text = src->second.text;
      }
      if (const auto prep = prepared_.find(exec->statement_id); prep != prepared_.end()) st.recorded = &prep->second;
      st.kind = "COM_STMT_EXECUTE";
      st.judged = true;
    }
  } else if (const auto* r = std::get_if<my::ComRefused>(&cmd)) {
    verdict.allow = false;
    verdict.code = r->known ? ER_SPECIFIC_ACCESS_DENIED : ER_UNKNOWN_COM;
    verdict.sqlstate = r->known ? "42000" : "08S01";
    verdict.message = r->known ? "segproxy: command " + std::string(my::command_name(my::command_code(cmd))) + " is not allowed"
                               : std::string("Unknown command");
    st.kind_text = my::command_name(my::command_code(cmd));  // st.kind points at it in on_idle_rest
    st.judged = true;
  } else if (std::holds_alternative<my::ComProcessKill>(cmd)) {
    verdict.allow = false;
    verdict.code = ER_SPECIFIC_ACCESS_DENIED;
    verdict.sqlstate = "42000";
    verdict.message = "segproxy: COM_PROCESS_KILL is not allowed (use KILL QUERY on a session of your own)";
    st.kind = "COM_PROCESS_KILL";
    st.judged = true;
  }
}

authz::wal::Submission MysqlSession::wal_submission(const IdleStep& st) {
  const my::Command& cmd = st.cmd;
  const bool no_response = std::holds_alternative<my::ComStmtClose>(cmd) ||
                           std::holds_alternative<my::ComStmtSendLongData>(cmd);
  const auto kind = no_response ? authz::wal::MessageKind::MyNoResponse : authz::wal::MessageKind::MyCommand;
  if (std::holds_alternative<my::ComQuery>(cmd) || std::holds_alternative<my::ComStmtExecute>(cmd)) {
    return authz::wal::Submission::of(++wal_ids_, kind, st.recorded_verdict().wal, st.record);
  }
  return authz::wal::Submission::of(++wal_ids_, kind, wal_command_class(cmd), st.record);
}

bool MysqlSession::after_forward(const IdleStep& st) {
  const my::Command& cmd = st.cmd;
  const Verdict& verdict = st.verdict;
  const std::uint8_t reply_seq = st.msg.next_seq();
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
  if (tracker_->idle()) return true;  // no response (COM_STMT_CLOSE, SEND_LONG_DATA)
  if (state_ != State::Idle) return false;
  state_ = State::Awaiting;
  interrupt_ = Interrupt::None;
  response_seq_ = reply_seq;
  command_start_ = std::chrono::steady_clock::now();
  if (statement_timeout_.count() > 0) statement_timer_.arm(statement_timeout_);
  return true;
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

}  // namespace segproxy::proxy
