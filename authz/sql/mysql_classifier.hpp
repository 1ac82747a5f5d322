#pragma once
// MySQL / MariaDB statement analyzer: SQL text -> StatementInfo (the same structure the
// PostgreSQL classifier produces), so authz/policy_engine judges both dialects with the
// same rules. No MySQL parser is packaged: this is a lexer (mysql_lexer) plus a
// recursive-descent analyzer that understands the statement shapes listed below and
// refuses everything else (StatementClass::Unknown with a reason). Pure function of
// (text, options); thread-safe.
//
// Mapping (see tests/unit/sql/mysql_classifier_test.cpp and
// tests/testdata/mysql_policy_cases.tsv):
//  - Tables: TableRef.schema = database (MySQL schema == database), filled from
//    current_database when unqualified (no current database: Unknown). Names keep their
//    case when lower_case_table_names = 0 and are lower-cased for 1 and 2;
//    information_schema names are always lower-cased. Non-ASCII table/database names are
//    refused unless lower_case_table_names = 0 and the charset is utf8/utf8mb4.
//  - Dml: SELECT / TABLE / VALUES / WITH (CTE names are not tables), INSERT / REPLACE
//    (REPLACE = insert + delete; ON DUPLICATE KEY UPDATE adds update), UPDATE and DELETE
//    incl. multi-table forms (targets get update/delete, other tables select), DO,
//    HANDLER (select), LOCK TABLES (READ = lock, WRITE = update), UNLOCK TABLES,
//    TRUNCATE, DESCRIBE t / SHOW COLUMNS|INDEX|CREATE TABLE (select on t), SHOW TABLES /
//    DATABASES / TABLE STATUS / TRIGGERS / ... (select on the information_schema table
//    they read). SELECT ... FOR UPDATE / FOR SHARE / LOCK IN SHARE MODE sets locks_rows.
//    UPDATE/DELETE/ON DUPLICATE KEY targets are also reported as Select when their
//    expressions name columns (as the PostgreSQL classifier does).
//  - Functions: every call `name(`, lower-cased (schema = database when qualified);
//    NEXT VALUE FOR s -> nextval, PREVIOUS VALUE FOR s -> lastval; CALL p -> function p.
//  - SessionSafe: SET of allow-listed session variables (SET NAMES / CHARACTER SET /
//    character_set_client / _connection to a lexing-neutral character set or an
//    expression; sql_mode to any expression, a literal only when every flag is one the
//    analyzer follows - such a SET is marked changes_lexing and must be the last statement
//    of a multi-statement text; the session reads the new values back), SET [SESSION]
//    TRANSACTION, SHOW VARIABLES / STATUS / WARNINGS / ..., USE db (StatementPart::
//    database names it: the session checks it against the segment and updates its
//    current database). SET of only user variables is Dml (its expressions are checked).
//  - Transaction: START TRANSACTION, BEGIN [WORK], COMMIT, ROLLBACK [TO SAVEPOINT],
//    SAVEPOINT, RELEASE SAVEPOINT. Prepare: PREPARE s FROM 'text' (the text is analysed
//    into the same part, like the PostgreSQL classifier; a non-DML inner class wins),
//    EXECUTE s, DEALLOCATE|DROP PREPARE s (prepared_name, lower-cased). Explain: EXPLAIN /
//    DESCRIBE / MariaDB ANALYZE of a statement. Ddl: CREATE/ALTER/DROP/RENAME TABLE, VIEW,
//    INDEX, SEQUENCE (alter on the objects; sources select; REFERENCES references).
//    Admin: OPTIMIZE/ANALYZE/CHECK/REPAIR/CHECKSUM TABLE (maintain), FLUSH, SHOW GRANTS /
//    PROCESSLIST / ENGINE / replication status, KILL QUERY (the proxy handles it),
//    EXPLAIN FOR CONNECTION. Procedural: CALL.
//  - Forbidden: SELECT ... INTO OUTFILE/DUMPFILE, LOAD DATA/XML, PREPARE FROM a variable
//    or expression, SET GLOBAL/PERSIST/@@global, SET ROLE / DEFAULT ROLE / PASSWORD,
//    SETs to sql_mode flags / character sets the analyzer cannot follow, GRANT/REVOKE, user and role management, KILL [CONNECTION],
//    SHUTDOWN/RESTART, INSTALL/UNINSTALL, replication control, RESET, PURGE, CLONE, BINLOG,
//    XA, database-level DDL, stored programs (CREATE/ALTER/DROP PROCEDURE/FUNCTION/
//    TRIGGER/EVENT), non-local storage engines and file/connection table options,
//    DELIMITER (a client-side command), views with a DEFINER other than CURRENT_USER.
//  - Unknown (always denied): everything else, and any statement the analyzer could not
//    read to its end.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "authz/sql/mysql_lexer.hpp"
#include "authz/sql/statement_info.hpp"
#include "authz/sql/statement_hash.hpp"
#include "authz/sql/statement_limits.hpp"

