#pragma once
// A GateVerdict as PgGate's decision cache keeps it (issue 15: memory per idle session).
// A GateVerdict is 448 bytes, most of them empty std::strings and vectors; a cached one
// is the flags and the fingerprint inline and every string and the table list in ONE
// heap block (an empty string costs its 4-byte length there). unpack() gives back a
// GateVerdict equal to the one packed, field by field.
//
// Only what PgGate caches can be packed (packable()): no SQL-level PREPARE / DECLARE /
// DEALLOCATE bookkeeping (wal_prepares, wal_cursors, wal_deallocates[_all]); those
// verdicts depend on session state and are never cached.
#include <cstdint>
#include <memory>

#include "authz/gate/pg_verdict.hpp"

namespace segproxy::proxy {

class CachedPgVerdict {
 public:
  static bool packable(const GateVerdict& v) {
    return v.wal_prepares.empty() && v.wal_cursors.empty() && v.wal_deallocates.empty() && !v.wal_deallocates_all;
  }
  // Precondition: packable(v) (checked: throws std::logic_error otherwise).
  explicit CachedPgVerdict(const GateVerdict& v);
  GateVerdict unpack() const;
  // The same into `v`, whatever it held before (every field is set): a verdict reused
  // for each statement keeps its strings' and table list's capacity, so a hit allocates
  // nothing once they have grown (issue 15).
  void unpack_into(GateVerdict& v) const;

 private:
  std::unique_ptr<char[]> strings_;  // [u32 length][bytes] per string, in a fixed order
  std::uint64_t fingerprint_ = 0;
  std::uint32_t tables_ = 0;
  std::uint16_t flags_ = 0;
  authz::wal::WriteClass klass_ = authz::wal::WriteClass::Escaping;
};

}  // namespace segproxy::proxy
