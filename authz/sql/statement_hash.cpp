#include "authz/sql/statement_hash.hpp"

#include <random>

namespace segproxy::authz::sql {
namespace {

std::uint64_t rotl(std::uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

}  // namespace

std::uint64_t siphash24(const SipKey& key, std::string_view data) {
  std::uint64_t v0 = 0x736f6d6570736575ULL ^ key[0];
  std::uint64_t v1 = 0x646f72616e646f6dULL ^ key[1];
  std::uint64_t v2 = 0x6c7967656e657261ULL ^ key[0];
  std::uint64_t v3 = 0x7465646279746573ULL ^ key[1];
  const auto round = [&] {
    v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32);
    v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;
    v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;
    v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32);
  };
  const std::size_t len = data.size();
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  std::size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    std::uint64_t m = 0;
    for (int k = 7; k >= 0; --k) m = (m << 8) | p[i + static_cast<std::size_t>(k)];
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
  std::uint64_t b = static_cast<std::uint64_t>(len) << 56;
  for (std::size_t k = 0; i + k < len; ++k) b |= static_cast<std::uint64_t>(p[i + k]) << (8 * k);
  v3 ^= b;
  round();
  round();
  v0 ^= b;
  v2 ^= 0xff;
  for (int r = 0; r < 4; ++r) round();
  return v0 ^ v1 ^ v2 ^ v3;
}

SipKey random_sip_key() {
  std::random_device rd;
  SipKey k{};
  for (auto& w : k) w = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  return k;
}

std::uint64_t statement_hash(const SipKey& key, std::string_view canonical) {
  const std::uint64_t h = siphash24(key, canonical);
  return h == 0 ? 1 : h;
}

}  // namespace segproxy::authz::sql