namespace segproxy::authz::sql {

struct MysqlClassifierOptions {
  // The session's database (handshake, COM_INIT_DB, USE). Empty = none selected:
  // unqualified table names are Unknown.
  std::string current_database;
  bool ansi_quotes = false;           // sql_mode ANSI_QUOTES (or ANSI)
  bool no_backslash_escapes = false;  // sql_mode NO_BACKSLASH_ESCAPES
  // The first sql_mode flag the server reported that the analyzer cannot follow
  // (mysql_lexing_settings.hpp), e.g. ORACLE; non-empty makes every statement Unknown.
  std::string unfollowable_sql_mode;
  int lower_case_table_names = 0;     // as the server reports: 0, 1 or 2
  bool server_is_mariadb = false;
  // MySQL 80036 / MariaDB 100611 style (MYSQL_VERSION_ID). 0 = unknown: every
  // executable comment is analysed as code.
  std::uint32_t server_version = 0;
  // The session's character_set_client (as the server reports it). sjis / cp932 / big5 /
  // gbk texts are lexed with their ASCII trail bytes masked (mask_multibyte_trail_bytes);
  // a set that is not followed (is_followable_charset) makes every statement Unknown.
  std::string charset = "utf8mb4";
  std::size_t max_length = 16 * 1024 * 1024;  // longer texts are Unknown
  std::size_t max_tokens = 1'000'000;         // texts with more tokens are Unknown (memory bound)
  // Work bounds (config `limits:`), checked first: over max_statement_length nothing is
  // lexed; then statement count and parenthesis depth on the tokens, and the analyzer's
  // own nesting bound (Analyzer::kMaxDepth) - all refusals with parse_error_sqlstate
  // 54000 / 54001 (statement_limits.hpp), answered as ERR 1162 / 1436 by the proxy.
  StatementLimits limits;
  // The fingerprints' key (statement_hash.hpp; the daemon's per-process key). nullopt:
  // no fingerprint (0), so nothing is cached or recorded under one.
  std::optional<SipKey> hash_key;
};

StatementInfo classify_mysql(std::string_view sql, const MysqlClassifierOptions& opts);

// One lexing pass of a statement text under `opts` (issue 12 review): the decision-cache
// key, the check of bytes that are not UTF-8 and, on a cache miss, the classification and
// the write-ahead class (authz/wal/mysql_write_class.hpp) all read these tokens, under the
// same limits (nothing is lexed over max_length / limits.max_statement_length, at most
// limits.max_statement_tokens tokens). `sql` and `opts` must outlive it.
class MysqlText {
 public:
  MysqlText(std::string_view sql, const MysqlClassifierOptions& opts);
  // = fingerprint_mysql(sql, opts).
  std::uint64_t fingerprint() const;
  // In a utf8 / utf8mb3 / utf8mb4 session: a byte that is not UTF-8 lies outside every
  // string literal, or the text could not be lexed to tell (mysql_literal_bytes.hpp). The
  // server refuses such text (ER_INVALID_CHARACTER_STRING 1300); classify() reports it as
  // StatementInfo::invalid_text_bytes, fingerprint() is 0. False over the length or token
  // limits (the text is refused for those).
  bool invalid_bytes() const { return invalid_bytes_; }
  // = classify_mysql(sql, opts).
  StatementInfo classify() const;
  // The tokens when the whole text was lexed; nullptr otherwise.
  const std::vector<mysql::Token>* tokens() const { return lex_.ok ? &lex_.tokens : nullptr; }

 private:
  std::string_view sql_;
  const MysqlClassifierOptions& opts_;
  mysql::LexResult lex_;
  bool invalid_bytes_ = false;
};

// The forbidden_reason of a statement that changes a lexing setting (changes_lexing) and
// is followed by more statements in the same text (the session answers ER_NOT_SUPPORTED_YET).
inline constexpr std::string_view kLexingChangeNotLast =
    "a change of sql_mode or of the client character set must be the last statement of a multi-statement text "
    "(the server would lex the statements after it under the new setting before segproxy can read it back)";

// The server version string of the backend's HandshakeV10 ("8.0.36", "8.0.36-log",
// "5.5.5-10.6.11-MariaDB-0+deb12u1", "10.11.6-MariaDB") as the options want it:
// MariaDB flag and MYSQL_VERSION_ID style number (80036, 100611). version = 0 when it
// cannot be parsed (every executable comment is then analysed as code).
struct MysqlServerVersion {
  bool mariadb = false;
  std::uint32_t version = 0;
};
MysqlServerVersion parse_mysql_server_version(std::string_view handshake_version);

// Decision-cache key, computed from the tokens alone (no analysis), so a cache can be
// consulted before classifying: keyed SipHash-2-4 (opts.hash_key) of the token
// stream - kinds and every name, literal values left out except in statements starting
// with SET, PREPARE or EXECUTE IMMEDIATE, whose classification reads them - plus all
// options. Equal fingerprints always classify the same way (the analyzer refuses a
// statement outside that rule whose classification read a literal value). Equals
// classify_mysql(...).fingerprint, refusals over limits.max_statements_per_message and
// nesting included (54000 / 54001, decided by the tokens' structure); 0 on a syntax error,
// over limits.max_statement_length or max_statement_tokens and without opts.hash_key (do
// not cache).
std::uint64_t fingerprint_mysql(std::string_view sql, const MysqlClassifierOptions& opts);

// The statement with every string/number/hex literal replaced by '?', tokens separated by
// single spaces, comments dropped (executable comment content kept when it is code), for
// audit. Empty when the text cannot be lexed.
std::string normalize_mysql(std::string_view sql, const MysqlClassifierOptions& opts);

}  // namespace segproxy::authz::sql
