// segproxyctl policy replay (see policy_replay.hpp; docs/policy.md "Replay").
#include "ctl/policy_replay.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <tuple>

#include "authz/policy_engine.hpp"
#include "config/loader.hpp"
#include "ctl/audit.hpp"
#include "ctl/policy.hpp"
#include "ctl/record_judge.hpp"
#include "ctl/time_arg.hpp"

namespace segproxy::proxy::ctl {
namespace {

constexpr int kExitClean = 0;
constexpr int kExitAllowToDeny = 1;
constexpr int kExitUsage = 2;
constexpr std::size_t kExamples = 3;
constexpr std::size_t kExampleBytes = 200;

struct Group {
  std::uint64_t count = 0;
  std::vector<std::string> examples;  // distinct statements, at most kExamples
  void add(const std::string& statement) {
    ++count;
    if (examples.size() >= kExamples) return;
    std::string e = statement.substr(0, kExampleBytes);
    if (std::find(examples.begin(), examples.end(), e) == examples.end()) examples.push_back(std::move(e));
  }
};
using Groups = std::map<std::pair<std::string, std::string>, Group>;  // (segment, rule)

struct Report {
  std::uint64_t records = 0;  // statement.decision records read
  std::uint64_t judged = 0;
  std::uint64_t unchanged = 0;
  std::map<std::string, std::uint64_t> unjudged;  // by kUnjudgedNames
  Groups allow_to_deny, deny_to_allow, shadow_denials;
};

std::string jstr(std::string_view s) { return "\"" + json_escape(s) + "\""; }

void print_groups_text(std::ostream& out, const char* title, const Groups& g) {
  std::uint64_t total = 0;
  for (const auto& [k, v] : g) total += v.count;
  out << title << ": " << total << "\n";
  for (const auto& [k, v] : g) {
    out << "  segment " << k.first << ", rule " << (k.second.empty() ? "(default deny)" : k.second) << ": "
        << v.count << "\n";
    for (const auto& e : v.examples) out << "    e.g. " << e << "\n";
  }
}

void print_groups_json(std::ostream& out, const Groups& g) {
  out << "[";
  bool first = true;
  for (const auto& [k, v] : g) {
    out << (first ? "" : ",") << "{\"segment\":" << jstr(k.first) << ",\"rule\":" << jstr(k.second)
        << ",\"count\":" << v.count << ",\"examples\":[";
    for (std::size_t i = 0; i < v.examples.size(); ++i) out << (i ? "," : "") << jstr(v.examples[i]);
    out << "]}";
    first = false;
  }
  out << "]";
}

void print_report(std::ostream& out, const Report& r, bool json) {
  std::uint64_t unjudged = 0;
  for (const auto& [k, n] : r.unjudged) unjudged += n;
  if (json) {
    out << "{\"records\":" << r.records << ",\"judged\":" << r.judged << ",\"unchanged\":" << r.unchanged
        << ",\"unjudged\":{";
    bool first = true;
    for (const auto& [k, n] : r.unjudged) {
      out << (first ? "" : ",") << jstr(k) << ":" << n;
      first = false;
    }
    out << "},\"allow_to_deny\":";
    print_groups_json(out, r.allow_to_deny);
    out << ",\"deny_to_allow\":";
    print_groups_json(out, r.deny_to_allow);
    out << ",\"shadow_denials\":";
    print_groups_json(out, r.shadow_denials);
    out << "}\n";
    return;
  }
  out << "replayed " << r.records << " statement decision(s): " << r.judged << " judged, " << r.unchanged
      << " unchanged, " << unjudged << " not judged";
  if (unjudged > 0) {
    out << " (";
    bool first = true;
    for (const auto& [k, n] : r.unjudged) {
      out << (first ? "" : ", ") << k << ": " << n;
      first = false;
    }
    out << ")";
  }
  out << "\n";
  print_groups_text(out, "allow -> deny", r.allow_to_deny);
  print_groups_text(out, "deny -> allow", r.deny_to_allow);
  if (!r.shadow_denials.empty()) print_groups_text(out, "shadow denials (allowed, recorded as shadow_decision: deny)",
                                                    r.shadow_denials);
}

}  // namespace

std::optional<LogToolArgs> parse_log_tool_args(const std::vector<std::string>& args, const char* cmd,
                                               std::ostream& err) {
  LogToolArgs a;
  StoreArgs store;
  bool postgres = false;
  std::vector<std::string> positional;
  const auto fail = [&](const std::string& why) -> std::optional<LogToolArgs> {
    err << "segproxyctl policy " << cmd << ": " << why << "\n";
    return std::nullopt;
  };
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& s = args[i];
    const bool has_value = i + 1 < args.size();
    const auto value = [&]() -> const std::string& { return args[++i]; };
    if (s == "--json") {
      a.json = true;
    } else if (s == "--no-verify") {
      a.source.verify = false;
    } else if (s == "--config" || s == "--segment" || s == "--since" || s == "--until" || s == "--postgres" ||
               s == "--password-file" || s == "--instance") {
      if (!has_value) return fail(s + " needs a value");
      const std::string& v = value();
      if (v.empty()) return fail(s + " needs a value");
      if (s == "--config") {
        a.config = v;
      } else if (s == "--segment") {
        a.source.filter.segment = v;
      } else if (s == "--since" || s == "--until") {
        std::string why;
        const auto t = parse_time_arg(v, why);
        if (!t) return fail(s + " " + why);
        (s == "--since" ? a.source.filter.since : a.source.filter.until) = *t;
      } else if (s == "--postgres") {
        postgres = true;
        store.conninfo = v;
      } else if (s == "--password-file") {
        store.password_file = v;
      } else {
        store.instance = v;
      }
    } else if (!s.empty() && s[0] == '-') {
      return fail("unknown option " + s);
    } else {
      positional.push_back(s);
    }
  }
  if (postgres == !positional.empty() || positional.size() > 1) {
    return fail("needs exactly one source: AUDIT_DIR or --postgres CONNINFO");
  }
  if (!postgres && (store.password_file || store.instance)) return fail("--password-file and --instance need --postgres");
  if (postgres) a.source.store = store;
  else a.source.dir = positional.front();
  return a;
}

