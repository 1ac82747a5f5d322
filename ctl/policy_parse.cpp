// segproxyctl policy: the pure helpers of ctl/policy.hpp (identity specs, instants,
// the corpus file's SQL column and expectations), apart from the commands that use them.
#include <algorithm>
#include <cctype>
#include <ctime>
#include <string>

#include "audit/record_codec.hpp"
#include "ctl/policy.hpp"

namespace segproxy::proxy::ctl {
using time_point = std::chrono::system_clock::time_point;

namespace {
std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}
}  // namespace

std::optional<authz::ClientIdentity> parse_identity_spec(std::string_view spec, std::string& why) {
  authz::ClientIdentity id;
  const auto is_spiffe = [](std::string_view s) { return lower(s.substr(0, 9)) == "spiffe://"; };
  const auto key_of = [](std::string_view s) -> std::string {
    const auto eq = s.find('=');
    if (eq == std::string_view::npos) return "";
    const std::string k = lower(s.substr(0, eq));
    for (const char* known : {"cn", "spiffe", "dns", "ou", "sha256", "serial"})
      if (k == known) return k;
    return "";
  };
  if (spec.empty()) {
    why = "empty identity";
    return std::nullopt;
  }
  if (!is_spiffe(spec) && key_of(spec).empty()) {
    id.cn = std::string(spec);  // a bare common name
    return id;
  }
  std::size_t start = 0;
  while (start <= spec.size()) {
    const auto semi = spec.find(';', start);
    const std::string_view piece =
        spec.substr(start, semi == std::string_view::npos ? std::string_view::npos : semi - start);
    start = semi == std::string_view::npos ? spec.size() + 1 : semi + 1;
    const std::string key = is_spiffe(piece) ? "spiffe" : key_of(piece);
    if (key.empty()) {
      why = "\"" + std::string(piece) + "\" is not spiffe://..., cn=, dns=, ou=, sha256=, serial= or spiffe=";
      return std::nullopt;
    }
    const std::string value(is_spiffe(piece) ? piece : piece.substr(piece.find('=') + 1));
    if (value.empty()) {
      why = "empty value for " + key;
      return std::nullopt;
    }
    if (key == "cn") id.cn = value;
    else if (key == "spiffe") id.spiffe_id = value;
    else if (key == "dns") id.dns_sans.push_back(value);
    else if (key == "ou") id.ou.push_back(value);
    else if (key == "sha256") id.sha256_hex = lower(value);
    else id.serial_hex = value;
  }
  return id;
}

std::string format_instant(time_point t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::optional<std::string> unescape_sql_column(std::string_view s, std::string& why) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out += s[i];
      continue;
    }
    if (i + 1 >= s.size()) {
      why = "trailing backslash (write \\\\ for a literal backslash)";
      return std::nullopt;
    }
    switch (s[++i]) {
      case 't': out += '\t'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case '\\': out += '\\'; break;
      case 'x': {  // \xNN: one byte (text in another client encoding)
        const auto hex = [](char c) {
          return std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
                 : (c >= 'a' && c <= 'f')                     ? c - 'a' + 10
                 : (c >= 'A' && c <= 'F')                     ? c - 'A' + 10
                                                              : -1;
        };
        if (i + 2 >= s.size() || hex(s[i + 1]) < 0 || hex(s[i + 2]) < 0) {
          why = "\\x needs two hex digits";
          return std::nullopt;
        }
        out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
        i += 2;
        break;
      }
      default:
        why = std::string("unknown escape \\") + s[i] + " (write \\\\ for a literal backslash)";
        return std::nullopt;
    }
  }
  return out;
}

std::optional<Expectation> parse_expectation(std::string_view s) {
  const std::string e = lower(s);
  if (e == "allow") return Expectation{true, ""};
  if (e == "deny") return Expectation{false, ""};
  if (e.size() == 10 && e.compare(0, 5, "deny:") == 0) {
    std::string state(s.substr(5));
    for (auto& c : state) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (std::all_of(state.begin(), state.end(), [](unsigned char c) { return std::isalnum(c); })) {
      return Expectation{false, state};
    }
  }
  return std::nullopt;
}

std::string json_escape(std::string_view s) {
  std::string quoted;
  audit::append_json_string(quoted, s);  // the project's one JSON string escaper
  return quoted.substr(1, quoted.size() - 2);
}

}  // namespace segproxy::proxy::ctl
