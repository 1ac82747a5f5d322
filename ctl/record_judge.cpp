// Re-judging recorded statements (see record_judge.hpp).
#include "ctl/record_judge.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "audit/record_codec.hpp"
#include "authz/gate/mysql_errors.hpp"
#include "authz/gate/mysql_gate.hpp"
#include "authz/gate/pg_gate.hpp"
#include "ctl/audit_statements.hpp"

namespace segproxy::proxy::ctl {
namespace {

constexpr std::size_t kMaxSessions = 100000;
constexpr std::string_view kFastPath = "-- fast-path function call: OID ";  // daemon/pg on_function_call
constexpr const char* kSyntaxError = "42601";

// A COM_INIT_DB record holds the bare database name (no statement keyword).
bool bare_name(std::string_view s) {
  return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$' || c == '-' ||
           static_cast<unsigned char>(c) >= 0x80;
  });
}

authz::Decision from_mysql(const MysqlVerdict& v) {
  authz::Decision d;
  d.allow = v.allow;
  d.rule_id = v.rule_id;
  d.reason = v.message;
  d.sqlstate = v.allow ? "" : v.code == ER_PARSE ? kSyntaxError : v.sqlstate;
  d.shadow_deny = v.shadow_deny;
  d.shadow_rule = v.shadow_rule;
  return d;
}

}  // namespace

struct RecordJudge::Gates {
  std::unique_ptr<PgGate> pg;
  std::unique_ptr<MysqlGate> mysql;
};

RecordJudge::RecordJudge(const config::Config& cfg, const authz::PolicyEngine& engine) : cfg_(cfg), engine_(engine) {}
RecordJudge::~RecordJudge() = default;

void RecordJudge::end_session(const std::string& session_id) { sessions_.erase(session_id); }

RecordJudge::Gates& RecordJudge::gates_of(const audit::AuditRecord& r) {
  auto it = sessions_.find(r.session_id);
  if (it != sessions_.end()) return *it->second;
  if (sessions_.size() >= kMaxSessions) sessions_.clear();  // sessions never closed in the log read
  auto g = std::make_unique<Gates>();
  const auto seg = cfg_.segments.find(r.segment);
  const auto limits = statement_limits(cfg_.limits);
  if (r.protocol == "mysql") {
    authz::sql::MysqlClassifierOptions opts;
    opts.limits = limits;
    const std::vector<std::string>& dbs = seg == cfg_.segments.end() ? no_databases_ : seg->second.databases;
    g->mysql = std::make_unique<MysqlGate>(engine_, r.segment, dbs, opts, true);
  } else {
    g->pg = std::make_unique<PgGate>(engine_, r.segment, r.database, true, limits);
  }
  return *sessions_.emplace(r.session_id, std::move(g)).first->second;
}

authz::Decision RecordJudge::judge_pg(Gates& g, const audit::AuditRecord& r, std::chrono::system_clock::time_point at,
                                      Unjudged& why) {
  const std::string_view text = r.statement;
  if (text.substr(0, kFastPath.size()) == kFastPath) {
    std::int32_t oid = 0;
    const std::string_view digits = text.substr(kFastPath.size());
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), oid);
    if (ec != std::errc() || end != digits.data() + digits.size()) {
      why = Unjudged::Unparseable;
      return {};
    }
    return g.pg->check_function_call(oid, at).decision;
  }
  authz::Decision d;
  for (const std::string& form : reparseable_statements(text, "postgresql")) {  // first that parses
    d = g.pg->check(form, at).decision;
    if (d.sqlstate != kSyntaxError) break;
  }
  return d;
}

authz::Decision RecordJudge::judge_mysql(Gates& g, const audit::AuditRecord& r, std::chrono::system_clock::time_point at,
                                         Unjudged& why) {
  (void)why;
  MysqlVerdict v = g.mysql->check(r.statement, false, r.database, at);
  if (!v.allow && v.code == ER_PARSE && bare_name(r.statement)) v = g.mysql->check_database(r.statement);  // COM_INIT_DB
  if (v.allow) g.mysql->note_forwarded(v);
  return from_mysql(v);
}

Judgement RecordJudge::judge(const audit::AuditRecord& r) {
  Judgement j;
  if (r.statement.empty()) {
    j.unjudged = Unjudged::NoText;
    return j;
  }
  if (r.statement_length) {
    j.unjudged = Unjudged::Truncated;
    return j;
  }
  if (r.protocol != "postgresql" && r.protocol != "mysql") {
    j.unjudged = Unjudged::UnknownProtocol;
    return j;
  }
  const auto at = audit::parse_timestamp(r.ts);
  if (!at) {
    j.unjudged = Unjudged::BadTime;
    return j;
  }
  Gates& g = gates_of(r);
  j.decision = r.protocol == "mysql" ? judge_mysql(g, r, *at, j.unjudged) : judge_pg(g, r, *at, j.unjudged);
  // A text that does not parse now but was allowed then: the recorded (normalized) text
  // lost what made it parse; it cannot be judged. Denied then and now: unchanged.
  if (j.unjudged == Unjudged::None && !j.decision.allow && j.decision.sqlstate == kSyntaxError &&
      r.decision == "allow") {
    j.unjudged = Unjudged::Unparseable;
  }
  return j;
}

}  // namespace segproxy::proxy::ctl
