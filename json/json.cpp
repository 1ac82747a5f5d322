#include "json/json.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace segproxy::json {

std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  if (c < 0x80) return 1;
  std::size_t n = 0;
  unsigned lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  if (b(1) < lo || b(1) > hi) return 0;
  for (std::size_t k = 2; k < n; ++k) {
    if (b(k) < 0x80 || b(k) > 0xBF) return 0;
  }
  return n;
}

void append_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  out.reserve(out.size() + s.size() + 1);
  std::size_t i = 0;
  while (i < s.size()) {
    // Runs of printable ASCII that need no escaping are copied in one append (the
    // common case: names, hashes, normalised SQL), instead of byte by byte.
    std::size_t run = i;
    while (run < s.size()) {
      const unsigned char r = static_cast<unsigned char>(s[run]);
      if (r < 0x20 || r >= 0x80 || r == '"' || r == '\\') break;
      ++run;
    }
    if (run > i) {
      out.append(s.data() + i, run - i);
      i = run;
      continue;
    }
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const std::size_t n = utf8_sequence_length(s, i);
      if (n == 0) {
        out.append("\xEF\xBF\xBD");  // U+FFFD for each invalid byte
        ++i;
      } else {
        out.append(s.substr(i, n));
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\b': out.append("\\b"); break;
      case '\f': out.append("\\f"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      default:
        if (c < 0x20) {
          out.append("\\u00");
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 0xF]);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
  out.push_back('"');
}

// ---- Value ---------------------------------------------------------------------------

Value Value::make_bool(bool b) {
  Value v;
  v.type_ = Type::Bool;
  v.b_ = b;
  return v;
}
Value Value::make_int(std::int64_t i) {
  Value v;
  v.type_ = Type::Int;
  v.i_ = i;
  return v;
}
Value Value::make_uint(std::uint64_t u) {
  Value v;
  v.type_ = Type::Uint;
  v.u_ = u;
  return v;
}
Value Value::make_double(double d) {
  Value v;
  v.type_ = Type::Double;
  v.d_ = d;
  return v;
}
Value Value::make_string(std::string s) {
  Value v;
  v.type_ = Type::String;
  v.s_ = std::move(s);
  return v;
}
Value Value::make_array(std::vector<Value> a) {
  Value v;
  v.type_ = Type::Array;
  v.a_ = std::move(a);
  return v;
}
Value Value::make_object(std::vector<Member> o) {
  Value v;
  v.type_ = Type::Object;
  v.o_ = std::move(o);
  return v;
}

const Value* Value::find(std::string_view key) const {
  for (const auto& m : o_) {
    if (m.key == key) return &m.value;
  }
  return nullptr;
}

bool operator==(const Value& a, const Value& b) {
  if (a.type_ != b.type_) return false;
  switch (a.type_) {
    case Value::Type::Null: return true;
    case Value::Type::Bool: return a.b_ == b.b_;
    case Value::Type::Int: return a.i_ == b.i_;
    case Value::Type::Uint: return a.u_ == b.u_;
    case Value::Type::Double: return a.d_ == b.d_;
    case Value::Type::String: return a.s_ == b.s_;
    case Value::Type::Array: return a.a_ == b.a_;
    case Value::Type::Object: return a.o_ == b.o_;
  }
  return false;
}

// ---- reader --------------------------------------------------------------------------

namespace {

struct Failure {
  std::size_t offset;
  std::string message;
};

class Parser {
 public:
  Parser(std::string_view s, const Limits& limits) : s_(s), limits_(limits) {}

  ParseResult run() {
    ParseResult r;
    if (s_.size() > limits_.max_bytes) {
      r.error_offset = limits_.max_bytes;
      r.error = "input longer than " + std::to_string(limits_.max_bytes) + " bytes";
      return r;
    }
    Value v;
    skip_ws();
    if (parse_value(v, 0)) {
      skip_ws();
      if (pos_ == s_.size()) {
        r.value = std::move(v);
        return r;
      }
      fail("unexpected data after the JSON value");
    }
    r.error_offset = failure_.offset;
    r.error = failure_.message;
    return r;
  }

 private:
  bool fail(std::string message) { return fail_at(pos_, std::move(message)); }
  bool fail_at(std::size_t at, std::string message) {
    failure_ = {at, std::move(message)};
    return false;
  }
  bool at_end() const { return pos_ >= s_.size(); }
  char peek() const { return s_[pos_]; }
  void skip_ws() {
    while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r')) ++pos_;
  }
  bool literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return fail("invalid literal");
    pos_ += word.size();
    return true;
  }

  bool parse_value(Value& out, std::size_t depth) {
    if (at_end()) return fail("unexpected end of input");
    switch (peek()) {
      case '{': return parse_object(out, depth + 1);
      case '[': return parse_array(out, depth + 1);
      case '"': {
        std::string s;
        if (!parse_string(s)) return false;
        out = Value::make_string(std::move(s));
        return true;
      }
      case 't':
        if (!literal("true")) return false;
        out = Value::make_bool(true);
        return true;
      case 'f':
        if (!literal("false")) return false;
        out = Value::make_bool(false);
        return true;
      case 'n':
        if (!literal("null")) return false;
        out = Value();
        return true;
      default:
        if (peek() == '-' || (peek() >= '0' && peek() <= '9')) return parse_number(out);
        return fail("unexpected character");
    }
  }

  bool parse_object(Value& out, std::size_t depth) {
    if (depth > limits_.max_depth) return fail("nesting deeper than " + std::to_string(limits_.max_depth));
    const std::size_t open = pos_++;
    std::vector<Member> members;
    skip_ws();
    if (!at_end() && peek() == '}') {
      ++pos_;
      out = Value::make_object(std::move(members));
      return true;
    }
    for (;;) {
      skip_ws();
      if (at_end() || peek() != '"') return fail("expected a string key");
      Member m;
      if (!parse_string(m.key)) return false;
      skip_ws();
      if (at_end() || peek() != ':') return fail("expected ':'");
      ++pos_;
      skip_ws();
      if (!parse_value(m.value, depth)) return false;
      members.push_back(std::move(m));
      skip_ws();
      if (at_end()) return fail("unterminated object");
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == '}') {
        ++pos_;
        break;
      }
      return fail("expected ',' or '}'");
    }
    // Duplicate keys: sort a list of indices by key and compare neighbours.
    std::vector<std::size_t> idx(members.size());
    for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = i;
    std::sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) { return members[a].key < members[b].key; });
    for (std::size_t i = 1; i < idx.size(); ++i) {
      if (members[idx[i]].key == members[idx[i - 1]].key) {
        return fail_at(open, "duplicate key \"" + members[idx[i]].key.substr(0, 64) + "\"");
      }
    }
    out = Value::make_object(std::move(members));
    return true;
  }

  bool parse_array(Value& out, std::size_t depth) {
    if (depth > limits_.max_depth) return fail("nesting deeper than " + std::to_string(limits_.max_depth));
    ++pos_;
    std::vector<Value> items;
    skip_ws();
    if (!at_end() && peek() == ']') {
      ++pos_;
      out = Value::make_array(std::move(items));
      return true;
    }
    for (;;) {
      skip_ws();
      Value v;
      if (!parse_value(v, depth)) return false;
      items.push_back(std::move(v));
      skip_ws();
      if (at_end()) return fail("unterminated array");
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == ']') {
        ++pos_;
        break;
      }
      return fail("expected ',' or ']'");
    }
    out = Value::make_array(std::move(items));
    return true;
  }

  bool hex4(unsigned& v) {
    if (pos_ + 4 > s_.size()) return fail("truncated \\u escape");
    v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = s_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f') v |= static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= static_cast<unsigned>(c - 'A' + 10);
      else return fail_at(pos_ - 1, "invalid hex digit in \\u escape");
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

  bool parse_escape(std::string& out) {
    if (at_end()) return fail("unterminated string");
    const char e = s_[pos_++];
    switch (e) {
      case '"': out.push_back('"'); return true;
      case '\\': out.push_back('\\'); return true;
      case '/': out.push_back('/'); return true;
      case 'b': out.push_back('\b'); return true;
      case 'f': out.push_back('\f'); return true;
      case 'n': out.push_back('\n'); return true;
      case 'r': out.push_back('\r'); return true;
      case 't': out.push_back('\t'); return true;
      case 'u': break;
      default: return fail_at(pos_ - 1, "invalid escape");
    }
    const std::size_t at = pos_ - 2;
    unsigned cp = 0;
    if (!hex4(cp)) return false;
    if (cp >= 0xDC00 && cp <= 0xDFFF) return fail_at(at, "lone low surrogate");
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      if (s_.substr(pos_, 2) != "\\u") return fail_at(at, "high surrogate without a low surrogate");
      pos_ += 2;
      unsigned lo = 0;
      if (!hex4(lo)) return false;
      if (lo < 0xDC00 || lo > 0xDFFF) return fail_at(at, "high surrogate without a low surrogate");
      cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    }
    append_utf8(out, cp);
    return true;
  }

  bool parse_string(std::string& out) {
    ++pos_;  // opening quote
    out.clear();
    for (;;) {
      if (at_end()) return fail("unterminated string");
      // Copy the run of plain bytes at once.
      std::size_t run = pos_;
      while (run < s_.size()) {
        const unsigned char r = static_cast<unsigned char>(s_[run]);
        if (r < 0x20 || r >= 0x80 || r == '"' || r == '\\') break;
        ++run;
      }
      out.append(s_.data() + pos_, run - pos_);
      pos_ = run;
      if (at_end()) return fail("unterminated string");
      const unsigned char c = static_cast<unsigned char>(peek());
      if (c == '"') {
        ++pos_;
      } else if (c == '\\') {
        ++pos_;
        if (!parse_escape(out)) return false;
      } else if (c < 0x20) {
        return fail("control character in string");
      } else {
        const std::size_t n = utf8_sequence_length(s_, pos_);
        if (n == 0) return fail("invalid UTF-8 in string");
        out.append(s_.substr(pos_, n));
        pos_ += n;
      }
      if (out.size() > limits_.max_string) {
        return fail("string longer than " + std::to_string(limits_.max_string) + " bytes");
      }
      if (c == '"') return true;
    }
  }

  bool digits() {
    const std::size_t start = pos_;
    while (!at_end() && peek() >= '0' && peek() <= '9') ++pos_;
    return pos_ > start;
  }

  bool parse_number(Value& out) {
    const std::size_t start = pos_;
    if (peek() == '-') ++pos_;
    if (at_end()) return fail("truncated number");
    if (peek() == '0') {
      ++pos_;
      if (!at_end() && peek() >= '0' && peek() <= '9') return fail_at(start, "leading zero in number");
    } else if (!digits()) {
      return fail("expected a digit");
    }
    bool integral = true;
    if (!at_end() && peek() == '.') {
      ++pos_;
      integral = false;
      if (!digits()) return fail("expected a digit after '.'");
    }
    if (!at_end() && (peek() == 'e' || peek() == 'E')) {
      ++pos_;
      integral = false;
      if (!at_end() && (peek() == '+' || peek() == '-')) ++pos_;
      if (!digits()) return fail("expected a digit in the exponent");
    }
    const char* first = s_.data() + start;
    const char* last = s_.data() + pos_;
    if (integral) {
      std::int64_t v = 0;
      const auto [ptr, ec] = std::from_chars(first, last, v);
      if (ec == std::errc() && ptr == last) {
        out = Value::make_int(v);
        return true;
      }
      std::uint64_t u = 0;
      if (limits_.allow_uint64 && *first != '-' && ec == std::errc::result_out_of_range) {
        const auto [uptr, uec] = std::from_chars(first, last, u);
        if (uec == std::errc() && uptr == last) {
          out = Value::make_uint(u);
          return true;
        }
      }
      return fail_at(start, "integer out of range");
    }
    double d = 0;
    const auto [ptr, ec] = std::from_chars(first, last, d);
    if (ec != std::errc() || ptr != last || !std::isfinite(d)) return fail_at(start, "number out of range");
    out = Value::make_double(d);
    return true;
  }

  std::string_view s_;
  const Limits& limits_;
  std::size_t pos_ = 0;
  Failure failure_{0, {}};
};

}  // namespace

