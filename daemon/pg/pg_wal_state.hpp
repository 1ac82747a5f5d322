#pragma once
// The write-ahead state of an audited PostgreSQL session (issue 14; pg_wal.cpp,
// pg_wal_replace.cpp): the forwarding rule, the ledger of decision records, the class
// context with its catalog, and the statement / portal / PREPARE / cursor names the rule
// follows. Only a session with an audit sink has one (PgSession::wal_state_, made by
// wal_start): without the audit nothing is recorded, so nothing of it is used, and an
// idle session does not carry its ~1 KB (issue 15: memory per idle session).
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "authz/wal/forwarding.hpp"
#include "authz/wal/wal_catalog.hpp"
#include "daemon/catalog/wal_catalogs.hpp"
#include "daemon/net/asio.hpp"
#include "daemon/pg/pg_session.hpp"
#include "daemon/pg/pg_wal_ledger.hpp"
#include "daemon/session/audit_waiter.hpp"
#include "protocols/pg/reply_scan.hpp"

namespace segproxy::proxy {

// Extended protocol: prepared statement / portal name -> the class of what it runs and
// its decision record. One record per execution (issue 14): an allowed Parse appends
// none (it runs nothing); each Bind appends the statement's record before it goes out
// (Bind plans, and may fold functions), and the portal's first Execute in that batch
// is submitted under it; every further Execute appends the record again.
struct PgSession::WalStatement {
  authz::wal::MessageClass klass;
  std::shared_ptr<const audit::AuditRecord> record;
};
struct PgSession::WalPortal {
  authz::wal::MessageClass klass;
  std::shared_ptr<const audit::AuditRecord> record;  // null: of an unknown statement
  std::uint64_t local = 0;   // the ledger's number of the record its Bind appended
  std::uint64_t batch = 0;   // wal_batch_ at that Bind
  bool unclaimed = false;    // no Execute has taken the Bind's record yet
};

struct PgSession::WalState {
  WalState(const asio::any_io_executor& ex, std::uint64_t max_wait_ms)
      : rule(authz::wal::Protocol::Postgres, max_wait_ms), gate(ex), answer_wait(ex) {
    gate.expires_at(asio::steady_timer::time_point::max());  // waits end by cancel() only
  }

  authz::wal::Forwarding rule;
  PgWalLedger ledger;
  // Replacing answers whose record failed after forwarding (pg_wal_replace.cpp): requests
  // [from, to) get ErrorResponse 58030 + ReadyForQuery 'I' instead of their answers.
  struct Replace {
    bool active = false;
    bool entered = false;    // the relay has positioned `scan` at the unrelayed bytes
    std::uint64_t from = 0;  // the first request whose answer is replaced
    std::uint64_t to = 0;    // one past the last
    std::uint64_t at = 0;    // the request whose answer the relay is in
  } replace;
  protocols::pg::ReplyScan reply_scan;
  std::uint64_t flush = 0;  // the highest record a Flush action asked for
  bool waiting = false;     // a flush wait (wal_flush_wait) is running
  bool wake = false;        // something for wait_wal_held to look at
  asio::steady_timer gate;  // wakes wait_wal_held
  AuditWaiter::Slot answer_wait;  // the relay's held answer (wal_settle_now)

  authz::wal::ClassContext ctx;
  WalCatalogs::Reader catalog;                        // the catalog ctx points into (pg_wal.cpp: wal_context)
  std::chrono::steady_clock::time_point last_ddl{};  // when this session's last DDL ended

  using Classes = std::map<std::string, authz::wal::MessageClass, std::less<>>;
  Classes sql_prepared;  // SQL-level PREPARE name -> class (ClassContext::prepared)
  Classes cursors;       // DECLARE name -> class (ClassContext::cursors)
  std::map<std::string, WalStatement, std::less<>> statements;
  std::map<std::string, WalPortal, std::less<>> portals;

  struct Forget {
    enum class Kind : std::uint8_t { Statement, Portal, Prepared, AllPrepared };
    Kind kind = Kind::Statement;
    std::string name;               // Statement / Portal / Prepared
    std::uint64_t request = 0;      // the ReadyForQuery (answered) that ends its request
    std::vector<std::string> keep;  // AllPrepared: names defined again after it
  };
  std::vector<Forget> forgets;  // in forwarding order (wal_forget_later)
  std::uint64_t answered = 0;   // requests answered by ReadyForQuery so far
  bool request_failed = false;  // an ErrorResponse since the last ReadyForQuery
};

}  // namespace segproxy::proxy
