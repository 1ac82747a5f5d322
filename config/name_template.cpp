// Minted user names: template syntax, sanitizing and expansion (no I/O).
#include "config/name_template.hpp"

namespace segproxy::config {
namespace {

bool name_char(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; }

bool is_id8(std::string_view s) {
  if (s.size() != 8) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// Walks the template: calls lit(char) for literal characters and ph(name) for
// placeholders. False + why on a syntax error.
template <class Lit, class Ph>
bool walk(std::string_view t, std::string& why, Lit lit, Ph ph) {
  for (std::size_t i = 0; i < t.size(); ++i) {
    const char c = t[i];
    if (c == '{') {
      const auto close = t.find('}', i + 1);
      if (close == std::string_view::npos) {
        why = "unterminated placeholder '{' in name_template";
        return false;
      }
      const std::string_view name = t.substr(i + 1, close - i - 1);
      if (name != "segment" && name != "listener" && name != "id8") {
        why = "unknown placeholder {" + std::string(name) +
              "} in name_template (use {segment}, {listener}, {id8})";
        return false;
      }
      ph(name);
      i = close;
      continue;
    }
    if (!name_char(c)) {
      why = "name_template may contain only a-z, 0-9, '_' and placeholders";
      return false;
    }
    lit(c);
  }
  return true;
}

}  // namespace

std::string sanitize_name_part(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    out.push_back(name_char(c) ? c : '_');
  }
  return out;
}

bool check_name_template(std::string_view tmpl, std::string& why) {
  bool has_id8 = false;
  if (!walk(tmpl, why, [](char) {}, [&](std::string_view n) { has_id8 = has_id8 || n == "id8"; })) {
    return false;
  }
  if (!has_id8) {
    why = "name_template must contain {id8} (one user per identity)";
    return false;
  }
  if (name_template_prefix(tmpl).empty()) {
    why = "name_template must start with a fixed prefix such as \"sp_\" (the janitor finds "
          "leftover users by it)";
    return false;
  }
  if (!(tmpl[0] >= 'a' && tmpl[0] <= 'z') && tmpl[0] != '_') {
    why = "name_template must start with a letter or '_'";
    return false;
  }
  return true;
}

std::string name_template_prefix(std::string_view tmpl) {
  const auto brace = tmpl.find('{');
  return std::string(tmpl.substr(0, brace));
}

std::optional<std::string> expand_name_template(std::string_view tmpl, std::string_view segment,
                                                std::string_view listener, std::string_view id8,
                                                std::string& why) {
  if (!check_name_template(tmpl, why)) return std::nullopt;
  if (!is_id8(id8)) {
    why = "id8 must be 8 lower-case hex characters";
    return std::nullopt;
  }
  std::string out;
  const std::string seg = sanitize_name_part(segment);
  const std::string lis = sanitize_name_part(listener);
  walk(tmpl, why, [&](char c) { out.push_back(c); },
       [&](std::string_view n) {
         if (n == "segment") out += seg;
         else if (n == "listener") out += lis;
         else out += id8;
       });
  if (out.size() > kMaxMintedNameLength) {
    why = "the minted user name \"" + out + "\" is " + std::to_string(out.size()) +
          " bytes; PostgreSQL allows at most " + std::to_string(kMaxMintedNameLength);
    return std::nullopt;
  }
  return out;
}

}  // namespace segproxy::config
