#pragma once
// Per-session front of the policy engine for MySQL (the PostgreSQL one: pg_gate.hpp): the
// one place where the fate of a statement text, a USE / COM_INIT_DB and a COM_FIELD_LIST
// is decided. Classifies with the session's lexing settings (sql_mode, character set,
// current database), asks PolicyEngine (the one decision point), refuses EXECUTE of a
// SQL-level name the session did not PREPARE through segproxy, and caches verdicts in the
// shared DecisionCache (decision_cache.hpp) keyed by the literal-free token fingerprint
// (names kept) and the PREPARE flag. The cache is voided when the current database, the
// lexing settings, the engine (reload) or its learned catalog (views_version) change; the
// window is checked on every hit. KILL QUERY needs the session registry and stays in the
// session (daemon/mysql/mysql_judge.cpp).
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "audit/record.hpp"
#include "authz/gate/decision_cache.hpp"
#include "authz/grants/session_grants.hpp"
#include "authz/policy_engine.hpp"
#include "authz/prepared_names.hpp"
#include "authz/sql/mysql_classifier.hpp"
#include "authz/wal/wal_catalog.hpp"
#include "authz/wal/write_class.hpp"

namespace segproxy::proxy {

// A single statement that ends a transaction (the session's aborted state lets it pass).
enum class MysqlTxnEnd : std::uint8_t { None, Rollback, Commit };

struct MysqlVerdict {
  bool allow = false;
  std::uint16_t code = 0;  // MySQL error code when refused
  std::string sqlstate;    // "42000", ...
  std::string message;
  std::string rule_id;
  std::string grant_id;  // the emergency grant(s) that allowed it (authz/grants); never cached
  std::string command;
  std::vector<audit::TableAccess> tables;
  std::string use_database;  // a USE that was allowed: becomes current after OK
  std::uint64_t fingerprint = 0;
  MysqlTxnEnd ends = MysqlTxnEnd::None;  // one ROLLBACK [AND [NO] CHAIN] / COMMIT statement (not TO SAVEPOINT)
  bool alters = false;                   // DDL on a relation (TableOp::Alter): refreshes learned views
  std::string audit_reason;              // the audit record's reason when it differs from `message`
  std::vector<authz::PreparedUse> prepared_uses;  // SQL-level PREPARE/EXECUTE/DEALLOCATE, in order
  bool changes_lexing = false;  // may change sql_mode / character_set_client: read them back after it
  // Write-ahead class of the text (authz/wal/mysql_write_class.hpp), computed from the
  // same analysis when check() is given a ClassContext (cached with the verdict); for a
  // PREPAREd text, the class its executions take. Escaping when not classified.
  authz::wal::MessageClass wal = authz::wal::escaping("not classified");
  // Refused as ER_INVALID_CHARACTER_STRING 1300: bytes that are not UTF-8 outside string
  // literals in a utf8-family session (authz/sql/mysql_literal_bytes.hpp). The server
  // would refuse the text itself, so the session answers it like a protocol-state
  // refusal: recorded without the text, the transaction left as it is. Never cached.
  bool invalid_text = false;
  // Shadow evaluation (authz::Decision::shadow_deny): allowed, but shadow policy would deny.
  bool shadow_deny = false;
  std::string shadow_rule{};
};

class MysqlGate {
 public:
  using time_point = std::chrono::system_clock::time_point;
  static constexpr std::size_t kMaxCacheEntries = 4096;

  // `databases`: the segment's databases (owned by the Runtime the session keeps alive).
  // enforce=false (segproxy --bench-policy-off) allows every statement unclassified.
  MysqlGate(const authz::PolicyEngine& engine, std::string segment, const std::vector<std::string>& databases,
            authz::sql::MysqlClassifierOptions options, bool enforce = true);

  // COM_QUERY text (prepare=false) or COM_STMT_PREPARE text (prepare=true: judged apart
  // from running it; USE cannot be prepared), with unqualified names resolved in
  // `database` (the session's current one, "" = none). The text is lexed once
  // (authz::sql::MysqlText): cache key, byte check, classification, write-ahead class.
  // `wal`: when given, the verdict also carries the text's write-ahead class (from the
  // same StatementInfo: no second analysis); cached verdicts are dropped when the context's
  // usable catalog changes.
  MysqlVerdict check(std::string_view sql, bool prepare, std::string_view database, time_point now,
                     const authz::wal::ClassContext* wal = nullptr);
  // COM_FIELD_LIST of `table`: judged as reading it.
  MysqlVerdict check_field_list(std::string_view table, std::string_view database, time_point now);
  // USE / COM_INIT_DB: the database must be one of the segment's.
  MysqlVerdict check_database(std::string_view db) const;
  // A statement checked before (a cached decision, a prepared statement) while the
  // segment's window is closed.
  static MysqlVerdict window_closed(const authz::Decision& w, std::string command);

  // The lexing settings the backend reports (sql_mode, character_set_client); false when
  // the sql_mode has a flag the analyzer cannot follow (every statement is then refused).
  bool apply_lexing_settings(std::string_view sql_mode, std::string_view charset);
  void set_lower_case_table_names(int v) { options_.lower_case_table_names = v; }
  const authz::sql::MysqlClassifierOptions& options() const { return options_; }

  // An allowed COM_QUERY was forwarded: its SQL-level PREPARE / DEALLOCATE take effect.
  void note_forwarded(const MysqlVerdict& v) { prepared_names_.apply(v.prepared_uses); }
  // COM_RESET_CONNECTION: the server forgets every SQL-level prepared statement.
  void forget_prepared_names() { prepared_names_.clear(); }

  // Emergency grants (authz/grants/session_grants.hpp) of the session's identity.
  void set_grants(authz::SessionGrants grants) {
    grants_ = std::move(grants);
    cache_.clear();
  }

  // Configuration reload: judge from now on with `engine` and `databases` (owned by the
  // new Runtime). Cached decisions are dropped; SQL-level PREPAREs were judged under the
  // old policy and their text is not kept, so their names are forgotten (an EXECUTE of
  // one is refused until the client PREPAREs it again, under the new policy).
  void rebind(const authz::PolicyEngine& engine, const std::vector<std::string>& databases,
              authz::sql::StatementLimits limits);

 private:
  MysqlVerdict check_uncached(const authz::sql::MysqlText& text, bool prepare, time_point now,
                              const authz::wal::ClassContext* wal);
  MysqlVerdict invalid_text(bool prepare) const;
  // EXECUTE of a name this session has not PREPAREd through segproxy: refused.
  MysqlVerdict check_prepared_names(MysqlVerdict v) const;
  void use_database(std::string_view database);

  const authz::PolicyEngine* engine_;
  std::string segment_;
  const std::vector<std::string>* databases_;
  authz::sql::MysqlClassifierOptions options_;
  bool enforce_ = true;
  std::uint64_t views_version_ = 0;
  const authz::wal::WalCatalog* wal_catalog_ = nullptr;  // the usable catalog cached classes were computed with
  DecisionCache<MysqlVerdict> cache_{kMaxCacheEntries};
  authz::SessionGrants grants_;  // none unless set_grants
  authz::PreparedNames prepared_names_;  // names of SQL-level PREPAREs forwarded (not COM_STMT_PREPARE ids)
};

}  // namespace segproxy::proxy
