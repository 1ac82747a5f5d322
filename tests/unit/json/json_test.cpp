// json/ (the one JSON reader/writer): the strict bounded reader, the writer, and the canonical
// escaper the audit chain depends on.
#include "json/json.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <string>

namespace segproxy::json {
namespace {

std::string escaped(std::string_view s) {
  std::string out;
  append_string(out, s);
  return out;
}

std::string error_of(std::string_view text, const Limits& limits = {}) {
  const auto r = parse(text, limits);
  EXPECT_FALSE(r) << "accepted: " << text;
  return r.error;
}

TEST(JsonEscape, CanonicalEscapingIsByteStable) {
  // The exact form the audit hash chain was built with (see record_codec_test).
  EXPECT_EQ(escaped(std::string("a\"b\\c\n\r\t\b\f\x01\x1f\x7f", 13) + "é/"),
            "\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001f\x7f" "é/\"");
  EXPECT_EQ(escaped(""), "\"\"");
}

TEST(JsonEscape, InvalidUtf8BecomesOneReplacementCharacterPerByte) {
  EXPECT_EQ(escaped("\xc0\xaf"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\"");
  EXPECT_EQ(escaped("a\xffz"), "\"a\xEF\xBF\xBDz\"");
}

TEST(JsonParse, ReadsEveryValueTypeAndKeepsObjectKeyOrder) {
  const auto r = parse(R"( {"z":null,"a":[true,false,-0,12,-3.5e2,"x"],"m":{}} )");
  ASSERT_TRUE(r) << r.error;
  const Value& v = *r.value;
  ASSERT_TRUE(v.is_object());
  ASSERT_EQ(v.as_object().size(), 3u);
  EXPECT_EQ(v.as_object()[0].key, "z");
  EXPECT_EQ(v.as_object()[1].key, "a");
  EXPECT_TRUE(v.find("z")->is_null());
  const auto& a = v.find("a")->as_array();
  ASSERT_EQ(a.size(), 6u);
  EXPECT_TRUE(a[0].as_bool());
  EXPECT_FALSE(a[1].as_bool());
  EXPECT_TRUE(a[2].is_int());
  EXPECT_EQ(a[3].as_int(), 12);
  EXPECT_EQ(a[4].type(), Value::Type::Double);
  EXPECT_DOUBLE_EQ(a[4].as_double(), -350.0);
  EXPECT_EQ(a[5].as_string(), "x");
  EXPECT_TRUE(v.find("m")->is_object());
  EXPECT_EQ(v.find("missing"), nullptr);
}

TEST(JsonParse, Int64LimitsAreIntegersAndBeyondIsAnError) {
  EXPECT_EQ(parse("9223372036854775807").value->as_int(), INT64_MAX);
  EXPECT_EQ(parse("-9223372036854775808").value->as_int(), INT64_MIN);
  EXPECT_EQ(error_of("9223372036854775808"), "integer out of range");
  EXPECT_EQ(error_of("1e999"), "number out of range");
}

// The audit codec's counters are 64-bit unsigned: it opts in; every other reader keeps
// rejecting integers above int64.
TEST(JsonParse, IntegersAboveInt64NeedAllowUint64AndStayExact) {
  Limits l;
  l.allow_uint64 = true;
  const auto max = parse("18446744073709551615", l);
  ASSERT_TRUE(max) << max.error;
  EXPECT_TRUE(max.value->is_uint());
  EXPECT_EQ(max.value->as_uint(), UINT64_MAX);
  const auto small = parse("9223372036854775807", l);
  ASSERT_TRUE(small);
  EXPECT_TRUE(small.value->is_int());
  EXPECT_FALSE(parse("18446744073709551616", l));
  EXPECT_FALSE(parse("-9223372036854775809", l));
  EXPECT_FALSE(parse("18446744073709551615"));
}

TEST(JsonParse, EscapesDecodeIncludingSurrogatePairs) {
  const auto r = parse(R"("\"\\\/\b\f\n\r\t\u0041\u00e9\u20ac\ud83d\ude00")");
  ASSERT_TRUE(r) << r.error;
  EXPECT_EQ(r.value->as_string(), "\"\\/\b\f\n\r\tAé€😀");
}

TEST(JsonParse, LoneOrMisorderedSurrogatesAreRejected) {
  EXPECT_EQ(error_of(R"("\ud83d")"), "high surrogate without a low surrogate");
  EXPECT_EQ(error_of(R"("\ud83dx")"), "high surrogate without a low surrogate");
  EXPECT_EQ(error_of(R"("\ud83d\u0041")"), "high surrogate without a low surrogate");
  EXPECT_EQ(error_of(R"("\ude00\ud83d")"), "lone low surrogate");
  EXPECT_EQ(error_of(R"("\u12")"), "truncated \\u escape");
  EXPECT_EQ(error_of(R"("\u12g4")"), "invalid hex digit in \\u escape");
  EXPECT_EQ(error_of(R"("\x")"), "invalid escape");
}

TEST(JsonParse, InvalidUtf8AndRawControlCharactersInStringsAreRejected) {
  EXPECT_EQ(error_of("\"\xc0\xaf\""), "invalid UTF-8 in string");
  EXPECT_EQ(error_of("\"\xed\xa0\x80\""), "invalid UTF-8 in string");  // encoded surrogate
  EXPECT_EQ(error_of("\"\xf4\x90\x80\x80\""), "invalid UTF-8 in string");  // > U+10FFFF
  EXPECT_EQ(error_of("\"a\nb\""), "control character in string");
  EXPECT_EQ(error_of(std::string("\"a\0b\"", 5)), "control character in string");
  EXPECT_TRUE(parse("\"\xf0\x9f\x98\x80\""));  // valid 4-byte sequence
}

TEST(JsonParse, NumberGrammarIsStrict) {
  EXPECT_EQ(error_of("01"), "leading zero in number");
  EXPECT_EQ(error_of("-01"), "leading zero in number");
  EXPECT_EQ(error_of("+1"), "unexpected character");
  EXPECT_EQ(error_of("1."), "expected a digit after '.'");
  EXPECT_EQ(error_of(".5"), "unexpected character");
  EXPECT_EQ(error_of("1e"), "expected a digit in the exponent");
  EXPECT_EQ(error_of("-"), "truncated number");
  EXPECT_EQ(error_of("NaN"), "unexpected character");
  EXPECT_EQ(error_of("Infinity"), "unexpected character");
  EXPECT_EQ(error_of("-Infinity"), "expected a digit");
  EXPECT_TRUE(parse("0"));
  EXPECT_TRUE(parse("-0.0e+1"));
}

TEST(JsonParse, TrailingGarbageAndStructuralErrorsAreRejectedWithPosition) {
  const auto r = parse("{\"a\":1} x");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error, "unexpected data after the JSON value");
  EXPECT_EQ(r.error_offset, 8u);
  EXPECT_EQ(error_of("{\"a\":1,}"), "expected a string key");
  EXPECT_EQ(error_of("[1,]"), "unexpected character");
  EXPECT_EQ(error_of("[1 2]"), "expected ',' or ']'");
  EXPECT_EQ(error_of("{\"a\" 1}"), "expected ':'");
  EXPECT_EQ(error_of("{\"a\":1"), "unterminated object");
  EXPECT_EQ(error_of("\"abc"), "unterminated string");
  EXPECT_EQ(error_of(""), "unexpected end of input");
  EXPECT_EQ(error_of("tru"), "invalid literal");
  EXPECT_EQ(error_of("{'a':1}"), "expected a string key");
}

TEST(JsonParse, DuplicateKeysAreRejectedEvenWhenFarApart) {
  EXPECT_EQ(error_of(R"({"a":1,"b":2,"c":3,"a":4})"), "duplicate key \"a\"");
  EXPECT_EQ(error_of(R"({"x":{"k":1,"k":1}})"), "duplicate key \"k\"");
  EXPECT_TRUE(parse(R"({"a":{"a":1}})"));  // same key at different levels is fine
}

TEST(JsonParse, LimitsOnDepthBytesAndStringLengthHold) {
  Limits l;
  l.max_depth = 3;
  EXPECT_TRUE(parse("[[[1]]]", l));
  EXPECT_EQ(error_of("[[[[1]]]]", l), "nesting deeper than 3");
  EXPECT_EQ(error_of(R"({"a":{"b":{"c":{}}}})", l), "nesting deeper than 3");
  // The default depth (16) stops deep nesting long before the stack would suffer.
  EXPECT_EQ(error_of(std::string(100000, '[')), "input longer than 65536 bytes");
  EXPECT_EQ(error_of(std::string(17, '[') + std::string(17, ']')), "nesting deeper than 16");
  l = Limits{};
  l.max_bytes = 10;
  EXPECT_EQ(error_of("\"0123456789\"", l), "input longer than 10 bytes");
  l = Limits{};
  l.max_string = 4;
  EXPECT_TRUE(parse("\"abcd\"", l));
  EXPECT_EQ(error_of("\"abcde\"", l), "string longer than 4 bytes");
  EXPECT_EQ(error_of("{\"abcde\":1}", l), "string longer than 4 bytes");
}

TEST(JsonWriter, PlacesCommasAndRoundTripsThroughTheReader) {
  Writer w;
  w.begin_object()
      .field("s", "a\"b")
      .field("i", -5)
      .field("u", std::uint64_t{18})
      .field("b", false)
      .field("d", 2.0)
      .key("n")
      .null()
      .key("arr")
      .begin_array()
      .value(1)
      .begin_object()
      .end_object()
      .begin_array()
      .end_array()
      .value("x")
      .end_array()
      .end_object();
  EXPECT_EQ(w.str(), R"({"s":"a\"b","i":-5,"u":18,"b":false,"d":2.0,"n":null,"arr":[1,{},[],"x"]})");
  const auto r = parse(w.str());
  ASSERT_TRUE(r) << r.error;
  EXPECT_EQ(r.value->find("d")->type(), Value::Type::Double);
  EXPECT_EQ(r.value->find("s")->as_string(), "a\"b");
}

TEST(JsonWriter, NonFiniteDoublesAreWrittenAsNull) {
  Writer w;
  w.begin_array().value(std::numeric_limits<double>::infinity()).end_array();
  EXPECT_EQ(w.str(), "[null]");
}

TEST(JsonWriter, ConstCharStringsAreStringsNotBooleans) {
  Writer w;
  const char* p = "text";
  w.begin_array().value(p).end_array();
  EXPECT_EQ(w.str(), "[\"text\"]");
}

}  // namespace
}  // namespace segproxy::json
