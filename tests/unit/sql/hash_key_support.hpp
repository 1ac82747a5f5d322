#pragma once
// A fixed statement-fingerprint key for classifier tests: the daemon draws a random one
// per process (Runtime::statement_hash_key); options without a key yield no fingerprint.
#include "authz/sql/statement_hash.hpp"

namespace segproxy::authz::sql::test {

inline constexpr SipKey kTestHashKey{0x0123456789abcdefULL, 0xfedcba9876543210ULL};

}  // namespace segproxy::authz::sql::test
