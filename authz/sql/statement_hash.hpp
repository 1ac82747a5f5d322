#pragma once
// The one keyed statement hash: SipHash-2-4 (Aumasson & Bernstein) under one
// per-process random key. Both classifiers' decision-cache fingerprints
// (pg_fingerprint.cpp, mysql_classifier.cpp) hash their canonical serialisation with it,
// so values are stable within one process only and a client cannot search for
// collisions offline.
#include <array>
#include <cstdint>
#include <string_view>

namespace segproxy::authz::sql {

using SipKey = std::array<std::uint64_t, 2>;

// SipHash-2-4 of `data` under `key` (pure; tests use fixed keys and the reference vectors).
std::uint64_t siphash24(const SipKey& key, std::string_view data);

// The process's key: drawn from std::random_device once, on first use (thread-safe
// initialisation of a function-local constant), never changed afterwards.
const SipKey& statement_hash_key();

// A statement fingerprint: siphash24 under the process key, never 0 (0 means "no
// fingerprint" to the callers).
std::uint64_t statement_hash(std::string_view canonical);

}  // namespace segproxy::authz::sql
