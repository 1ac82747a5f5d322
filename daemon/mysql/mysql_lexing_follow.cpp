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
#include <algorithm>
#include <cctype>

#include "authz/sql/mysql_lexing_settings.hpp"
#include "daemon/mysql/mysql_backend.hpp"
#include "daemon/mysql/mysql_session.hpp"

namespace segproxy::proxy {
namespace {
constexpr std::chrono::seconds kLexingReadWait{10};
}  // namespace

bool MysqlSession::apply_lexing_settings(std::string_view sql_mode, std::string_view charset) {
  const authz::sql::MysqlSqlMode mode = authz::sql::parse_mysql_sql_mode(sql_mode);
  sql_options_.ansi_quotes = mode.ansi_quotes;
  sql_options_.no_backslash_escapes = mode.no_backslash_escapes;
  sql_options_.unfollowable_sql_mode = mode.unfollowable;
  std::string cs(charset.substr(0, 64));
  std::transform(cs.begin(), cs.end(), cs.begin(), [](unsigned char c) { return std::tolower(c); });
  sql_options_.charset = cs.empty() ? std::string("unknown") : cs;
  return mode.unfollowable.empty();
}

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
  const std::string before_mode = sql_options_.unfollowable_sql_mode;
  const bool quotes = sql_options_.ansi_quotes, escapes = sql_options_.no_backslash_escapes;
  const std::string before_cs = sql_options_.charset;
  if (!apply_lexing_settings(*(*row)[0], *(*row)[1]) && before_mode.empty()) {
    svc_.log.warn("session.sql_mode_unfollowable",
                  {{"session", id_text_}, {"sql_mode", (*row)[0]->substr(0, 256)}});
  }
  if (quotes != sql_options_.ansi_quotes || escapes != sql_options_.no_backslash_escapes ||
      before_cs != sql_options_.charset || before_mode != sql_options_.unfollowable_sql_mode) {
    cache_.clear();  // keys already differ (the options are part of the fingerprint): free the old ones
  }
  co_return true;
}

}  // namespace segproxy::proxy
