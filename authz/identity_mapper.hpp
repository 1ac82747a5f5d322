#pragma once
// identity -> segment, first matching rule wins; no match = refused.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "authz/identity.hpp"
#include "config/config.hpp"

namespace segproxy::authz {

// '*' matches any run of characters (including none and '/'), '?' exactly one.
bool glob_match(std::string_view pattern, std::string_view text);

struct IdentityMatchResult {
  std::string segment;
  int rule_line = 0;
};

class IdentityMapper {
 public:
  explicit IdentityMapper(std::vector<config::IdentityRule> rules);
  std::optional<IdentityMatchResult> map(const ClientIdentity& id) const;

 private:
  std::vector<config::IdentityRule> rules_;
};

}  // namespace segproxy::authz
