#pragma once
// The one authorization decision point: (segment, classified statement, instant) ->
// Decision. Pure: no I/O after construction, no clock, no globals; safe to share
// between threads (all methods const). The semantics are documented in
// docs/policy.md; in short:
//  1. unknown segment, or outside every access window -> deny (names the next opening)
//  2. parse error -> deny, SQLSTATE 42601, the parser's message
//  3. every statement of a multi-statement string must pass; the first denied one is
//     reported. Per statement: Forbidden/Unknown -> deny; a class other than DML must
//     be granted in `statements`; every table access must be granted by the rules;
//     every function must be allowed.
//  4. tables: an explicit deny (the op or `all`) in ANY matching rule wins; otherwise
//     the op must be in the allow list of the most specific matching rule(s) that
//     allow anything; no such rule -> deny.
//  4a. system schemas (pg_catalog, information_schema, pg_toast*; MySQL mysql, sys,
//     performance_schema, information_schema): a glob never grants their relations;
//     value/credential catalogs are never granted; `catalog: metadata` grants select on
//     the built-in metadata list (authz/sql/catalog_relations).
//  4b. schema/database-level DDL (TableRef::whole_schema): the op must be granted on
//     every relation the scope can hold: no overlapping rule denies it, every
//     overlapping granting rule grants it, and one granting rule covers the whole scope.
//  4c. shadow (docs/policy.md "Shadow mode"): in a segment with `mode: shadow` every
//     refusal except the absolute ones (Decision::absolute; also parse errors and
//     windows) becomes an allow carrying shadow_deny; rules with `shadow: true` decide
//     nothing, but a statement the policy with them would deny is marked shadow_deny.
//  5. views: a table that names a known view (learned from the backend catalog via
//     set_views, or pinned in the segment's `views:`) counts as every relation it reads,
//     recursively: those must be granted too (select for reads; the same op for DML
//     through the view). Cyclic or > 32 levels deep -> deny. Unknown names: by name only.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "authz/sql/statement_info.hpp"
#include "authz/time_window.hpp"
#include "authz/view_catalog.hpp"
#include "config/config.hpp"

namespace segproxy::authz {

struct Decision {
  bool allow = false;
  // The deciding rule: a rule id for table grants/denies (comma-separated when several
  // rules allowed a request); "<segment>.windows" / ".statements" / ".functions" for
  // those sections; empty for the default deny (nothing matched) and parse errors.
  std::string rule_id;
  std::string reason;    // deny: client-facing message, "segproxy: segment ..."
  std::string sqlstate;  // "42501" for denies, "42601" for parse errors, empty on allow

  // ---- Shadow evaluation (docs/policy.md "Shadow mode") --------------------------------
  // Set on an allowed statement that shadow policy would deny (the segment's mode is
  // shadow, or a rule with `shadow: true` denies it): the rule and reason of that deny.
  // Audited as shadow_decision: deny / shadow_rule; counted in
  // segproxy_shadow_denials_total{segment,rule}.
  bool shadow_deny = false;
  std::string shadow_rule{};
  std::string shadow_reason{};
  // A refusal no shadow mode lifts (forbidden / unclassifiable statements, value and
  // credential catalogs, set_config, view cycles, a database outside the segment).
  bool absolute = false;
  // Emergency grants (authz/grants, evaluate_granted): the ids (comma-separated) of the
  // grants without which this statement would have been refused; empty otherwise.
  std::string grant_id{};
};

class GrantOverlay;
struct Grant;

class PolicyEngine {
 public:
  using time_point = std::chrono::system_clock::time_point;

  // Compiles every segment's policy (patterns, time zones from cfg.zoneinfo_dir).
  // Throws std::runtime_error when a zone cannot be loaded.
  explicit PolicyEngine(const config::Config& cfg);

  // `database` is the session's database: its learned views apply. Empty = not known:
  // the learned views of every database the segment may use apply (their union, so a
  // view name is judged by the strictest of its definitions).
  // `windows` = Skip only for a transaction that on_window_close: finish_transaction
  // lets finish after its window closed; everything else is still decided.
  enum class Windows { Check, Skip };
  Decision evaluate(const std::string& segment, const sql::StatementInfo& info,
                    time_point now, const std::string& database = {},
                    Windows windows = Windows::Check) const;
  // evaluate, and when that refuses, again with `grants` (the session's active matching
  // emergency grants, authz/grants/grant.hpp) covering table accesses and statement
  // classes the rules refuse: allowed only if every refusal is covered, with
  // Decision::grant_id set; otherwise the plain refusal. authz/grants/grant_decision.cpp.
  Decision evaluate_granted(const std::string& segment, const sql::StatementInfo& info, time_point now,
                            const std::vector<Grant>& grants, const std::string& database = {},
                            Windows windows = Windows::Check) const;
  // Window check alone, for new sessions and re-checks (e.g. at Execute).
  Decision check_window(const std::string& segment, time_point now) const;
  // When the window the segment is in now closes (see WindowSet::current_window_end),
  // so the proxy can schedule on_window_close; nullopt if always open / not inside.
  std::optional<time_point> window_end(const std::string& segment, time_point now) const;
  // The segment's policy as configured; nullptr for an unknown segment.
  const config::SegmentPolicy* policy(const std::string& segment) const;
  // Unique per construction (process-wide counter), for decision caches.
  std::uint64_t version() const { return version_; }

