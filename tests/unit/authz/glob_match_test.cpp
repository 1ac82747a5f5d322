// glob_match: '*' any run (including '/' and nothing), '?' one character, all else literal.
#include <gtest/gtest.h>

#include <string>

#include "authz/identity_mapper.hpp"

namespace segproxy::authz {
namespace {

struct GlobCase {
  const char* pattern;
  const char* text;
  bool match;
};

TEST(GlobMatch, TableOfEdgeCases) {
  const GlobCase cases[] = {
      {"*", "", true},
      {"*", "anything/at/all", true},
      {"**", "x", true},
      {"", "", true},
      {"", "a", false},
      {"a", "", false},
      {"?", "a", true},
      {"?", "", false},
      {"?", "ab", false},
      {"??", "ab", true},
      {"a*b*c", "abc", true},
      {"a*b*c", "aXbYc", true},
      {"a*b*c", "a/b/c", true},
      {"a*b*c", "abcabc", true},
      {"a*b*c", "acb", false},
      {"a*b*c", "abcb", false},
      {"a*b*c", "ab", false},
      {"*.example.org", "db.example.org", true},
      {"*.example.org", "example.org", false},
      {"*.example.org", "db.example.org.evil", false},
      {"exact", "exact", true},
      {"exact", "Exact", false},  // case-sensitive
      {"exact", "exactly", false},
      {"a?c", "abc", true},
      {"a?c", "a/c", true},
      {"[ab]", "a", false},  // no character classes: '[' is literal
      {"[ab]", "[ab]", true},
      {"a\\*", "a\\xyz", true},  // no escapes: '\' is literal
      {"spiffe://example.org/ns/billing/*", "spiffe://example.org/ns/billing/svc", true},
      {"spiffe://example.org/ns/billing/*", "spiffe://example.org/ns/billing/a/b", true},
      {"spiffe://example.org/ns/billing/*", "spiffe://example.org/ns/billing/", true},
      {"spiffe://example.org/ns/billing/*", "spiffe://example.org/ns/billing-evil/x", false},
      {"spiffe://example.org/ns/billing/*", "spiffe://example.org/ns/billing", false},
      {"spiffe://example.org/ns/billing/*", "spiffe://example.org/ns/BILLING/x", false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(glob_match(c.pattern, c.text), c.match)
        << "pattern \"" << c.pattern << "\" text \"" << c.text << "\"";
  }
}

TEST(GlobMatch, TextStarIsLiteralOnlyAgainstPatternStar) {
  EXPECT_TRUE(glob_match("a*", "a*"));
  EXPECT_FALSE(glob_match("a?", "a"));
}

TEST(GlobMatch, PathologicalPatternFinishesWithoutRecursion) {
  // Exponential for naive recursive matchers; linear-ish here, constant stack.
  const std::string pattern = std::string(5000, '*').replace(0, 0, "a") + std::string(50, 'a') + "b";
  std::string text(100000, 'a');
  EXPECT_FALSE(glob_match(pattern, text));
  std::string many_stars;
  for (int i = 0; i < 30; ++i) many_stars += "a*";
  EXPECT_FALSE(glob_match(many_stars + "b", std::string(3000, 'a')));
  EXPECT_TRUE(glob_match(many_stars, std::string(3000, 'a')));
}

}  // namespace
}  // namespace segproxy::authz
