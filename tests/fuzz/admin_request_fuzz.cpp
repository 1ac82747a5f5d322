// Fuzz target: the admin socket's request parser and the JSON reader under it. The
// whole input is one request line (no header: lines are parsed whole, never in chunks).
// Checked:
//   parse_request: error text set exactly when it fails; a parsed request re-encodes to
//   a line that parses to the same request, and that encoding is a fixed point.
//   json::parse: a parsed value written back with json::Writer parses to the same value.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "protocols/admin/admin_protocol.hpp"
#include "json/json.hpp"

namespace {

using namespace segproxy::protocols;
namespace json = segproxy::json;

void write_value(json::Writer& w, const json::Value& v) {
  switch (v.type()) {
    case json::Value::Type::Null: w.null(); break;
    case json::Value::Type::Bool: w.value(v.as_bool()); break;
    case json::Value::Type::Int: w.value(v.as_int()); break;
    case json::Value::Type::Uint: w.value(v.as_uint()); break;
    case json::Value::Type::Double: w.value(v.as_double()); break;
    case json::Value::Type::String: w.value(v.as_string()); break;
    case json::Value::Type::Array:
      w.begin_array();
      for (const auto& item : v.as_array()) write_value(w, item);
      w.end_array();
      break;
    case json::Value::Type::Object:
      w.begin_object();
      for (const auto& m : v.as_object()) {
        w.key(m.key);
        write_value(w, m.value);
      }
      w.end_object();
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);

  const auto parsed = json::parse(line);
  FUZZ_CHECK(parsed.value.has_value() == parsed.error.empty());
  if (parsed) {
    FUZZ_CHECK(parsed.error_offset == 0);
    json::Writer w;
    write_value(w, *parsed.value);
    const auto again = json::parse(w.str());
    FUZZ_CHECK(again.value.has_value());
    FUZZ_CHECK(*again.value == *parsed.value);
  } else {
    FUZZ_CHECK(parsed.error_offset <= size);
  }

  const auto req = admin::parse_request(line);
  FUZZ_CHECK(req.request.has_value() == req.error.empty());
  if (req) {
    FUZZ_CHECK(parsed.value.has_value());  // a valid request is valid JSON
    const std::string encoded = admin::encode_request(*req.request);
    FUZZ_CHECK(encoded.find('\n') == std::string::npos);
    const auto back = admin::parse_request(encoded);
    FUZZ_CHECK(back.request.has_value());
    FUZZ_CHECK(*back.request == *req.request);
    FUZZ_CHECK(admin::encode_request(*back.request) == encoded);
  }
  return 0;
}
