// MySQL session: the lexing settings are followed, not fixed (issue 12 item 2.2). The
// server lexes a statement by its session's sql_mode (ANSI_QUOTES, NO_BACKSLASH_ESCAPES)
// and character_set_client; the analyzer must read the text the same way. Only a few
// things change them, and the session reads both back from the backend after each
// (docs/mysql.md, "Lexing settings"): a COM_QUERY whose analysis says changes_lexing (SET
// sql_mode / character_set_client / _connection / NAMES / CHARACTER SET, EXECUTE
// IMMEDIATE of one, SQL-level EXECUTE, BEGIN NOT ATOMIC blocks, which keep a SET NAMES),
// a COM_STMT_EXECUTE of such a prepared statement, and COM_RESET_CONNECTION. Stored
// routines and triggers run with their own saved sql_mode and character set and restore
// the caller's (verified on MariaDB 10.11); COM_CHANGE_USER is refused and SET STATEMENT
// ... FOR may not set them (it restores them after its statement anyway).
#include "daemon/mysql/mysql_backend.hpp"
#include "daemon/mysql/mysql_session.hpp"

namespace segproxy::proxy {
namespace {
constexpr std::chrono::seconds kLexingReadWait{10};
}  // namespace

awaitable<bool> MysqlSession::follow_lexing_settings() {
  std::string error;
  deadline_.arm(kLexingReadWait);
  auto row = co_await mysql_query_row(*backend_, backend_reader_, backend_caps_,
                                      "SELECT @@SESSION.sql_mode, @@SESSION.character_set_client", error);
  deadline_.disarm();
  const bool leftover = !backend_reader_.take_leftover().empty();
  if (!row || row->size() != 2 || !(*row)[0] || !(*row)[1] || leftover) {
    if (error.empty()) error = leftover ? "bytes after the proxy's query" : "unexpected reply";
    svc_.log.error("backend.session_options_failed", {{"session", id_text_}, {"error", error}});
    if (close_reason_.empty()) close_reason_ = "could not read sql_mode / character_set_client back: " + error;
    co_return false;
  }
  const bool was_followable = gate_->options().unfollowable_sql_mode.empty();
  if (!gate_->apply_lexing_settings(*(*row)[0], *(*row)[1]) && was_followable) {
    svc_.log.warn("session.sql_mode_unfollowable",
                  {{"session", id_text_}, {"sql_mode", (*row)[0]->substr(0, 256)}});
  }
  co_return true;
}

}  // namespace segproxy::proxy