  // Learned view dependencies of one backend database (daemon/catalog/view_loader), replacing
  // what was known for it; nullptr forgets it. Logically const: the engine is shared as
  // const and decisions stay pure functions of (config, views, request). Thread-safe;
  // evaluations see either the old or the new catalog.
  void set_views(const std::string& database, std::shared_ptr<const ViewCatalog> catalog) const;
  // nullptr when nothing was learned for `database`.
  std::shared_ptr<const ViewCatalog> views(const std::string& database) const;
  // Bumped by every set_views (starts at 0): decision caches must include it. The
  // catalog also carries the attribute-notation function names the classifier needs
  // (ViewCatalog::attribute_functions): a version change means re-reading views(db).
  std::uint64_t views_version() const { return views_version_.load(std::memory_order_acquire); }

 private:
  struct Pattern {
    std::string schema;
    std::string table;
    int specificity = 0;  // see docs/policy.md: table part first, then schema part
  };
  struct Rule {
    std::string id;
    std::vector<Pattern> patterns;
    config::OperationSet allow = 0;
    config::OperationSet deny = 0;
  };
  struct Segment {
    std::string name;
    config::SegmentPolicy policy;
    WindowSet windows;
    std::vector<Rule> rules;
    std::vector<std::string> databases;
    ViewCatalog pins;  // policy.views, parsed
    // Mode enforce with `shadow: true` rules: the same segment with them (rules above
    // leave them out). Null otherwise (mode shadow: `rules` holds every rule).
    std::shared_ptr<const Segment> candidate{};
  };
  struct TableVerdict {
    bool allow = false;
    const Rule* rule = nullptr;  // deciding rule, if any
    bool catalog = false;        // decided by the system-catalog policy ("<segment>.catalog")
    const char* note = "";       // appended to the refusal
    bool absolute = false;       // never granted (value / credential catalogs)
  };

  const Segment* find(const std::string& segment) const;
  TableVerdict check_table(const Segment& s, const sql::TableRef& t,
                           config::TableOperation op) const;
  TableVerdict check_whole_schema(const Segment& s, const std::string& schema,
                                  config::TableOperation op) const;
  // `lifted` non-null (mode shadow): a refusal that is not absolute is stored there (the
  // first one) and judging goes on, so an absolute refusal later still refuses.
  std::optional<Decision> check_part(const Segment& s, const sql::StatementPart& part,
                                     const ViewCatalog::ReadsFn& view_reads,
                                     std::vector<std::string>& rule_ids,
                                     std::optional<Decision>* lifted = nullptr, GrantOverlay* grants = nullptr) const;
  // Every part of `info` under `s` (authz/policy_shadow.cpp composes the shadow outcome);
  // `grants`: the emergency grants' overlay (null: the rules alone).
  Decision judge_parts(const Segment& s, const sql::StatementInfo& info, const ViewCatalog::ReadsFn& view_reads,
                       std::optional<Decision>* lifted, GrantOverlay* grants = nullptr) const;
  Decision judge_with_shadow(const Segment& s, const sql::StatementInfo& info, const ViewCatalog::ReadsFn& view_reads,
                             GrantOverlay* grants = nullptr) const;
  // evaluate with the emergency grants' overlay (null: the rules alone).
  Decision evaluate_with(const std::string& segment, const sql::StatementInfo& info, time_point now,
                         const std::string& database, Windows windows, GrantOverlay* grants) const;
  std::optional<Decision> check_function(const Segment& s, const sql::FunctionRef& f) const;

  using ViewMap = std::map<std::string, std::shared_ptr<const ViewCatalog>, std::less<>>;

  std::map<std::string, Segment, std::less<>> segments_;
  std::uint64_t version_ = 0;
  // Learned views by database: replaced copy-on-write under views_write_.
  mutable std::atomic<std::shared_ptr<const ViewMap>> views_{std::make_shared<const ViewMap>()};
  mutable std::mutex views_write_;
  mutable std::atomic<std::uint64_t> views_version_{0};
};

// The built-in function tables (pg_catalog names, lower case), in policy_engine.cpp.
// Safe: pure or session-informational; allowed for every segment unless denied.
bool is_safe_builtin_function(std::string_view name);
bool is_safe_mysql_builtin_function(std::string_view name);
// Opaque: take SQL text, a relation name, a large object or a server file as an
// argument and so bypass the table rules; allowed only when named exactly (no glob)
// in functions.allow.
bool is_opaque_function(std::string_view name);
// The large-object interface (lo_open, loread, lowrite, ...; not the server-file
// lo_import / lo_export): granted as a whole by the `large_objects` statement class.
bool is_large_object_function(std::string_view name);
// information_schema's helper functions (_pg_expandarray, _pg_truetypid, ...): safe
// when called qualified with information_schema.
bool is_safe_information_schema_function(std::string_view name);

}  // namespace segproxy::authz
