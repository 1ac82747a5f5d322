#pragma once
// Write-ahead audit (issue 14, docs/audit.md "Write-ahead forwarding"): the class of a
// client message, which decides how long its forwarding waits for the audit log.
// Pure data; produced by pg_write_class / mysql_write_class, consumed by Forwarding.
#include <algorithm>
#include <cstdint>
#include <string>

namespace segproxy::authz::wal {

// Ordered from the most to the least permissive: a message takes the strictest
// (largest) class of its parts.
enum class WriteClass : std::uint8_t {
  // Proven free of effects: SELECT/TABLE/VALUES/SHOW, EXPLAIN without ANALYZE, FETCH of
  // a read-only cursor, transaction control that ends nothing (BEGIN in PostgreSQL,
  // ROLLBACK, SAVEPOINT, RELEASE, ROLLBACK TO). Goes at once.
  ReadOnly = 0,
  // Writes the backend holds until commit on relations the loaded catalog shows as
  // transactional with no hook calling an unlisted function. Goes at once inside a
  // confirmed transaction.
  Contained = 1,
  // Every other effect, and anything not understood. Waits for its own record.
  Escaping = 2,
  // Ends (or may end) a transaction or commits by itself. Waits for every record of the
  // session so far.
  CommitPoint = 3,
};

constexpr const char* write_class_name(WriteClass c) {
  switch (c) {
    case WriteClass::ReadOnly: return "read_only";
    case WriteClass::Contained: return "contained";
    case WriteClass::Escaping: return "escaping";
    case WriteClass::CommitPoint: return "commit_point";
  }
  return "escaping";
}

constexpr WriteClass strictest(WriteClass a, WriteClass b) { return std::max(a, b); }

// The class of one statement or of a whole message (the strictest of its parts).
struct MessageClass {
  WriteClass klass = WriteClass::Escaping;
  // Its only effect is to end the current transaction (COMMIT, END, PostgreSQL Sync,
  // MySQL COMMIT / BEGIN / START TRANSACTION / SET autocommit): a transaction holding
  // only read-only records may end at once. False as soon as any part does more.
  bool ends_transaction_only = false;
  // Forwarding it voids the confirmed transaction state until the backend's next status
  // (transaction-control statements and every commit point).
  bool transaction_control = false;
  // Why the class is what it is (the first part that made it so), for audit and tests.
  std::string reason;

  // Folds another part in: the strictest class wins; the first reason for it is kept.
  void add(const MessageClass& part) {
    const bool first = reason.empty() && !part.reason.empty();
    if (part.klass > klass || first) reason = part.reason;
    if (part.klass != WriteClass::ReadOnly && !part.ends_transaction_only) ends_transaction_only = false;
    if (part.ends_transaction_only && (klass == WriteClass::ReadOnly || ends_transaction_only))
      ends_transaction_only = true;
    klass = strictest(klass, part.klass);
    transaction_control = transaction_control || part.transaction_control;
  }
  // The class of an empty message (no statement): read-only.
  static MessageClass empty() { return MessageClass{WriteClass::ReadOnly, false, false, {}}; }
};

inline MessageClass read_only(std::string reason = {}) {
  return MessageClass{WriteClass::ReadOnly, false, false, std::move(reason)};
}
inline MessageClass contained(std::string reason) {
  return MessageClass{WriteClass::Contained, false, false, std::move(reason)};
}
inline MessageClass escaping(std::string reason) {
  return MessageClass{WriteClass::Escaping, false, false, std::move(reason)};
}
inline MessageClass commit_point(std::string reason, bool ends_transaction_only = false) {
  return MessageClass{WriteClass::CommitPoint, ends_transaction_only, true, std::move(reason)};
}
inline MessageClass transaction_control(std::string reason) {
  return MessageClass{WriteClass::ReadOnly, false, true, std::move(reason)};
}

}  // namespace segproxy::authz::wal
