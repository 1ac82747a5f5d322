// identity -> segment. First rule whose every set field matches wins; fail closed.
#include "authz/identity_mapper.hpp"

#include <algorithm>
#include <cctype>

namespace segproxy::authz {

bool glob_match(std::string_view pattern, std::string_view text) {
  // Iterative matcher with single-star backtracking: O(|pattern| * |text|) worst case,
  // constant stack. On mismatch, resume after the most recent '*' and let it absorb one
  // more character of text.
  constexpr std::size_t npos = std::string_view::npos;
  std::size_t p = 0;
  std::size_t t = 0;
  std::size_t star = npos;   // position of the last '*' seen in pattern
  std::size_t resume = 0;    // text position that star currently extends to
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (star != npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

namespace {

std::string normalize_hex(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == ':') continue;
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

// An empty identity field never matches, whatever the pattern.
bool field_matches(const std::string& pattern, const std::string& value) {
  return !value.empty() && glob_match(pattern, value);
}

bool any_matches(const std::string& pattern, const std::vector<std::string>& values) {
  return std::any_of(values.begin(), values.end(),
                     [&](const std::string& v) { return field_matches(pattern, v); });
}

bool rule_matches(const config::IdentityMatch& m, const ClientIdentity& id) {
  const bool any_set = m.spiffe_id || m.cn || m.ou || m.dns || m.cert_sha256;
  if (!any_set) return false;  // a rule with no conditions must not admit everyone
  if (m.spiffe_id && !field_matches(*m.spiffe_id, id.spiffe_id)) return false;
  if (m.cn && !field_matches(*m.cn, id.cn)) return false;
  if (m.ou && !any_matches(*m.ou, id.ou)) return false;
  if (m.dns && !any_matches(*m.dns, id.dns_sans)) return false;
  if (m.cert_sha256) {
    const std::string want = normalize_hex(*m.cert_sha256);
    const std::string have = normalize_hex(id.sha256_hex);
    if (want.empty() || have.empty() || want != have) return false;
  }
  return true;
}

}  // namespace

IdentityMapper::IdentityMapper(std::vector<config::IdentityRule> rules)
    : rules_(std::move(rules)) {}

std::optional<IdentityMatchResult> IdentityMapper::map(const ClientIdentity& id) const {
  for (const auto& rule : rules_) {
    if (rule_matches(rule.match, id)) return IdentityMatchResult{rule.segment, rule.line};
  }
  return std::nullopt;
}

}  // namespace segproxy::authz
