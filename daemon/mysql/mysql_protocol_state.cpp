// MySQL commands refused for protocol state, before any policy (issue 12 item 4.5):
//  - COM_STMT_EXECUTE / FETCH / RESET of a statement id not prepared through this
//    session (or closed since): ER_UNKNOWN_STMT_HANDLER 1243 from the proxy;
//    COM_STMT_SEND_LONG_DATA / COM_STMT_CLOSE get no answer from a server, so they are
//    dropped.
// (COM_QUERY / COM_STMT_PREPARE text with bytes that are not UTF-8 outside string
// literals in a utf8-family session gets ER_INVALID_CHARACTER_STRING 1300 from the gate,
// found in its one lexing pass: MysqlVerdict::invalid_text, handled in mysql_relay.cpp.)
#include "authz/gate/mysql_errors.hpp"
#include "daemon/mysql/mysql_session.hpp"

namespace segproxy::proxy {
namespace my = protocols::mysql;

namespace {

std::optional<std::uint32_t> statement_id(const my::Command& cmd, bool& answered) {
  answered = true;
  if (const auto* e = std::get_if<my::ComStmtExecute>(&cmd)) return e->statement_id;
  if (const auto* f = std::get_if<my::ComStmtFetch>(&cmd)) return f->statement_id;
  if (const auto* r = std::get_if<my::ComStmtReset>(&cmd)) return r->statement_id;
  answered = false;
  if (const auto* l = std::get_if<my::ComStmtSendLongData>(&cmd)) return l->statement_id;
  if (const auto* c = std::get_if<my::ComStmtClose>(&cmd)) return c->statement_id;
  return std::nullopt;
}
}  // namespace

std::optional<MysqlSession::StateRefusal> MysqlSession::protocol_state_refusal(const my::Command& cmd) const {
  bool answered = false;
  if (const auto id = statement_id(cmd, answered)) {
    if (prepared_.contains(*id)) return std::nullopt;
    StateRefusal r;
    r.drop = !answered;
    r.verdict.code = ER_UNKNOWN_STMT_HANDLER;
    r.verdict.sqlstate = "HY000";
    r.verdict.command = std::string(my::command_name(my::command_code(cmd)));
    r.verdict.message = "segproxy: Unknown prepared statement handler (" + std::to_string(*id) + ") given to " +
                        r.verdict.command;
    return r;
  }
  return std::nullopt;
}

}  // namespace segproxy::proxy
