#include "authz/gate/pg_gate.hpp"

#include "authz/prepared_names.hpp"
#include "authz/sql/pg_cache_key.hpp"
#include "authz/sql/pg_fastpath.hpp"
#include "authz/sql/pg_lexing.hpp"
#include "authz/wal/pg_write_class.hpp"

#include <pg_query/pg_query.pb-c.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstddef>
#include <memory_resource>

namespace segproxy::proxy {
namespace sql = authz::sql;

namespace {
constexpr std::size_t kMaxCacheEntries = 1024;
constexpr std::size_t kMaxCachedTextBytes = 16 * 1024;
constexpr std::size_t kMaxPrepared = 10000;
constexpr std::size_t kKeyOnStack = 1024;  // decision-cache keys of shorter text are built on the stack

// COMMIT / ROLLBACK (END and ABORT are classified as these): what may run while a
// transaction finishes after its access window closed.
bool only_ends_transaction(const sql::StatementInfo& info) {
  if (!info.parse_ok || info.statements.empty()) return false;
  return std::all_of(info.statements.begin(), info.statements.end(), [](const sql::StatementPart& p) {
    return p.klass == sql::StatementClass::Transaction && p.ends != sql::TransactionEnd::None;
  });
}

// PREPARE / EXECUTE / DEALLOCATE [ALL] / DISCARD ALL (and EXPLAIN EXECUTE ...).
bool has_prepare_effects(const sql::StatementInfo& info) {
  return std::any_of(info.statements.begin(), info.statements.end(), [](const sql::StatementPart& p) {
    return p.prepared_effect != sql::PreparedEffect::None;
  });
}


// EXECUTE / FETCH / MOVE / PREPARE / DECLARE (also under EXPLAIN): the write-ahead
// class depends on, or changes, what the session remembers, so the verdict is not cached.
bool wal_session_dependent(const PgQuery__ParseResult& tree) {
  for (std::size_t i = 0; i < tree.n_stmts; ++i) {
    const PgQuery__Node* n = tree.stmts[i] ? tree.stmts[i]->stmt : nullptr;
    if (n && n->node_case == PG_QUERY__NODE__NODE_EXPLAIN_STMT) n = n->explain_stmt->query;
    if (!n) continue;
    switch (n->node_case) {
      case PG_QUERY__NODE__NODE_EXECUTE_STMT:
      case PG_QUERY__NODE__NODE_FETCH_STMT:
      case PG_QUERY__NODE__NODE_PREPARE_STMT:
      case PG_QUERY__NODE__NODE_DECLARE_CURSOR_STMT: return true;
      default: break;
    }
  }
  return false;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}
}  // namespace

PgGate::PgGate(const authz::PolicyEngine& engine, std::string segment, std::string database, bool enforce,
               sql::StatementLimits limits, std::optional<sql::SipKey> hash_key)
    : engine_(&engine),
      segment_(std::move(segment)),
      database_(std::move(database)),
      enforce_(enforce),
      cache_(kMaxCacheEntries) {
  if (const auto* pol = engine_->policy(segment_)) options_.default_schema = pol->default_schema;
  options_.limits = limits;
  options_.hash_key = hash_key;
  options_.current_database = database_;
  sync_catalog();
}

void PgGate::sync_catalog() {
  // Version first: a catalog published in between is picked up again at the next check.
  views_version_ = engine_->views_version();
  catalog_ = engine_->views(database_);
  options_.attribute_functions = catalog_ ? &catalog_->attribute_functions() : nullptr;
  cache_.clear();
}

void PgGate::rebind(const authz::PolicyEngine& engine, sql::StatementLimits limits) {
  engine_ = &engine;
  options_.limits = limits;
  if (const auto* pol = engine_->policy(segment_)) options_.default_schema = pol->default_schema;
  sync_catalog();
}

void PgGate::on_parameter_status(std::string_view name, std::string_view value) {
  std::string n = lower(name);
  if (n == "standard_conforming_strings") {
    bool on = lower(value) == "on";
    if (on != options_.standard_conforming_strings) cache_.clear();
    options_.standard_conforming_strings = on;
  } else if (n == "client_encoding") {
    if (value != options_.client_encoding) cache_.clear();
    options_.client_encoding = std::string(value);
  } else if (n == "server_encoding") {
    if (value != options_.server_encoding) cache_.clear();
    options_.server_encoding = std::string(value);
  }
}

GateVerdict PgGate::evaluate(const sql::StatementInfo& info, time_point now) {
  GateVerdict v;
  v.decision = grants_.decide(*engine_, segment_, info, now, database_, windows());
  if (!info.statements.empty()) v.command = info.statements.front().command;
  v.ddl = std::any_of(info.statements.begin(), info.statements.end(),
                      [](const sql::StatementPart& p) { return p.klass == sql::StatementClass::Ddl; });
  v.fingerprint = info.fingerprint;
  v.ends_transaction = only_ends_transaction(info);
  for (const auto& part : info.statements) {
    v.changes_lexing = v.changes_lexing || part.changes_lexing;
    v.transaction_control = v.transaction_control || part.klass == sql::StatementClass::Transaction;
  }
  for (const auto& part : info.statements)
    for (const auto& t : part.tables) v.tables.push_back({t.schema + "." + t.name, sql::table_op_name(t.op)});
  if (!v.decision.allow) return v;
  // EXECUTE of a name this session never PREPAREd through segproxy: refused.
  if (auto d = refuse_unknown_prepared(info)) {
    v.decision = std::move(*d);
    return v;
  }
  // EXECUTE of a SQL-level prepared statement: the remembered statement is judged again
  // (policy and window may have changed since PREPARE).
  for (const auto& part : info.statements) {
    if (part.prepared_effect != sql::PreparedEffect::Execute) continue;
    auto it = prepared_.find(part.prepared_name);
    if (it == prepared_.end()) continue;  // PREPAREd earlier in this text: judged with it
    auto d = grants_.decide(*engine_, segment_, it->second, now, database_, windows());
    if (!d.allow) {
      v.decision = d;
      return v;
    }
    if (d.shadow_deny && !v.decision.shadow_deny) {  // the prepared statement's shadow outcome
      v.decision.shadow_deny = true;
      v.decision.shadow_rule = std::move(d.shadow_rule);
      v.decision.shadow_reason = std::move(d.shadow_reason);
    }
  }
  return v;
}

std::optional<authz::Decision> PgGate::refuse_unknown_prepared(const sql::StatementInfo& info) const {
  return authz::refuse_unknown_prepared(authz::prepared_uses(info),
                                        [this](const std::string& n) { return prepared_.count(n) != 0; });
}

void PgGate::remember_prepares(const sql::StatementInfo& info) {
  for (const auto& part : info.statements) {
    if (part.prepared_effect == sql::PreparedEffect::DeallocateAll) {
      prepared_.clear();  // DEALLOCATE ALL, DISCARD ALL
      continue;
    }
    if (part.prepared_name.empty()) continue;
    if (part.prepared_effect == sql::PreparedEffect::Prepare) {
      if (prepared_.size() >= kMaxPrepared) prepared_.clear();
      // Remember the inner statement's access (the part carries the inner tables).
      sql::StatementInfo inner;
      inner.parse_ok = true;
      sql::StatementPart p = part;
      if (p.klass == sql::StatementClass::Prepare) p.klass = sql::StatementClass::Dml;  // the inner statement
      p.prepared_name.clear();
      p.prepared_effect = sql::PreparedEffect::None;
      inner.statements.push_back(std::move(p));
      prepared_[part.prepared_name] = std::move(inner);
    } else if (part.prepared_effect == sql::PreparedEffect::Deallocate) {
      prepared_.erase(part.prepared_name);
    }
  }
}

authz::Decision PgGate::grace_refusal() const {
  return authz::Decision{false, segment_ + ".windows",
                         "segproxy: the access window of segment \"" + segment_ +
                             "\" has closed: only COMMIT or ROLLBACK may end the open transaction",
                         "42501"};
}

void PgGate::apply_window_grace(GateVerdict& v) const {
  if (window_grace_ && enforce_ && v.decision.allow && !v.ends_transaction) v.decision = grace_refusal();
}

std::string PgGate::audit_text(std::string_view text) const {
  auto utf8 = sql::pg_client_text_to_utf8(text, options_.client_encoding, options_.server_encoding);
  if (utf8.ok && !options_.standard_conforming_strings) {
    // The audit normaliser lexes like standard_conforming_strings=on: record the
    // classifier's reading (plain strings as E'...'), so every literal is recognised.
    auto rewritten = sql::pg_rewrite_scs_off(utf8.text);
    if (rewritten.ok) return std::move(rewritten.text);
  }
  if (utf8.ok) return std::move(utf8.text);
  std::string out;  // undecodable: ASCII kept, every other byte as \xNN
  static constexpr char kHex[] = "0123456789abcdef";
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x80 && c != '\\') {
      out.push_back(ch);
    } else {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

GateVerdict PgGate::check(std::string_view text, time_point now, const authz::wal::ClassContext* wal) {
  GateVerdict v;
  check_into(v, text, now, wal);
  return v;
}

GateVerdict& PgGate::check_into(GateVerdict& out, std::string_view text, time_point now,
                                const authz::wal::ClassContext* wal) {
  check_policy(out, text, now, wal);
  apply_window_grace(out);
  return out;
}

GateVerdict PgGate::check_function_call(std::int32_t function_oid, time_point now) {
  if (!enforce_) return GateVerdict{authz::Decision{true, "", "", ""}, "FUNCTION CALL"};
  GateVerdict v = evaluate(sql::classify_pg_function_call(function_oid), now);
  apply_window_grace(v);  // a function call never ends a transaction
  return v;
}

void PgGate::check_policy(GateVerdict& out, std::string_view text, time_point now,
                          const authz::wal::ClassContext* wal) {
  if (!enforce_) {
    out = GateVerdict{authz::Decision{true, "", "", ""}, ""};
    return;
  }
  // The window is checked every time; only what it guards is cached.
  auto window = check_window(now);
  if (!window.allow) {
    out = GateVerdict{std::move(window), ""};
    return;
  }
  // Literal-stripped key when the text lexes unambiguously (pg_cache_key.hpp), else
  // the exact text.
  // Text too long to be cached is not keyed (the key would copy it; classify_pg bounds
  // the rest of the work).
  const bool cacheable = text.size() <= kMaxCachedTextBytes;
  // The same bytes are another statement under another client_encoding or
  // standard_conforming_strings: outside UTF8 / on, keys are the exact text in a key space
  // of their own that names the lexing context (never literal-stripped raw bytes).
  const bool plain_lexing = client_encoding_utf8() && options_.standard_conforming_strings;
  // The key is built on the stack (issue 15: no allocation per statement); only a miss
  // that is cached copies it. Longer text spills to the heap.
  std::array<std::byte, kKeyOnStack> key_stack;
  std::pmr::monotonic_buffer_resource key_memory(key_stack.data(), key_stack.size());
  std::pmr::string key(&key_memory);
  if (!cacheable) {
  } else if (!plain_lexing) {
    key.reserve(text.size() + options_.client_encoding.size() + options_.server_encoding.size() + 8);
    key += '\x03';
    key += options_.client_encoding;
    key += '\0';
    key += options_.server_encoding;
    key += '\0';
    key += options_.standard_conforming_strings ? '1' : '0';
    key += '\0';
    key += text;
  } else if (sql::pg_cache_key_into(key, text, options_.standard_conforming_strings)) {
    // starts with "\x01N:"
  } else {
    key.clear();
    key.reserve(text.size() + 1);
    key += '\x02';  // exact-text keys live in their own key space
    key += text;
  }
  // A view may now read other relations, a function may now be callable as `x.f`.
  if (engine_->views_version() != views_version_) sync_catalog();
  if (grants_.changed()) cache_.clear();  // a new grant may allow what was refused
  if (const CachedPgVerdict* hit = cacheable ? cache_.find(key) : nullptr) {
    hit->unpack_into(out);
    return;
  }

  // The write-ahead class comes from the same parse tree (authz/wal/pg_write_class.hpp).
  authz::wal::PgWriteClasses classes;
  bool session_dependent = false;
  sql::StatementInfo info = wal == nullptr ? sql::classify_pg(text, options_)
                                           : sql::classify_pg(text, options_, [&](const PgQuery__ParseResult& tree) {
                                               classes = authz::wal::pg_write_classes(&tree, *wal);
                                               session_dependent = wal_session_dependent(tree);
                                             });
  GateVerdict v = evaluate(info, now);
  if (wal != nullptr && classes.parse_ok) {
    v.write_class = std::move(classes.message);
    for (auto& st : classes.statements) {
      if (!st.prepares.empty()) v.wal_prepares.emplace_back(std::move(st.prepares), std::move(st.remembered));
      else if (!st.declares_cursor.empty()) v.wal_cursors.emplace_back(std::move(st.declares_cursor), std::move(st.remembered));
    }
  }
  if (!plain_lexing) v.audit_text = audit_text(text);
  if (has_prepare_effects(info)) {
    // PREPARE/EXECUTE/DEALLOCATE depend on and change per-session state: never cached.
    if (v.decision.allow) {
      remember_prepares(info);
      for (const auto& part : info.statements) {
        if (part.prepared_effect == sql::PreparedEffect::DeallocateAll) v.wal_deallocates_all = true;
        else if (part.prepared_effect == sql::PreparedEffect::Deallocate) v.wal_deallocates.push_back(part.prepared_name);
      }
    }
    out = std::move(v);
    return;
  }
  // Its write-ahead class depends on what the session remembers (checked after the
  // PREPARE bookkeeping above, which a PREPARE judged with a class context needs too).
  if (session_dependent) {
    out = std::move(v);
    return;
  }
  // A grant's allowance is never cached: it ends when the grant does.
  if (cacheable && info.parse_ok && v.decision.grant_id.empty() && CachedPgVerdict::packable(v))
    cache_.put(std::string(key), CachedPgVerdict(v));
  out = std::move(v);
}

}  // namespace segproxy::proxy