int run_policy_replay(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  auto parsed = parse_log_tool_args(args, "replay", err);
  if (!parsed) return kExitUsage;
  LogToolArgs& a = *parsed;
  if (!a.config) {
    err << "segproxyctl policy replay: --config NEW.yaml is required\n";
    return kExitUsage;
  }
  auto loaded = config::load_config_file(*a.config);
  if (!loaded.errors.empty() || !loaded.config) {
    for (const auto& e : loaded.errors) err << e.to_string() << "\n";
    if (loaded.errors.empty()) err << *a.config << ": configuration could not be loaded\n";
    return kExitUsage;
  }
  const config::Config cfg = std::move(*loaded.config);
  std::unique_ptr<authz::PolicyEngine> engine;
  try {
    engine = std::make_unique<authz::PolicyEngine>(cfg);
  } catch (const std::exception& e) {
    err << *a.config << ": " << e.what() << "\n";
    return kExitUsage;
  }
  RecordJudge judge(cfg, *engine);
  Report rep;
  const auto res = read_records(a.source, [&](const audit::AuditRecord& r) {
    if (r.event == "session.close") judge.end_session(r.session_id);
    if (r.event != "statement.decision") return;
    ++rep.records;
    const Judgement j = judge.judge(r);
    if (j.unjudged != Unjudged::None) {
      ++rep.unjudged[kUnjudgedNames[static_cast<std::size_t>(j.unjudged)]];
      return;
    }
    ++rep.judged;
    const bool was = r.decision == "allow";
    const auto& d = j.decision;
    if (d.allow && d.shadow_deny) rep.shadow_denials[{r.segment, d.shadow_rule}].add(r.statement);
    if (was == d.allow) {
      ++rep.unchanged;
      return;
    }
    // Grouped by the rule that decides now (the recorded one for deny -> allow when the
    // new allow names none: no table access).
    const std::string& rule = d.allow && d.rule_id.empty() ? r.rule_id : d.rule_id;
    (was ? rep.allow_to_deny : rep.deny_to_allow)[{r.segment, rule}].add(r.statement);
  });
  if (!res.ok) {
    err << "segproxyctl policy replay: the audit records could not be read completely:\n" << res.error;
    return kExitUsage;
  }
  if (res.undecodable > 0) rep.unjudged["undecodable"] += res.undecodable;
  print_report(out, rep, a.json);
  return rep.allow_to_deny.empty() ? kExitClean : kExitAllowToDeny;
}

}  // namespace segproxy::proxy::ctl
