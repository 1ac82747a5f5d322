#include "audit/exporters.hpp"

#include "audit/record_codec.hpp"
#include "audit/record_join.hpp"

namespace segproxy::audit {
namespace {

std::string tables_text(const AuditRecord& r) {
  std::string s;
  for (const auto& t : r.tables) {
    if (!s.empty()) s += ';';
    s += t.name + ":" + t.op;
  }
  return s;
}

std::string opt_num(const std::optional<std::uint64_t>& v) {
  return v ? std::to_string(*v) : std::string();
}

// Small ordered JSON object writer for OCSF output.
class Obj {
 public:
  explicit Obj(std::string& out) : out_(out) { out_.push_back('{'); }
  Obj& str(std::string_view k, std::string_view v, bool always = false) {
    if (v.empty() && !always) return *this;
    key(k);
    append_json_string(out_, v);
    return *this;
  }
  Obj& num(std::string_view k, std::uint64_t v) {
    key(k);
    out_ += std::to_string(v);
    return *this;
  }
  Obj& raw(std::string_view k, std::string_view json) {
    key(k);
    out_ += json;
    return *this;
  }
  std::string& begin(std::string_view k) {  // caller appends a nested value
    key(k);
    return out_;
  }
  void end() { out_.push_back('}'); }

 private:
  void key(std::string_view k) {
    if (!first_) out_.push_back(',');
    first_ = false;
    append_json_string(out_, k);
    out_.push_back(':');
  }
  std::string& out_;
  bool first_ = true;
};

struct Endpoint {
  std::string ip;
  std::optional<std::uint64_t> port;
};

Endpoint split_addr(const std::string& a) {
  Endpoint e;
  std::string host = a, port;
  if (!a.empty() && a[0] == '[') {
    const auto close = a.find(']');
    if (close != std::string::npos) {
      host = a.substr(1, close - 1);
      if (close + 2 < a.size() && a[close + 1] == ':') port = a.substr(close + 2);
    }
  } else if (a.find(':') == a.rfind(':') && a.find(':') != std::string::npos) {
    host = a.substr(0, a.find(':'));
    port = a.substr(a.find(':') + 1);
  }
  e.ip = host;
  if (!port.empty() && port.size() < 6 && port.find_first_not_of("0123456789") == std::string::npos)
    e.port = std::stoull(port);
  return e;
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// Datastore Activity (6005) activity_id: 1 Read, 2 Update, 3 Connect, 4 Query, 5 Write,
// 6 Create, 7 Delete, 99 Other.
std::pair<int, const char*> datastore_activity(const AuditRecord& r) {
  if (starts_with(r.event, "session.")) {
    if (r.event == "session.open" || r.event == "session.refused") return {3, "Connect"};
    return {99, "Other"};
  }
  std::string op = r.tables.empty() ? std::string() : r.tables.front().op;
  for (const auto& t : r.tables) {
    if (t.op != "select") op = t.op;  // a write anywhere dominates
  }
  if (op == "select") return {4, "Query"};
  if (op == "insert") return {6, "Create"};
  if (op == "update") return {2, "Update"};
  if (op == "delete" || op == "truncate") return {7, "Delete"};
  return {99, "Other"};
}

}  // namespace

std::optional<ExportFormat> parse_export_format(std::string_view s) {
  if (s == "jsonl") return ExportFormat::jsonl;
  if (s == "csv") return ExportFormat::csv;
  if (s == "ocsf") return ExportFormat::ocsf;
  if (s == "raw") return ExportFormat::raw;
  return std::nullopt;
}

bool matches(const AuditRecord& r, const ExportFilter& f) {
  // ts has a fixed-width canonical form, so string order is time order.
  if (f.since && r.ts < format_timestamp(*f.since)) return false;
  if (f.until && !(r.ts < format_timestamp(*f.until))) return false;
  if (!f.identity.empty() && r.spiffe_id != f.identity && r.cn != f.identity &&
      r.cert_sha256 != f.identity)
    return false;
  if (!f.segment.empty() && r.segment != f.segment) return false;
  if (!f.event.empty()) {
    if (f.event.back() == '*') {
      if (!starts_with(r.event, std::string_view(f.event).substr(0, f.event.size() - 1)))
        return false;
    } else if (r.event != f.event) {
      return false;
    }
  }
  return true;
}

std::string csv_quote(std::string_view field) {
  if (field.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(field);
  std::string out = "\"";
  for (char c : field) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::string csv_header() {
  return "seq,ts,instance,event,session_id,listener,protocol,client_addr,spiffe_id,cn,"
         "cert_sha256,cert_serial,segment,database,backend_user,statement,fingerprint,tables,"
         "decision,rule_id,reason,shadow_decision,shadow_rule,grant_id,rows,duration_us,sqlstate,error,detail,"
         "prev_hash,hash\r\n";
}

std::string to_csv_row(const AuditRecord& r) {
  const std::string cells[] = {
      std::to_string(r.seq), r.ts,          r.instance,       r.event,       r.session_id,
      r.listener,            r.protocol,    r.client_addr,    r.spiffe_id,   r.cn,
      r.cert_sha256,         r.cert_serial, r.segment,        r.database,    r.backend_user,
      r.statement,           r.fingerprint, tables_text(r),   r.decision,    r.rule_id,
      r.reason,              r.shadow_decision, r.shadow_rule, r.grant_id,
      opt_num(r.rows),       opt_num(r.duration_us), r.sqlstate, r.error,     r.detail,
      r.prev_hash,           r.hash};
  std::string out;
  for (std::size_t i = 0; i < std::size(cells); ++i) {
    if (i) out += ',';
    out += csv_quote(cells[i]);
  }
  out += "\r\n";
  return out;
}

std::string to_ocsf(const AuditRecord& r) {
  const bool datastore = starts_with(r.event, "session.") || starts_with(r.event, "statement.");
  const int class_uid = datastore ? 6005 : 6003;  // Datastore Activity : API Activity
  auto [activity_id, activity_name] =
      datastore ? datastore_activity(r) : std::pair<int, const char*>{99, "Other"};
  // SQLSTATE classes 00 (success), 01 (warning) and 02 (no data) are not failures.
  const bool sql_error = r.sqlstate.size() == 5 && r.sqlstate.compare(0, 2, "00") != 0 &&
                         r.sqlstate.compare(0, 2, "01") != 0 && r.sqlstate.compare(0, 2, "02") != 0;
  const bool failure = r.decision == "deny" || sql_error || !r.error.empty() ||
                       r.event == "session.refused" || r.event == "session.revoked";
  std::string out;
  Obj o(out);
  o.num("class_uid", static_cast<std::uint64_t>(class_uid))
      .num("category_uid", 6)
      .num("activity_id", static_cast<std::uint64_t>(activity_id))
      .str("activity_name", activity_name)
      .num("type_uid", static_cast<std::uint64_t>(class_uid) * 100 +
                           static_cast<std::uint64_t>(activity_id));
  const auto t = parse_timestamp(r.ts);
  const auto ms = t ? std::chrono::duration_cast<std::chrono::milliseconds>(
                          t->time_since_epoch()).count()
                    : 0;
  o.num("time", static_cast<std::uint64_t>(ms)).str("time_dt", r.ts);
  o.num("severity_id", failure ? 3 : 1).str("severity", failure ? "Medium" : "Informational");
  o.num("status_id", failure ? 2 : 1).str("status", failure ? "Failure" : "Success");
  o.str("status_code", r.sqlstate).str("status_detail", !r.error.empty() ? r.error : r.reason);
  if (!r.decision.empty())
    o.num("disposition_id", r.decision == "allow" ? 1 : 2)
        .str("disposition", r.decision == "allow" ? "Allowed" : "Blocked");
  o.str("message", r.event);
  {
    std::string& m = o.begin("metadata");
    Obj md(m);
    md.str("version", "1.1.0").str("uid", r.instance + "/" + std::to_string(r.seq));
    md.str("correlation_uid", r.session_id).str("log_name", "segproxy-audit");
    md.num("sequence", r.seq).str("original_time", r.ts);
    {
      std::string& p = md.begin("product");
      Obj pr(p);
      pr.str("name", "segproxy").str("vendor_name", "segproxy");
      pr.end();
    }
    md.end();
  }
  if (!r.spiffe_id.empty() || !r.cn.empty() || !r.cert_sha256.empty()) {
    std::string& a = o.begin("actor");
    Obj actor(a);
    {
      std::string& u = actor.begin("user");
      Obj user(u);
      user.str("name", !r.cn.empty() ? r.cn : r.spiffe_id)
          .str("uid", !r.spiffe_id.empty() ? r.spiffe_id : r.cert_sha256);
      user.end();
    }
    actor.end();
  }
  if (!r.client_addr.empty()) {
    const Endpoint e = split_addr(r.client_addr);
    std::string& s = o.begin("src_endpoint");
    Obj src(s);
    src.str("ip", e.ip);
    if (e.port) src.num("port", *e.port);
    src.end();
  }
  if (!r.listener.empty()) {
    std::string& d = o.begin("dst_endpoint");
    Obj dst(d);
    dst.str("name", r.listener).str("svc_name", r.protocol);
    dst.end();
  }
  if (datastore) {
    if (!r.database.empty()) {
      std::string& d = o.begin("database");
      Obj db(d);
      db.str("name", r.database).num("type_id", 1).str("type", "Relational");
      db.end();
    }
    if (!r.tables.empty()) {
      std::string& tb = o.begin("table");
      Obj table(tb);
      table.str("name", r.tables.front().name);
      table.end();
    }
    if (!r.statement.empty() || !r.fingerprint.empty()) {
      std::string& q = o.begin("query_info");
      Obj qi(q);
      qi.str("query_string", r.statement).str("uid", r.fingerprint);
      qi.end();
    }
  } else {
    std::string& a = o.begin("api");
    Obj api(a);
    api.str("operation", r.event);
    api.end();
  }
  {
    std::string& u = o.begin("unmapped");
    Obj un(u);
    un.str("event", r.event).str("segment", r.segment).str("backend_user", r.backend_user);
    un.str("protocol", r.protocol).str("cert_serial", r.cert_serial).str("rule_id", r.rule_id);
    un.str("decision", r.decision).str("reason", r.reason).str("tables", tables_text(r));
    // Shadow evaluation (docs/policy.md) and emergency grants (docs/admin.md); omitted when empty.
    un.str("shadow_decision", r.shadow_decision).str("shadow_rule", r.shadow_rule).str("grant_id", r.grant_id);
    if (r.rows) un.num("rows", *r.rows);
    if (r.duration_us) un.num("duration_us", *r.duration_us);
    un.str("detail", r.detail).str("hash", r.hash).str("prev_hash", r.prev_hash);
    un.end();
  }
  o.end();
  return out;
}

void write_export_record(std::ostream& out, ExportFormat format, const AuditRecord& r, std::string_view line,
                         bool joined) {
  switch (format) {
    case ExportFormat::raw: out << line << '\n'; break;
    case ExportFormat::jsonl:
      if (joined) out << encode_record(r) << '\n';  // hash / prev_hash are the logged line's
      else out << line << '\n';
      break;
    case ExportFormat::csv:
    case ExportFormat::ocsf:
      if (r.results.empty()) {
        out << (format == ExportFormat::csv ? to_csv_row(r) : to_ocsf(r) + "\n");
        break;
      }
      // A folded statement.result: one row / event per statement outcome.
      for (std::size_t i = 0; i < r.results.size(); ++i) {
        AuditRecord x = r;
        x.results.clear();
        const ResultEntry& e = r.results[i];
        x.rows = e.rows;
        x.duration_us = e.duration_us;
        x.sqlstate = e.sqlstate;
        x.error = e.error;
        x.detail = "result " + std::to_string(i + 1) + " of " + std::to_string(r.results.size());
        if (e.seq) x.detail += "; decision seq " + std::to_string(*e.seq);
        out << (format == ExportFormat::csv ? to_csv_row(x) : to_ocsf(x) + "\n");
      }
      break;
  }
}

ExportResult export_log(const std::filesystem::path& dir, std::ostream& out,
                        const ExportOptions& opts) {
  VerifyOptions vo;
  vo.public_key = opts.public_key;
  vo.checkpoints = opts.checkpoints;
  vo.verify_chain = opts.verify;
  LogReader reader(dir, vo);
  ExportResult res;
  if (opts.format == ExportFormat::csv) out << csv_header();
  RecordJoiner joiner;
  const RecordJoiner::Lookup lookup = [&reader](std::uint64_t seq) { return reader.line_of(seq); };
  AuditRecord r;
  std::string_view line;
  while (reader.next(r, line)) {
    // Joined before filtering: --identity / --segment match statement records too.
    const bool joined = joiner.join(r, lookup);
    if (!matches(r, opts.filter)) continue;
    write_export_record(out, opts.format, r, line, joined);
    ++res.exported;
  }
  res.verification = reader.result();
  res.unresolved = joiner.unresolved();
  return res;
}

}  // namespace segproxy::audit
