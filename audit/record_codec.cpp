#include "audit/record_codec.hpp"

#include <charconv>
#include <cstdio>
#include <ctime>

#include "protocols/common/time_text.hpp"

namespace segproxy::audit {
namespace {

// Every field after "seq" is preceded by ','.
void append_key(std::string& out, std::string_view key) {
  out.append(",\"");
  out.append(key);
  out.append("\":");
}

void put_str(std::string& out, std::string_view key, std::string_view v, bool always = false) {
  if (v.empty() && !always) return;
  append_key(out, key);
  append_json_string(out, v);
}

void append_uint(std::string& out, std::uint64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  out.append(buf, static_cast<std::size_t>(end - buf));
}

void put_num(std::string& out, std::string_view key, std::uint64_t v) {
  append_key(out, key);
  append_uint(out, v);
}

void put_opt(std::string& out, std::string_view key, const std::optional<std::uint64_t>& v) {
  if (v) put_num(out, key, *v);
}

// One results entry: {"seq":..,"rows":..,"duration_us":..,"sqlstate":..,"error":..}, absent
// parts omitted (an entry with nothing in it is "{}").
void append_result_entry(std::string& out, const ResultEntry& e) {
  out.push_back('{');
  const std::size_t open = out.size();
  put_opt(out, "seq", e.seq);
  put_opt(out, "rows", e.rows);
  put_opt(out, "duration_us", e.duration_us);
  put_str(out, "sqlstate", e.sqlstate);
  put_str(out, "error", e.error);
  if (out.size() > open) out.erase(open, 1);  // the first key has no leading ','
  out.push_back('}');
}

std::string* string_field(AuditRecord& r, std::string_view k) {
  static constexpr std::string AuditRecord::*kFields[] = {
      &AuditRecord::ts,          &AuditRecord::instance,     &AuditRecord::event,
      &AuditRecord::session_id,  &AuditRecord::listener,     &AuditRecord::protocol,
      &AuditRecord::client_addr, &AuditRecord::spiffe_id,    &AuditRecord::cn,
      &AuditRecord::cert_sha256, &AuditRecord::cert_serial,  &AuditRecord::segment,
      &AuditRecord::database,    &AuditRecord::backend_user, &AuditRecord::statement,
      &AuditRecord::fingerprint, &AuditRecord::decision,     &AuditRecord::rule_id,
      &AuditRecord::reason,      &AuditRecord::sqlstate,     &AuditRecord::error,
      &AuditRecord::detail,      &AuditRecord::genesis,      &AuditRecord::head_hash,
      &AuditRecord::key_id,      &AuditRecord::signature,    &AuditRecord::prev_hash,
      &AuditRecord::hash,        &AuditRecord::statement_sha256,
      &AuditRecord::shadow_decision, &AuditRecord::shadow_rule,
      &AuditRecord::grant_id};  // emergency grants
  static constexpr std::string_view kNames[] = {
      "ts",          "instance",    "event",        "session_id", "listener",
      "protocol",    "client_addr", "spiffe_id",    "cn",         "cert_sha256",
      "cert_serial", "segment",     "database",     "backend_user", "statement",
      "fingerprint", "decision",    "rule_id",      "reason",     "sqlstate",
      "error",       "detail",      "genesis",      "head_hash",  "key_id",
      "signature",   "prev_hash",   "hash",         "statement_sha256",
      "shadow_decision", "shadow_rule",
      "grant_id"};  // emergency grants
  static_assert(std::size(kFields) == std::size(kNames));
  for (std::size_t i = 0; i < std::size(kNames); ++i) {
    if (kNames[i] == k) return &(r.*kFields[i]);
  }
  return nullptr;
}

// A counter: a plain unsigned integer (canonical lines hold nothing else).
bool read_counter(const json::Value& v, std::uint64_t& out) {
  if (v.is_uint()) {
    out = v.as_uint();
    return true;
  }
  if (!v.is_int() || v.as_int() < 0) return false;
  out = static_cast<std::uint64_t>(v.as_int());
  return true;
}

// [{"name":...,"op":...}, ...]; key order and extra keys are left to the canonical check.
bool read_tables(const json::Value& v, std::vector<TableAccess>& tables) {
  if (!v.is_array()) return false;
  for (const json::Value& item : v.as_array()) {
    const json::Value* name = item.find("name");
    const json::Value* op = item.find("op");
    if (name == nullptr || op == nullptr || !name->is_string() || !op->is_string()) return false;
    tables.push_back({name->as_string(), op->as_string()});
  }
  return true;
}

// [{"seq":..,"rows":..,...}, ...]; key order and extra keys are left to the canonical check.
bool read_results(const json::Value& v, std::vector<ResultEntry>& results) {
  if (!v.is_array()) return false;
  for (const json::Value& item : v.as_array()) {
    if (!item.is_object()) return false;
    ResultEntry e;
    for (const json::Member& m : item.as_object()) {
      if (m.key == "seq" || m.key == "rows" || m.key == "duration_us") {
        std::uint64_t n = 0;
        if (!read_counter(m.value, n)) return false;
        (m.key == "seq" ? e.seq : m.key == "rows" ? e.rows : e.duration_us) = n;
      } else if (m.key == "sqlstate" || m.key == "error") {
        if (!m.value.is_string()) return false;
        (m.key == "sqlstate" ? e.sqlstate : e.error) = m.value.as_string();
      } else {
        return false;
      }
    }
    results.push_back(std::move(e));
  }
  return true;
}

}  // namespace

void append_body(std::string& out, const AuditRecord& r, std::string_view statement, BodyLayout* layout) {
  put_str(out, "event", r.event, true);
  put_str(out, "session_id", r.session_id);
  put_str(out, "listener", r.listener);
  put_str(out, "protocol", r.protocol);
  put_str(out, "client_addr", r.client_addr);
  put_str(out, "spiffe_id", r.spiffe_id);
  put_str(out, "cn", r.cn);
  put_str(out, "cert_sha256", r.cert_sha256);
  put_str(out, "cert_serial", r.cert_serial);
  put_str(out, "segment", r.segment);
  put_str(out, "database", r.database);
  put_str(out, "backend_user", r.backend_user);
  put_opt(out, "same_as", r.same_as);
  if (layout != nullptr) layout->head_end = out.size();
  put_str(out, "statement", statement);
  put_opt(out, "statement_length", r.statement_length);
  put_str(out, "statement_sha256", r.statement_sha256);
  put_str(out, "fingerprint", r.fingerprint);
  if (!r.tables.empty()) {
    append_key(out, "tables");
    out.push_back('[');
    for (std::size_t i = 0; i < r.tables.size(); ++i) {
      if (i) out.push_back(',');
      out.append("{\"name\":");
      append_json_string(out, r.tables[i].name);
      out.append(",\"op\":");
      append_json_string(out, r.tables[i].op);
      out.push_back('}');
    }
    out.push_back(']');
  }
  put_str(out, "decision", r.decision);
  put_str(out, "rule_id", r.rule_id);
  put_str(out, "reason", r.reason);
  put_str(out, "shadow_decision", r.shadow_decision);
  put_str(out, "shadow_rule", r.shadow_rule);
  put_str(out, "grant_id", r.grant_id);  // emergency grants: part of the statement's shape
  if (layout != nullptr) layout->shape_end = out.size();
  put_opt(out, "rows", r.rows);
  put_opt(out, "duration_us", r.duration_us);
  put_str(out, "sqlstate", r.sqlstate);
  put_str(out, "error", r.error);
  if (!r.results.empty()) {
    append_key(out, "results");
    out.push_back('[');
    for (std::size_t i = 0; i < r.results.size(); ++i) {
      if (i) out.push_back(',');
      append_result_entry(out, r.results[i]);
    }
    out.push_back(']');
  }
  put_str(out, "detail", r.detail);
  put_str(out, "genesis", r.genesis);
  put_opt(out, "head_seq", r.head_seq);
  put_str(out, "head_hash", r.head_hash);
  put_str(out, "key_id", r.key_id);
  put_str(out, "signature", r.signature);
}

std::string encode_record(const AuditRecord& r, bool with_hash) {
  std::string out;
  out.reserve(256 + r.statement.size());
  out.append("{\"seq\":");
  append_uint(out, r.seq);
  put_str(out, "ts", r.ts, true);
  put_str(out, "instance", r.instance);
  append_body(out, r, r.statement);
  put_str(out, "prev_hash", r.prev_hash, true);
  if (with_hash) put_str(out, "hash", r.hash, true);
  out.push_back('}');
  return out;
}

std::optional<AuditRecord> decode_record(std::string_view line, std::string& error) {
  // The one JSON reader, bounded by the line itself (callers cap line lengths); the
  // canonical re-encoding below rejects whatever JSON allows and the codec never writes.
  json::Limits limits;
  limits.max_depth = 3;  // record object -> tables array -> table object
  limits.max_bytes = line.size();
  limits.max_string = line.size();
  limits.allow_uint64 = true;  // counters are 64-bit unsigned
  const json::ParseResult parsed = json::parse(line, limits);
  if (!parsed) {
    error = "malformed JSON at offset " + std::to_string(parsed.error_offset) + ": " + parsed.error;
    return std::nullopt;
  }
  if (!parsed.value->is_object()) {
    error = "not a JSON object";
    return std::nullopt;
  }
  AuditRecord r;
  bool has_seq = false;
  for (const json::Member& m : parsed.value->as_object()) {
    const std::string& key = m.key;
    bool ok = true;
    if (key == "seq") {
      ok = read_counter(m.value, r.seq);
      has_seq = ok;
    } else if (key == "rows" || key == "duration_us" || key == "head_seq" || key == "statement_length" ||
               key == "same_as") {
      std::uint64_t v = 0;
      ok = read_counter(m.value, v);
      (key == "rows"               ? r.rows
       : key == "duration_us"      ? r.duration_us
       : key == "statement_length" ? r.statement_length
       : key == "same_as"          ? r.same_as
                                   : r.head_seq) = v;
    } else if (key == "tables") {
      ok = read_tables(m.value, r.tables);
    } else if (key == "results") {
      ok = read_results(m.value, r.results);
    } else if (std::string* f = string_field(r, key)) {
      ok = m.value.is_string();
      if (ok) *f = m.value.as_string();
    } else {
      error = "unknown key \"" + key + "\"";
      return std::nullopt;
    }
    if (!ok) {
      error = "malformed value of \"" + key + "\"";
      return std::nullopt;
    }
  }
  if (!has_seq || r.ts.empty() || r.event.empty() || r.prev_hash.empty() || r.hash.empty()) {
    error = "missing required field (seq, ts, event, prev_hash, hash)";
    return std::nullopt;
  }
  if (encode_record(r) != line) {
    error = "not in canonical form";
    return std::nullopt;
  }
  return r;
}

std::string format_timestamp(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  const auto us = time_point_cast<microseconds>(t);
  auto secs = time_point_cast<seconds>(us);
  if (secs > us) secs -= seconds(1);
  const auto frac = (us - secs).count();
  const std::time_t tt = system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(frac));
  return buf;
}

std::optional<std::chrono::system_clock::time_point> parse_timestamp(std::string_view s) {
  // A hostile log's "ts" may name any year: the one RFC 3339 reader refuses what the
  // clock cannot hold (years outside 1970..2200) instead of overflowing.
  return protocols::parse_rfc3339(s, protocols::TimeSyntax::Utc);
}

}  // namespace segproxy::audit
