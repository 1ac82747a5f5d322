#pragma once
// The project's JSON: the one string escaper (used by the audit canonical encoding, the
// log lines and the admin protocol), a strict bounded reader and a small writer.
//
// Escaping (canonical, byte-stable: the audit hash chain depends on it): '"' and '\\'
// are escaped, \b \f \n \r \t use their short forms, other bytes < 0x20 are \u00XX
// (lowercase hex); every other character is written as is. Invalid UTF-8 is replaced by
// U+FFFD, one per invalid byte, so encoding is total and deterministic.
//
// Reader (RFC 8259, strict): one value, optional whitespace around it, nothing after.
// Rejected: trailing garbage, leading zeros, '+' signs, NaN/Infinity, numbers that do
// not fit (integers outside int64 that have no fraction or exponent, doubles that
// overflow), raw control characters or invalid UTF-8 inside strings, lone or reversed
// surrogate escapes, duplicate object keys, nesting deeper than Limits::max_depth,
// input longer than max_bytes, a decoded string longer than max_string. Integers above
// int64 are rejected too unless Limits::allow_uint64 (then up to 2^64-1, as Type::Uint).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace segproxy::json {

// Appends `s` as a JSON string literal (with quotes) using the canonical escaping.
void append_string(std::string& out, std::string_view s);

// Length of the valid UTF-8 sequence starting at s[i] (i < s.size()), or 0 when it is
// invalid (overlong forms, surrogates and code points above U+10FFFF are invalid).
std::size_t utf8_sequence_length(std::string_view s, std::size_t i);

struct Member;

class Value {
 public:
  enum class Type { Null, Bool, Int, Uint, Double, String, Array, Object };

  Value() = default;
  static Value make_bool(bool b);
  static Value make_int(std::int64_t i);
  static Value make_uint(std::uint64_t u);  // only for values above INT64_MAX
  static Value make_double(double d);
  static Value make_string(std::string s);
  static Value make_array(std::vector<Value> a);
  static Value make_object(std::vector<Member> o);

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::Null; }
  bool is_bool() const { return type_ == Type::Bool; }
  bool is_int() const { return type_ == Type::Int; }
  bool is_uint() const { return type_ == Type::Uint; }
  bool is_number() const { return type_ == Type::Int || type_ == Type::Uint || type_ == Type::Double; }
  bool is_string() const { return type_ == Type::String; }
  bool is_array() const { return type_ == Type::Array; }
  bool is_object() const { return type_ == Type::Object; }

  // Accessors return the stored value; calling one for another type is a logic error
  // and returns the type's empty value.
  bool as_bool() const { return b_; }
  std::int64_t as_int() const { return i_; }
  std::uint64_t as_uint() const { return u_; }
  double as_double() const {
    return type_ == Type::Int ? static_cast<double>(i_) : type_ == Type::Uint ? static_cast<double>(u_) : d_;
  }
  const std::string& as_string() const { return s_; }
  const std::vector<Value>& as_array() const { return a_; }
  const std::vector<Member>& as_object() const;  // members in document order

  // Object member by key, or nullptr (also when this is not an object).
  const Value* find(std::string_view key) const;

  friend bool operator==(const Value& a, const Value& b);

 private:
  Type type_ = Type::Null;
  bool b_ = false;
  std::int64_t i_ = 0;
  std::uint64_t u_ = 0;
  double d_ = 0;
  std::string s_;
  std::vector<Value> a_;
  std::vector<Member> o_;
};

struct Member {
  std::string key;
  Value value;
  friend bool operator==(const Member&, const Member&) = default;
};

inline const std::vector<Member>& Value::as_object() const { return o_; }

struct Limits {
  std::size_t max_depth = 16;          // arrays/objects nested deeper are rejected
  std::size_t max_bytes = 64 * 1024;   // whole input
  std::size_t max_string = 64 * 1024;  // one decoded string (keys included)
  bool allow_uint64 = false;            // integers in (INT64_MAX, UINT64_MAX] become Uint
};

struct ParseResult {
  std::optional<Value> value;  // set on success
  std::size_t error_offset = 0;
  std::string error;  // empty on success
  explicit operator bool() const { return value.has_value(); }
};

ParseResult parse(std::string_view text, const Limits& limits = {});

// Compact writer: commas and key/value separators are placed automatically.
//   Writer w; w.begin_object().key("ok").value(true).end_object(); w.str() == {"ok":true}
// Misuse (a value without a key inside an object, unbalanced end_*) is a logic error
// the writer does not check; callers are the fixed encoders of this project.
class Writer {
 public:
  Writer& begin_object();
  Writer& end_object();
  Writer& begin_array();
  Writer& end_array();
  Writer& key(std::string_view k);
  Writer& value(std::string_view s);
  Writer& value(const char* s) { return value(std::string_view(s)); }
  Writer& value(const std::string& s) { return value(std::string_view(s)); }
  Writer& value(bool b);
  Writer& value(double d);  // non-finite values are written as null
  template <class T>
    requires(std::is_integral_v<T> && !std::is_same_v<T, bool>)
  Writer& value(T v) {
    if constexpr (std::is_signed_v<T>) return integer(static_cast<std::int64_t>(v));
    else return unsigned_integer(static_cast<std::uint64_t>(v));
  }
  Writer& null();
  // Convenience: key + value.
  template <class T>
  Writer& field(std::string_view k, const T& v) {
    key(k);
    return value(v);
  }

  const std::string& str() const { return out_; }
  std::string take() { return std::move(out_); }

 private:
  Writer& integer(std::int64_t v);
  Writer& unsigned_integer(std::uint64_t v);
  void before_value();

  std::string out_;
  std::vector<bool> first_;  // per open container: nothing written in it yet
  bool after_key_ = false;
};

}  // namespace segproxy::json
