#pragma once
// Per-session front of the policy engine for PostgreSQL (the MySQL one: mysql_gate.hpp): classifies statement text
// (libpg_query) with the session's lexing state, asks PolicyEngine (the one decision
// point), remembers SQL-level PREPAREd statements so EXECUTE re-checks them, and caches
// decisions (decision_cache.hpp) by statement text (keyed implicitly by policy version: a gate belongs
// to one Runtime generation; voided whenever the engine's learned catalog changes, since
// view dependencies and the attribute-notation function names come with it).
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "authz/gate/decision_cache.hpp"
#include "authz/gate/pg_cached_verdict.hpp"
#include "authz/gate/pg_verdict.hpp"
#include "authz/grants/session_grants.hpp"
#include "authz/policy_engine.hpp"
#include "audit/record.hpp"
#include "authz/sql/pg_classifier.hpp"
#include "authz/wal/wal_catalog.hpp"
#include "authz/wal/write_class.hpp"
#include "config/config.hpp"

namespace segproxy::proxy {

// config `limits:` -> the classifiers' work bounds (authz/sql/statement_limits.hpp).
inline authz::sql::StatementLimits statement_limits(const config::LimitsConfig& l) {
  return {l.max_statement_length, l.max_statements_per_message, l.max_parse_depth, l.max_statement_tokens};
}

class PgGate {
 public:
  using time_point = std::chrono::system_clock::time_point;

  // enforce=false (segproxy --bench-policy-off) allows every statement unclassified.
  // `hash_key`: the key of GateVerdict::fingerprint (the daemon's per-process key,
  // Runtime::statement_hash_key); nullopt: verdicts carry no fingerprint.
  PgGate(const authz::PolicyEngine& engine, std::string segment, std::string database, bool enforce = true,
         authz::sql::StatementLimits limits = {}, std::optional<authz::sql::SipKey> hash_key = std::nullopt);

  // A statement text from a Query or Parse message. With `wal`, the verdict carries the
  // text's write-ahead class under that context (GateVerdict::write_class); a verdict
  // whose class depends on the session's prepared statements or cursors is not cached.
  GateVerdict check(std::string_view sql, time_point now, const authz::wal::ClassContext* wal = nullptr);
  // The same verdict written into `out` (every field set, whatever it held): a cache hit
  // reuses out's capacity, so with a verdict kept for reuse it allocates nothing (issue
  // 15). Returns `out`.
  GateVerdict& check_into(GateVerdict& out, std::string_view sql, time_point now,
                          const authz::wal::ClassContext* wal = nullptr);
  // The write-ahead class context changed (a catalog loaded, DDL let through): cached
  // verdicts carry classes of the old one.
  void wal_context_changed() { cache_.clear(); }
  // A fast-path FunctionCall of `function_oid` (authz/sql/pg_fastpath.hpp): judged as a
  // call of the function the OID names; an OID the proxy cannot resolve is denied.
  GateVerdict check_function_call(std::int32_t function_oid, time_point now);
  // Windows only (Execute of an already checked statement, new sessions).
  authz::Decision check_window(time_point now) const {
    if (window_grace_) return authz::Decision{true, "", "", ""};
    return engine_->check_window(segment_, now);
  }
  // on_window_close: finish_transaction — the transaction in progress when the window
  // closed may end: from now on only COMMIT / ROLLBACK pass (the policy still applies,
  // the window is not checked for them); every other statement is refused as outside
  // the window. The session ends at its next ReadyForQuery outside a transaction, or
  // when segments.<s>.window_close_grace runs out.
  void set_window_grace(bool on) {
    window_grace_ = on;
    cache_.clear();
  }
  bool window_grace() const { return window_grace_; }
  // The refusal of a statement that is not COMMIT / ROLLBACK during the grace.
  authz::Decision grace_refusal() const;

  // Emergency grants (authz/grants/session_grants.hpp) of the session's identity.
  void set_grants(authz::SessionGrants grants) {
    grants_ = std::move(grants);
    cache_.clear();
  }

  // Configuration reload: judge from now on with `engine` (owned by the new Runtime,
  // which the session keeps alive). Cached decisions are dropped; remembered SQL-level
  // PREPAREs stay and are re-judged at EXECUTE under the new policy.
  void rebind(const authz::PolicyEngine& engine, authz::sql::StatementLimits limits = {});

  // Backend ParameterStatus: standard_conforming_strings, client_encoding (and
  // server_encoding, for SQL_ASCII clients) change how text must be lexed; any change
  // empties the cache (whose keys also name the lexing context).
  void on_parameter_status(std::string_view name, std::string_view value);
  // The session's client_encoding (as the backend reported it) is UTF8.
  bool client_encoding_utf8() const { return options_.client_encoding == "UTF8"; }
  // How statement text is lexed now (the decision cache is keyed by it too).
  const std::string& client_encoding() const { return options_.client_encoding; }
  bool standard_conforming_strings() const { return options_.standard_conforming_strings; }

 private:
  GateVerdict evaluate(const authz::sql::StatementInfo& info, time_point now);
  void check_policy(GateVerdict& out, std::string_view sql, time_point now, const authz::wal::ClassContext* wal);
  // `text` in UTF-8 for the audit record (client_encoding is not UTF8).
  std::string audit_text(std::string_view text) const;
  // During the window grace only COMMIT / ROLLBACK pass: anything else becomes grace_refusal().
  void apply_window_grace(GateVerdict& v) const;
  authz::PolicyEngine::Windows windows() const {
    return window_grace_ ? authz::PolicyEngine::Windows::Skip : authz::PolicyEngine::Windows::Check;
  }
  void remember_prepares(const authz::sql::StatementInfo& info);
  // EXECUTE of a name neither remembered nor PREPAREd earlier in `info`: the refusal.
  std::optional<authz::Decision> refuse_unknown_prepared(const authz::sql::StatementInfo& info) const;
  // Follows the engine's learned catalog of database_ (views_version): empties the cache
  // and points options_.attribute_functions at the current function names.
  void sync_catalog();

  const authz::PolicyEngine* engine_;
  std::string segment_;
  std::string database_;  // learned views are per database
  bool enforce_ = true;
  std::uint64_t views_version_ = 0;  // cached decisions are void once views change
  // Keeps the catalog options_.attribute_functions points into alive.
  std::shared_ptr<const authz::ViewCatalog> catalog_;
  bool window_grace_ = false;
  authz::sql::ClassifierOptions options_;
  DecisionCache<CachedPgVerdict> cache_;
  authz::SessionGrants grants_;  // none unless set_grants
  // SQL-level PREPARE name -> its classification (only allowed ones are remembered).
  std::unordered_map<std::string, authz::sql::StatementInfo> prepared_;
};

}  // namespace segproxy::proxy