ParseResult parse(std::string_view text, const Limits& limits) { return Parser(text, limits).run(); }

// ---- writer --------------------------------------------------------------------------

void Writer::before_value() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!first_.empty()) {
    if (!first_.back()) out_.push_back(',');
    first_.back() = false;
  }
}

Writer& Writer::begin_object() {
  before_value();
  out_.push_back('{');
  first_.push_back(true);
  return *this;
}
Writer& Writer::end_object() {
  out_.push_back('}');
  first_.pop_back();
  return *this;
}
Writer& Writer::begin_array() {
  before_value();
  out_.push_back('[');
  first_.push_back(true);
  return *this;
}
Writer& Writer::end_array() {
  out_.push_back(']');
  first_.pop_back();
  return *this;
}
Writer& Writer::key(std::string_view k) {
  before_value();
  append_string(out_, k);
  out_.push_back(':');
  after_key_ = true;
  return *this;
}
Writer& Writer::value(std::string_view s) {
  before_value();
  append_string(out_, s);
  return *this;
}
Writer& Writer::value(bool b) {
  before_value();
  out_.append(b ? "true" : "false");
  return *this;
}
Writer& Writer::value(double d) {
  before_value();
  if (!std::isfinite(d)) {
    out_.append("null");
    return *this;
  }
  char buf[32];
  const auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, d);
  std::string_view text(buf, ec == std::errc() ? static_cast<std::size_t>(ptr - buf) : 0);
  out_.append(text);
  // Keep it a JSON double on the way back ("2" would read as an integer).
  if (text.find_first_of(".eE") == std::string_view::npos) out_.append(".0");
  return *this;
}
Writer& Writer::integer(std::int64_t v) {
  before_value();
  out_.append(std::to_string(v));
  return *this;
}
Writer& Writer::unsigned_integer(std::uint64_t v) {
  before_value();
  out_.append(std::to_string(v));
  return *this;
}
Writer& Writer::null() {
  before_value();
  out_.append("null");
  return *this;
}

}  // namespace segproxy::json
