#pragma once
// The one keyed statement hash: SipHash-2-4 (Aumasson & Bernstein). Both classifiers'
// decision-cache fingerprints (pg_fingerprint.cpp, mysql_classifier.cpp) hash their
// canonical serialisation with it under the key their options carry
// (ClassifierOptions::hash_key, MysqlClassifierOptions::hash_key). The daemon draws one
// random key per process at start (daemon/main.cpp), its Runtime owns it and every later
// Runtime (reload) inherits it; nothing holds it globally. So values are stable within
// one process only and a client cannot search for collisions offline.
#include <array>
#include <cstdint>
#include <string_view>

namespace segproxy::authz::sql {

using SipKey = std::array<std::uint64_t, 2>;

// SipHash-2-4 of `data` under `key` (pure; tests use fixed keys and the reference vectors).
std::uint64_t siphash24(const SipKey& key, std::string_view data);

// A fresh key from std::random_device (each call draws a new one).
SipKey random_sip_key();

// A statement fingerprint: siphash24 under `key`, never 0 (0 means "no fingerprint" to
// the callers).
std::uint64_t statement_hash(const SipKey& key, std::string_view canonical);

}  // namespace segproxy::authz::sql
