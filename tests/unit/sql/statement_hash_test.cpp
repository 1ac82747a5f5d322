// authz/sql/statement_hash: the one SipHash-2-4 both classifiers' fingerprints use.
#include "authz/sql/statement_hash.hpp"

#include <gtest/gtest.h>

#include <string>

namespace segproxy::authz::sql {
namespace {

// Reference vectors of the SipHash paper (key 00..0f, message 00..len-1).
TEST(StatementHash, SipHash24MatchesTheReferenceVectors) {
  const SipKey key{0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL};
  std::string msg;
  EXPECT_EQ(siphash24(key, msg), 0x726fdb47dd0e0e31ULL);
  for (int i = 0; i < 15; ++i) msg.push_back(static_cast<char>(i));
  EXPECT_EQ(siphash24(key, msg), 0xa129ca6149be45e5ULL);
}

TEST(StatementHash, RandomKeysDifferAndAStatementHashIsStableUnderOneKeyAndNeverZero) {
  const SipKey a = random_sip_key();
  const SipKey b = random_sip_key();
  EXPECT_FALSE(a[0] == 0 && a[1] == 0);
  EXPECT_NE(a, b);  // each call draws: nothing is kept between calls
  EXPECT_EQ(statement_hash(a, "select 1"), statement_hash(a, "select 1"));
  EXPECT_NE(statement_hash(a, "select 1"), statement_hash(b, "select 1"));
  EXPECT_NE(statement_hash(a, "select 1"), 0u);
}

}  // namespace
}  // namespace segproxy::authz::sql
