#include "audit/record_codec.hpp"

#include <cstdio>
#include <ctime>

namespace segproxy::audit {
namespace {

void append_key(std::string& out, bool& first, std::string_view key) {
  if (!first) out.push_back(',');
  first = false;
  out.push_back('"');
  out.append(key);
  out.append("\":");
}

void put_str(std::string& out, bool& first, std::string_view key, const std::string& v,
             bool always = false) {
  if (v.empty() && !always) return;
  append_key(out, first, key);
  append_json_string(out, v);
}

void put_num(std::string& out, bool& first, std::string_view key, std::uint64_t v) {
  append_key(out, first, key);
  out.append(std::to_string(v));
}

void put_opt(std::string& out, bool& first, std::string_view key,
             const std::optional<std::uint64_t>& v) {
  if (v) put_num(out, first, key, *v);
}

// ---- strict reader for exactly the canonical format ----------------------------------

class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}
  bool eof() const { return pos_ >= s_.size(); }
  bool consume(char c) {
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool peek(char c) const { return pos_ < s_.size() && s_[pos_] == c; }

  bool string(std::string& out) {
    if (!consume('"')) return false;
    out.clear();
    while (pos_ < s_.size()) {
      const char c = s_[pos_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return false;
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (pos_ >= s_.size()) return false;
      const char e = s_[pos_++];
      switch (e) {
        case '"': out.push_back('"'); break;
        case '\\': out.push_back('\\'); break;
        case '/': out.push_back('/'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'u': {
          unsigned cp = 0;
          if (!hex4(cp)) return false;
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            unsigned lo = 0;
            if (!consume('\\') || !consume('u') || !hex4(lo) || lo < 0xDC00 || lo > 0xDFFF)
              return false;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return false;
          }
          append_utf8(out, cp);
          break;
        }
        default: return false;
      }
    }
    return false;
  }

  bool number(std::uint64_t& v) {
    const std::size_t start = pos_;
    v = 0;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
      const unsigned d = static_cast<unsigned>(s_[pos_] - '0');
      if (v > (UINT64_MAX - d) / 10) return false;
      v = v * 10 + d;
      ++pos_;
    }
    return pos_ > start;
  }

 private:
  bool hex4(unsigned& v) {
    if (pos_ + 4 > s_.size()) return false;
    v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = s_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f') v |= static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= static_cast<unsigned>(c - 'A' + 10);
      else return false;
    }
    return true;
  }
  static void append_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  std::string_view s_;
  std::size_t pos_ = 0;
};

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
      &AuditRecord::hash,        &AuditRecord::statement_sha256};
  static constexpr std::string_view kNames[] = {
      "ts",          "instance",    "event",        "session_id", "listener",
      "protocol",    "client_addr", "spiffe_id",    "cn",         "cert_sha256",
      "cert_serial", "segment",     "database",     "backend_user", "statement",
      "fingerprint", "decision",    "rule_id",      "reason",     "sqlstate",
      "error",       "detail",      "genesis",      "head_hash",  "key_id",
      "signature",   "prev_hash",   "hash",         "statement_sha256"};
  static_assert(std::size(kFields) == std::size(kNames));
  for (std::size_t i = 0; i < std::size(kNames); ++i) {
    if (kNames[i] == k) return &(r.*kFields[i]);
  }
  return nullptr;
}

bool read_tables(Reader& rd, std::vector<TableAccess>& tables) {
  if (!rd.consume('[')) return false;
  if (rd.consume(']')) return true;
  do {
    TableAccess t;
    std::string key;
    if (!rd.consume('{')) return false;
    if (!rd.string(key) || key != "name" || !rd.consume(':') || !rd.string(t.name)) return false;
    if (!rd.consume(',')) return false;
    if (!rd.string(key) || key != "op" || !rd.consume(':') || !rd.string(t.op)) return false;
    if (!rd.consume('}')) return false;
    tables.push_back(std::move(t));
  } while (rd.consume(','));
  return rd.consume(']');
}

}  // namespace

