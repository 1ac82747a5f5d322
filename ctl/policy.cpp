// segproxyctl policy explain / test (see ctl/policy.hpp).
#include "ctl/policy.hpp"

#include "audit/record_codec.hpp"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <fstream>
#include <iterator>
#include <memory>

#include "authz/identity_mapper.hpp"
#include "authz/policy_engine.hpp"
#include "authz/prepared_names.hpp"
#include "authz/sql/mysql_classifier.hpp"
#include "authz/sql/pg_classifier.hpp"
#include "config/loader.hpp"
#include "authz/gate/pg_gate.hpp"
#include "ctl/policy_replay.hpp"
#include "ctl/time_arg.hpp"

namespace segproxy::proxy::ctl {
namespace sql = authz::sql;
using time_point = std::chrono::system_clock::time_point;

namespace {

constexpr int kExitAllow = 0;
constexpr int kExitDeny = 1;
constexpr int kExitUsage = 2;

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Indexed by the enum values (statement_info.hpp); the policy vocabulary's names.
constexpr const char* kClassNames[] = {"dml",     "transaction", "session_safe",   "ddl",
                                       "admin",   "procedural",  "anonymous_code", "notify",
                                       "prepare", "cursor",      "explain",        "forbidden",
                                       "unknown"};
static_assert(static_cast<std::size_t>(sql::StatementClass::Unknown) + 1 == std::size(kClassNames));
const char* class_name(sql::StatementClass k) { return kClassNames[static_cast<std::size_t>(k)]; }

// sql::TableOp mirrors config::TableOperation value for value (docs/policy.md).
static_assert(static_cast<int>(sql::TableOp::Maintain) == static_cast<int>(config::TableOperation::Maintain) &&
              static_cast<std::size_t>(sql::TableOp::Maintain) + 1 == config::kTableOperationCount);

std::string function_name(const sql::FunctionRef& f) {
  return f.schema.empty() ? f.name : f.schema + "." + f.name;
}

// ---- Loaded configuration -------------------------------------------------------------

struct World {
  config::Config cfg;
  std::unique_ptr<authz::PolicyEngine> engine;
  std::unique_ptr<authz::IdentityMapper> mapper;
};

std::unique_ptr<World> load_world(const std::string& path, std::ostream& err) {
  auto loaded = config::load_config_file(path);
  if (!loaded.errors.empty() || !loaded.config) {
    for (const auto& e : loaded.errors) err << e.to_string() << "\n";
    if (loaded.errors.empty()) err << path << ": configuration could not be loaded\n";
    return nullptr;
  }
  auto w = std::make_unique<World>();
  w->cfg = std::move(*loaded.config);
  try {
    w->engine = std::make_unique<authz::PolicyEngine>(w->cfg);
  } catch (const std::exception& e) {
    err << path << ": " << e.what() << "\n";
    return nullptr;
  }
  w->mapper = std::make_unique<authz::IdentityMapper>(w->cfg.identities);
  return w;
}

// How the backend lexes statements (ParameterStatus in a real session).
struct Lexing {
  std::optional<std::string> client_encoding;
  std::optional<std::string> standard_conforming_strings;
  bool mysql = false;  // --protocol mysql: the MySQL analyzer, as on a mysql listener
};

// ---- One evaluation -------------------------------------------------------------------

struct PartVerdict {
  sql::StatementPart part;
  authz::Decision decision;  // the part judged alone (informational)
};

struct Explanation {
  std::string identity;
  std::string segment;  // empty when no identity rule matched
  std::string database;
  bool classified = false;
  bool parse_ok = false;
  std::string parse_error;
  std::vector<PartVerdict> parts;
  authz::Decision decision;
};

// Every attribute given (ClientIdentity::display shows only spiffe id / CN / sha256).
std::string describe(const authz::ClientIdentity& id) {
  std::string out;
  const auto add = [&](const std::string& k, const std::string& v) {
    if (!v.empty()) out += (out.empty() ? "" : ";") + k + v;
  };
  add("", id.spiffe_id);
  add("CN=", id.cn);
  for (const auto& d : id.dns_sans) add("DNS=", d);
  for (const auto& o : id.ou) add("OU=", o);
  add("sha256=", id.sha256_hex);
  add("serial=", id.serial_hex);
  return out.empty() ? "(empty identity)" : out;
}

authz::Decision deny_startup(std::string reason) {
  return authz::Decision{false, "", std::move(reason), "28000"};
}

// One verdict per statement of `info`, for display.
void add_part_verdicts(Explanation& ex, const World& w, const sql::StatementInfo& info, time_point now,
                       const std::string& database) {
  ex.classified = true;
  ex.parse_ok = info.parse_ok;
  ex.parse_error = info.parse_error;
  for (const auto& part : info.statements) {
    sql::StatementInfo one;
    one.parse_ok = true;
    one.statements.push_back(part);
    ex.parts.push_back(PartVerdict{part, w.engine->evaluate(ex.segment, one, now, database)});
  }
}

Explanation explain(const World& w, const authz::ClientIdentity& id, const std::string& database,
                    std::string_view text, time_point now, const Lexing& lex) {
  Explanation ex;
  ex.identity = describe(id);
  ex.database = database;
  const auto match = w.mapper->map(id);
  if (!match) {
    ex.decision = deny_startup("segproxy: no identity rule matches " + ex.identity);
    return ex;
  }
  ex.segment = match->segment;
  const auto seg = w.cfg.segments.find(ex.segment);
  if (seg == w.cfg.segments.end()) {
    ex.decision = deny_startup("segproxy: segment \"" + ex.segment + "\" is not configured");
    return ex;
  }
  const auto& dbs = seg->second.databases;
  const bool no_database = lex.mysql && (database == "-" || database.empty());  // MySQL: none selected
  if (!no_database && std::find(dbs.begin(), dbs.end(), database) == dbs.end()) {
    ex.decision = deny_startup("segproxy: database \"" + database + "\" is not permitted for segment \"" +
                               ex.segment + "\"");
    return ex;
  }
  if (lex.mysql) {
    // As a MySQL session with `database` selected and the server's default sql_mode.
    sql::MysqlClassifierOptions mopts;
    const std::string db = no_database ? std::string() : database;
    mopts.current_database = db;
    mopts.limits = statement_limits(w.cfg.limits);
    const sql::StatementInfo info = sql::classify_mysql(text, mopts);
    ex.decision = w.engine->evaluate(ex.segment, info, now, db);
    // A fresh session has PREPAREd no SQL-level name (MysqlSession::check_prepared_names).
    if (ex.decision.allow) {
      if (auto refused = authz::PreparedNames{}.refuse_unknown(authz::prepared_uses(info))) ex.decision = *refused;
    }
    // USE of a database outside the segment is refused by the session (as at login).
    for (const auto& part : info.statements) {
      if (ex.decision.allow && !part.database.empty() &&
          std::find(dbs.begin(), dbs.end(), part.database) == dbs.end()) {
        ex.decision = deny_startup("segproxy: access denied to database '" + part.database + "' for segment \"" +
                                   ex.segment + "\"");
        ex.decision.sqlstate = "42000";
      }
    }
    add_part_verdicts(ex, w, info, now, db);
    return ex;
  }
  // The decision: exactly what a fresh proxy session would answer.
  PgGate gate(*w.engine, ex.segment, database, true, statement_limits(w.cfg.limits));
  if (lex.client_encoding) gate.on_parameter_status("client_encoding", *lex.client_encoding);
  if (lex.standard_conforming_strings) {
    gate.on_parameter_status("standard_conforming_strings", *lex.standard_conforming_strings);
  }
  ex.decision = gate.check(text, now).decision;
  // The classification, for display (same options as the gate's).
  sql::ClassifierOptions opts;
  opts.limits = statement_limits(w.cfg.limits);
  if (const auto* pol = w.engine->policy(ex.segment)) opts.default_schema = pol->default_schema;
  if (lex.client_encoding) opts.client_encoding = *lex.client_encoding;
  if (lex.standard_conforming_strings) opts.standard_conforming_strings = lower(*lex.standard_conforming_strings) == "on";
  add_part_verdicts(ex, w, sql::classify_pg(text, opts), now, database);
  return ex;
}

// ---- Output ---------------------------------------------------------------------------

void print_text(std::ostream& out, const Explanation& ex, time_point now) {
  out << "identity: " << ex.identity << " -> "
      << (ex.segment.empty() ? std::string("(no segment)") : "segment " + ex.segment) << "\n";
  out << "database: " << ex.database << "\n";
  out << "at:       " << format_instant(now) << "\n";
  if (ex.classified && !ex.parse_ok) out << "parse error: " << ex.parse_error << "\n";
  for (std::size_t i = 0; i < ex.parts.size(); ++i) {
    const auto& p = ex.parts[i].part;
    out << "statement " << (i + 1) << ": " << class_name(p.klass) << " " << p.command;
    if (!p.prepared_name.empty()) out << " [prepared " << p.prepared_name << "]";
    if (p.locks_rows) out << " [locks rows]";
    out << "\n";
    for (const auto& t : p.tables) out << "  table    " << t.schema << "." << t.name << " " << sql::table_op_name(t.op) << "\n";
    for (const auto& f : p.functions) out << "  function " << function_name(f) << "\n";
    if (!p.forbidden_reason.empty()) out << "  reason   " << p.forbidden_reason << "\n";
    const auto& d = ex.parts[i].decision;
    out << "  -> " << (d.allow ? "allow" : "deny") << (d.rule_id.empty() ? "" : " [" + d.rule_id + "]")
        << (d.allow ? "" : ": " + d.reason) << "\n";
  }
  const auto& d = ex.decision;
  out << "decision: " << (d.allow ? "ALLOW" : "DENY") << "\n";
  out << "rule:     " << (d.rule_id.empty() ? "-" : d.rule_id) << "\n";
  out << "reason:   " << d.reason << "\n";
  if (d.shadow_deny) out << "shadow:   deny [" << d.shadow_rule << "]: " << d.shadow_reason << "\n";
  if (!d.sqlstate.empty()) out << "sqlstate: " << d.sqlstate << "\n";
}

std::string jstr(std::string_view s) { return "\"" + json_escape(s) + "\""; }

void print_json(std::ostream& out, const Explanation& ex, time_point now) {
  out << "{\"identity\":" << jstr(ex.identity)
      << ",\"segment\":" << (ex.segment.empty() ? std::string("null") : jstr(ex.segment))
      << ",\"database\":" << jstr(ex.database) << ",\"at\":" << jstr(format_instant(now));
  if (ex.classified) {
    out << ",\"parse_ok\":" << (ex.parse_ok ? "true" : "false");
    if (!ex.parse_ok) out << ",\"parse_error\":" << jstr(ex.parse_error);
  }
  out << ",\"statements\":[";
  for (std::size_t i = 0; i < ex.parts.size(); ++i) {
    const auto& p = ex.parts[i].part;
    const auto& d = ex.parts[i].decision;
    out << (i ? "," : "") << "{\"class\":" << jstr(class_name(p.klass)) << ",\"command\":" << jstr(p.command)
        << ",\"tables\":[";
    for (std::size_t j = 0; j < p.tables.size(); ++j) {
      const auto& t = p.tables[j];
      out << (j ? "," : "") << "{\"schema\":" << jstr(t.schema) << ",\"name\":" << jstr(t.name)
          << ",\"op\":" << jstr(sql::table_op_name(t.op)) << "}";
    }
    out << "],\"functions\":[";
    for (std::size_t j = 0; j < p.functions.size(); ++j) out << (j ? "," : "") << jstr(function_name(p.functions[j]));
    out << "]";
    if (!p.forbidden_reason.empty()) out << ",\"reason\":" << jstr(p.forbidden_reason);
    if (!p.prepared_name.empty()) out << ",\"prepared_name\":" << jstr(p.prepared_name);
    if (p.locks_rows) out << ",\"locks_rows\":true";
    out << ",\"decision\":" << jstr(d.allow ? "allow" : "deny") << ",\"rule_id\":" << jstr(d.rule_id)
        << ",\"decision_reason\":" << jstr(d.reason) << "}";
  }
  const auto& d = ex.decision;
  out << "],\"decision\":" << jstr(d.allow ? "allow" : "deny") << ",\"rule_id\":" << jstr(d.rule_id)
      << ",\"reason\":" << jstr(d.reason) << ",\"sqlstate\":" << jstr(d.sqlstate);
  if (d.shadow_deny) out << ",\"shadow_decision\":\"deny\",\"shadow_rule\":" << jstr(d.shadow_rule);
  out << "}\n";
}

// ---- Argument parsing -----------------------------------------------------------------

struct Args {
  std::string config;
  std::vector<std::string> identities;
  std::optional<std::string> database;
  std::optional<std::string> at;
  bool json = false;
  bool verbose = false;
  Lexing lex;
  std::vector<std::string> positional;
};

void usage(std::ostream& out) {
  out << "usage: segproxyctl policy explain --config FILE --identity ID --database DB [--at T]\n"
         "                                  [--json] [--client-encoding ENC]\n"
         "                                  [--standard-conforming-strings on|off]\n"
         "                                  [--protocol postgres|mysql] SQL\n"
         "       segproxyctl policy test --config FILE [--at T] [--verbose] CASES.tsv\n"
         "       segproxyctl policy replay --config NEW.yaml [--json] [--segment S] [--since T] [--until T]\n"
         "                                 [--no-verify] (AUDIT_DIR | --postgres CONNINFO [--password-file F]\n"
         "                                 [--instance X])\n"
         "       segproxyctl policy suggest --segment S [--config BASE.yaml] [--since T] [--until T]\n"
         "                                 [--no-verify] (AUDIT_DIR | --postgres CONNINFO ...)\n"
         "ID: spiffe://..., cn=NAME, dns=NAME, ou=NAME, sha256=HEX, serial=HEX (join with ';'),\n"
         "    or a bare CN. CASES.tsv rows: identity<TAB>database<TAB>sql<TAB>allow|deny[:SQLSTATE]\n"
         "T: RFC 3339 (2026-11-22T12:00:00Z, +hh:mm offsets) or a date (2026-11-22, midnight UTC),\n"
         "   years 1970 to 2200 (--at: default now).\n";
}

// Returns false (with a message on err) on an unknown option or a missing value.
bool parse_args(const std::vector<std::string>& args, std::size_t from, Args& a, std::ostream& err) {
  for (std::size_t i = from; i < args.size(); ++i) {
    const std::string& s = args[i];
    const auto value = [&](std::string& into) {
      if (i + 1 >= args.size()) {
        err << "segproxyctl policy: " << s << " needs a value\n";
        return false;
      }
      into = args[++i];
      return true;
    };
    std::string v;
    if (s == "--") {
      a.positional.insert(a.positional.end(), args.begin() + static_cast<std::ptrdiff_t>(i + 1), args.end());
      return true;
    } else if (s == "--config") {
      if (!value(a.config)) return false;
    } else if (s == "--identity") {
      if (!value(v)) return false;
      a.identities.push_back(v);
    } else if (s == "--database") {
      if (!value(v)) return false;
      a.database = v;
    } else if (s == "--at") {
      if (!value(v)) return false;
      a.at = v;
    } else if (s == "--protocol") {
      if (!value(v)) return false;
      if (v != "postgres" && v != "mysql") {
        err << "segproxyctl policy: --protocol takes postgres or mysql\n";
        return false;
      }
      a.lex.mysql = v == "mysql";
    } else if (s == "--client-encoding") {
      if (!value(v)) return false;
      a.lex.client_encoding = v;
    } else if (s == "--standard-conforming-strings") {
      if (!value(v)) return false;
      if (lower(v) != "on" && lower(v) != "off") {
        err << "segproxyctl policy: --standard-conforming-strings takes on or off\n";
        return false;
      }
      a.lex.standard_conforming_strings = lower(v);
    } else if (s == "--json") {
      a.json = true;
    } else if (s == "--verbose" || s == "-v") {
      a.verbose = true;
    } else if (s.size() > 1 && s[0] == '-' && s[1] == '-') {
      err << "segproxyctl policy: unknown option " << s << "\n";
      return false;
    } else {
      a.positional.push_back(s);
    }
  }
  return true;
}

std::optional<time_point> resolve_at(const Args& a, std::ostream& err) {
  if (!a.at) return std::chrono::system_clock::now();
  std::string why;
  auto t = parse_time_arg(*a.at, why);
  if (!t) err << "segproxyctl policy: --at " << why << "\n";
  return t;
}

int cmd_explain(const Args& a, std::ostream& out, std::ostream& err) {
  if (a.config.empty() || a.identities.empty() || !a.database || a.positional.size() != 1) {
    err << "segproxyctl policy explain: needs --config, --identity, --database and one SQL argument\n";
    usage(err);
    return kExitUsage;
  }
  std::string joined;
  for (const auto& i : a.identities) joined += (joined.empty() ? "" : ";") + i;
  std::string why;
  const auto id = parse_identity_spec(joined, why);
  if (!id) {
    err << "segproxyctl policy explain: --identity: " << why << "\n";
    return kExitUsage;
  }
  const auto now = resolve_at(a, err);
  if (!now) return kExitUsage;
  const auto world = load_world(a.config, err);
  if (!world) return kExitUsage;
  const Explanation ex = explain(*world, *id, *a.database, a.positional[0], *now, a.lex);
  if (a.json) print_json(out, ex, *now);
  else print_text(out, ex, *now);
  return ex.decision.allow ? kExitAllow : kExitDeny;
}

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> cols;
  std::size_t start = 0;
  for (;;) {
    const auto tab = line.find('\t', start);
    cols.push_back(line.substr(start, tab == std::string::npos ? std::string::npos : tab - start));
    if (tab == std::string::npos) return cols;
    start = tab + 1;
  }
}

// A case's SQL for messages: newlines and tabs shown escaped, long text shortened.
std::string shown_sql(const std::string& sql) {
  std::string out;
  for (char c : sql) {
    if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else out += c;
  }
  if (out.size() > 200) out = out.substr(0, 197) + "...";
  return out;
}

int cmd_test(const Args& a, std::ostream& out, std::ostream& err) {
  if (a.config.empty() || a.positional.size() != 1 || !a.identities.empty() || a.database || a.json) {
    err << "segproxyctl policy test: needs --config and one CASES.tsv argument\n";
    usage(err);
    return kExitUsage;
  }
  const auto now = resolve_at(a, err);
  if (!now) return kExitUsage;
  std::ifstream in(a.positional[0], std::ios::binary);
  if (!in) {
    err << "segproxyctl policy test: cannot read " << a.positional[0] << "\n";
    return kExitUsage;
  }
  const auto world = load_world(a.config, err);
  if (!world) return kExitUsage;
  const std::string& file = a.positional[0];
  std::size_t passed = 0, failed = 0;
  std::string line;
  for (int lineno = 1; std::getline(in, line); ++lineno) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#' ||
        std::all_of(line.begin(), line.end(), [](unsigned char c) { return std::isspace(c); })) {
      continue;
    }
    const auto malformed = [&](const std::string& why) {
      ++failed;
      out << file << ":" << lineno << ": malformed row: " << why << "\n";
    };
    const auto cols = split_tabs(line);
    if (cols.size() != 4) {
      malformed("expected 4 tab-separated columns, got " + std::to_string(cols.size()));
      continue;
    }
    std::string why;
    const auto id = parse_identity_spec(cols[0], why);
    if (!id) { malformed("identity: " + why); continue; }
    const auto text = unescape_sql_column(cols[2], why);
    if (!text) { malformed("sql: " + why); continue; }
    const auto expected = parse_expectation(cols[3]);
    if (!expected) { malformed("expected must be allow, deny or deny:SQLSTATE, got \"" + cols[3] + "\""); continue; }
    const Explanation ex = explain(*world, *id, cols[1], *text, *now, a.lex);
    const auto& d = ex.decision;
    const bool ok = d.allow == expected->allow && (expected->sqlstate.empty() || expected->sqlstate == d.sqlstate);
    if (ok) {
      ++passed;
      if (a.verbose) out << file << ":" << lineno << ": ok " << (d.allow ? "allow" : "deny") << "\n";
      continue;
    }
    ++failed;
    out << file << ":" << lineno << ": MISMATCH\n"
        << "  identity: " << ex.identity << " -> " << (ex.segment.empty() ? "(no segment)" : ex.segment)
        << ", database " << cols[1] << "\n"
        << "  sql:      " << shown_sql(*text) << "\n"
        << "  expected: " << cols[3] << "\n"
        << "  got:      " << (d.allow ? "allow" : "deny") << (d.sqlstate.empty() ? "" : ":" + d.sqlstate)
        << (d.rule_id.empty() ? "" : " [" + d.rule_id + "]") << "\n"
        << "  reason:   " << d.reason << "\n";
  }
  out << passed << " passed, " << failed << " failed\n";
  return failed == 0 ? 0 : 1;
}

}  // namespace

int run_policy(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    usage(args.empty() ? err : out);
    return args.empty() ? kExitUsage : 0;
  }
  if (args[0] == "replay" || args[0] == "suggest") {  // ctl/policy_replay.hpp
    const std::vector<std::string> rest(args.begin() + 1, args.end());
    return args[0] == "replay" ? run_policy_replay(rest, out, err) : run_policy_suggest(rest, out, err);
  }
  Args a;
  if (args[0] != "explain" && args[0] != "test") {
    err << "segproxyctl policy: unknown subcommand " << args[0] << "\n";
    usage(err);
    return kExitUsage;
  }
  if (!parse_args(args, 1, a, err)) {
    usage(err);
    return kExitUsage;
  }
  return args[0] == "explain" ? cmd_explain(a, out, err) : cmd_test(a, out, err);
}

}  // namespace segproxy::proxy::ctl
