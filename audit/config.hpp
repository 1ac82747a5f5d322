#pragma once
// Audit log settings (plain struct; config/ maps YAML `audit:` onto it).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

namespace segproxy::audit {

// When a submitted record's completion is signalled.
enum class Durability {
  fsync_each,  // write + fdatasync per record, then signal
  group,       // one write + one fdatasync per batch (many sessions), then signal
  interval,    // signal after write(); fdatasync at most every sync_interval
};

enum class OnFailure {
  fail_closed,  // submitters are told "not recorded" (the proxy refuses the statement)
  fail_open,    // submitters are told "ok"; lost records are counted and audited later
};

// What `statement` holds: the client's text, literals replaced by '?', or nothing.
enum class StatementText { full, normalized, none };

struct AuditConfig {
  std::filesystem::path dir;
  Durability durability = Durability::group;
  std::chrono::milliseconds sync_interval{200};  // Durability::interval only
  OnFailure on_failure = OnFailure::fail_closed;
  StatementText statement_text = StatementText::normalized;
  // Bytes of `statement` kept per record (after statement_text); longer texts are cut at a
  // UTF-8 character boundary and the record carries statement_length + statement_sha256.
  std::size_t max_statement_text = 4096;
  std::uint64_t checkpoint_every_records = 1000;  // 0: no count trigger
  std::chrono::seconds checkpoint_every{60};      // 0: no time trigger
  std::uint64_t rotate_size = 64ull << 20;        // bytes; 0: no size rotation
  std::chrono::seconds rotate_every{24 * 3600};   // 0: no time rotation
  std::filesystem::path signing_key;              // Ed25519 PEM; empty: unsigned checkpoints
  std::size_t max_queue = 65536;                  // records waiting for the writer
  std::string instance;                           // this proxy's name in every record
  std::chrono::milliseconds retry_every{500};     // recovery probe period after a failure
  // Longest wait for a record to become durable; a longer one counts as a write failure.
  std::chrono::milliseconds max_wait{10000};
  // Durability::group only: how long the writer, woken by a wait, lets records of other
  // sessions still in flight (appended, not yet waited for) join the group before it
  // writes and syncs (like PostgreSQL's commit_delay / commit_siblings). No delay when
  // every appended record is already waited for (a lone session never waits); the delay
  // ends early once they all are. 0: none. See docs/audit.md "Group commit window".
  std::chrono::microseconds group_delay{50};
};

}  // namespace segproxy::audit