std::string encode_record(const AuditRecord& r, bool with_hash) {
  std::string out;
  out.reserve(256 + r.statement.size());
  bool first = true;
  out.push_back('{');
  put_num(out, first, "seq", r.seq);
  put_str(out, first, "ts", r.ts, true);
  put_str(out, first, "instance", r.instance);
  put_str(out, first, "event", r.event, true);
  put_str(out, first, "session_id", r.session_id);
  put_str(out, first, "listener", r.listener);
  put_str(out, first, "protocol", r.protocol);
  put_str(out, first, "client_addr", r.client_addr);
  put_str(out, first, "spiffe_id", r.spiffe_id);
  put_str(out, first, "cn", r.cn);
  put_str(out, first, "cert_sha256", r.cert_sha256);
  put_str(out, first, "cert_serial", r.cert_serial);
  put_str(out, first, "segment", r.segment);
  put_str(out, first, "database", r.database);
  put_str(out, first, "backend_user", r.backend_user);
  put_str(out, first, "statement", r.statement);
  put_opt(out, first, "statement_length", r.statement_length);
  put_str(out, first, "statement_sha256", r.statement_sha256);
  put_str(out, first, "fingerprint", r.fingerprint);
  if (!r.tables.empty()) {
    append_key(out, first, "tables");
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
  put_str(out, first, "decision", r.decision);
  put_str(out, first, "rule_id", r.rule_id);
  put_str(out, first, "reason", r.reason);
  put_opt(out, first, "rows", r.rows);
  put_opt(out, first, "duration_us", r.duration_us);
  put_str(out, first, "sqlstate", r.sqlstate);
  put_str(out, first, "error", r.error);
  put_str(out, first, "detail", r.detail);
  put_str(out, first, "genesis", r.genesis);
  put_opt(out, first, "head_seq", r.head_seq);
  put_str(out, first, "head_hash", r.head_hash);
  put_str(out, first, "key_id", r.key_id);
  put_str(out, first, "signature", r.signature);
  put_str(out, first, "prev_hash", r.prev_hash, true);
  if (with_hash) put_str(out, first, "hash", r.hash, true);
  out.push_back('}');
  return out;
}

std::optional<AuditRecord> decode_record(std::string_view line, std::string& error) {
  AuditRecord r;
  Reader rd(line);
  bool has_seq = false;
  if (!rd.consume('{')) {
    error = "not a JSON object";
    return std::nullopt;
  }
  if (!rd.peek('}')) {
    do {
      std::string key;
      if (!rd.string(key) || !rd.consume(':')) {
        error = "malformed key";
        return std::nullopt;
      }
      bool ok = true;
      if (key == "seq") {
        ok = rd.number(r.seq);
        has_seq = ok;
      } else if (key == "rows" || key == "duration_us" || key == "head_seq" || key == "statement_length") {
        std::uint64_t v = 0;
        ok = rd.number(v);
        (key == "rows"               ? r.rows
         : key == "duration_us"      ? r.duration_us
         : key == "statement_length" ? r.statement_length
                                     : r.head_seq) = v;
      } else if (key == "tables") {
        ok = read_tables(rd, r.tables);
      } else if (std::string* f = string_field(r, key)) {
        ok = rd.string(*f);
      } else {
        error = "unknown key \"" + key + "\"";
        return std::nullopt;
      }
      if (!ok) {
        error = "malformed value of \"" + key + "\"";
        return std::nullopt;
      }
    } while (rd.consume(','));
  }
  if (!rd.consume('}') || !rd.eof()) {
    error = "malformed object";
    return std::nullopt;
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
  // Accepts YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z (UTC only).
  if (s.size() < 20 || s.back() != 'Z') return std::nullopt;
  auto num = [&](std::size_t at, std::size_t n, int& v) {
    v = 0;
    for (std::size_t i = at; i < at + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      v = v * 10 + (s[i] - '0');
    }
    return true;
  };
  int Y, M, D, h, m, sec;
  if (!num(0, 4, Y) || s[4] != '-' || !num(5, 2, M) || s[7] != '-' || !num(8, 2, D) ||
      (s[10] != 'T' && s[10] != 't') || !num(11, 2, h) || s[13] != ':' || !num(14, 2, m) ||
      s[16] != ':' || !num(17, 2, sec))
    return std::nullopt;
  long long frac_us = 0;
  std::size_t i = 19;
  if (s[i] == '.') {
    ++i;
    long long scale = 100000;
    const std::size_t start = i;
    while (i < s.size() - 1 && s[i] >= '0' && s[i] <= '9') {
      frac_us += (s[i] - '0') * scale;
      scale /= 10;
      ++i;
    }
    if (i == start || i - start > 9) return std::nullopt;
  }
  if (i != s.size() - 1) return std::nullopt;
  using namespace std::chrono;
  const year_month_day ymd{year{Y}, month{static_cast<unsigned>(M)}, day{static_cast<unsigned>(D)}};
  if (!ymd.ok() || h > 23 || m > 59 || sec > 60) return std::nullopt;
  return system_clock::time_point{sys_days{ymd}} + hours{h} + minutes{m} + seconds{sec} +
         microseconds{frac_us};
}

}  // namespace segproxy::audit
