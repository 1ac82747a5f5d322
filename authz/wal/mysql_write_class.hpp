#pragma once
// The write-ahead class of MySQL / MariaDB SQL text (docs/audit.md "Write-ahead
// forwarding"), from the fail-closed analyzer's StatementInfo plus the statement's own
// tokens (for what the analyzer does not report: SELECT ... INTO @var, `:=`
// assignments, SET autocommit, XA). Pure function.
//
//  - read-only: SELECT / TABLE / VALUES / DO, SHOW, DESCRIBE, EXPLAIN without ANALYZE
//    (of a statement whose code is proven: the optimizer evaluates constant expressions),
//    GET DIAGNOSTICS, with every table a catalog table or view marked read_only_ok and
//    every function an unqualified built-in on the fixed list (built-ins win over stored
//    functions of the same name in MySQL), no INTO, no `:=`, no row lock.
//  - contained: INSERT / REPLACE / UPDATE / DELETE and SELECT ... FOR UPDATE / LOCK IN
//    SHARE MODE, every written or locked table transactional (InnoDB) with
//    hooks_listed_only, the rest proven as for read-only. Needs a usable catalog.
//  - commit point: every statement that commits implicitly (DDL incl. TRUNCATE and
//    RENAME, BEGIN / START TRANSACTION, SET autocommit, LOCK / UNLOCK TABLES, ANALYZE /
//    OPTIMIZE / REPAIR / CHECK TABLE, FLUSH, CACHE INDEX, account management), COMMIT,
//    XA PREPARE, XA COMMIT ... ONE PHASE, CALL, MariaDB compound statements. A DDL's
//    implicit commit happens before it runs, so a failed DDL has committed too.
//  - EXECUTE (SQL) and COM_STMT_EXECUTE take the class remembered for the prepared
//    statement (ClassContext::prepared; classify the PREPAREd text with this function);
//    MariaDB ANALYZE / EXPLAIN ANALYZE takes the class of its statement.
//  - everything else (SET, USE, KILL, HANDLER, XA COMMIT/ROLLBACK of an xid, refusals):
//    escaping.
#include <string_view>
#include <vector>

#include "authz/sql/mysql_classifier.hpp"
#include "authz/sql/statement_info.hpp"
#include "authz/wal/wal_catalog.hpp"
#include "authz/wal/write_class.hpp"

namespace segproxy::authz::wal {

struct MysqlWriteClasses {
  MessageClass message = escaping("not analysed");  // the strictest statement
  std::vector<MessageClass> statements;              // one per info.statements entry
};

// `info` is text.classify() (classify_mysql); the tokens are the ones it read (the text
// is not lexed again).
MysqlWriteClasses mysql_write_classes(const sql::StatementInfo& info, const sql::MysqlText& text,
                                      const ClassContext& ctx);
// `info` is classify_mysql(sql, opts) for the same text and options (lexed again here).
MysqlWriteClasses mysql_write_classes(const sql::StatementInfo& info, std::string_view sql,
                                      const sql::MysqlClassifierOptions& opts, const ClassContext& ctx);

// Convenience: classify_mysql + mysql_write_classes.
MysqlWriteClasses mysql_write_classes(std::string_view sql, const sql::MysqlClassifierOptions& opts,
                                      const ClassContext& ctx);

}  // namespace segproxy::authz::wal
