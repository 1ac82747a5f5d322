#pragma once
// The shipper (docs/audit.md "Central store"): one thread per proxy that tails the
// instance's durable local log and loads it into the central store with COPY.
//
// Exactly once: the store's primary key is (instance, seq); the shipper resumes from the
// store's highest seq of its instance (re-read after every failure, so a COPY whose
// answer was lost is never repeated), and checks before shipping that the store's row at
// that seq carries the hash of the local record (a store that holds another chain under
// this instance name stops the shipper instead of mixing chains). Only records the sink
// reports durable (synced) are read. Sessions never wait for it: when the store is slow
// or down the local files keep growing and the lag grows.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "audit/store/log_cursor.hpp"
#include "audit/store/store_connection.hpp"

namespace segproxy::audit::store {

struct ShipperOptions {
  StoreEndpoint endpoint;
  std::optional<std::string> password;  // never logged
  std::string instance;                 // the records' instance (AuditConfig::instance)
  std::filesystem::path dir;            // the local log directory
  std::size_t batch = 5000;             // records per COPY at most (bench/RESULTS.md session 12)
  std::size_t batch_bytes = 8u << 20;   // bytes per COPY at most (one record may exceed it)
  std::chrono::milliseconds interval{1000};     // poll period when caught up
  std::chrono::milliseconds retry_every{5000};  // after a failure
};

struct ShipperStatus {
  std::uint64_t durable_seq = 0;   // the sink's
  std::uint64_t shipped_seq = 0;   // highest seq known to be in the store
  bool store_known = false;        // shipped_seq was read from the store at least once
  double lag_seconds = 0;          // age of the oldest durable record not in the store
  std::uint64_t shipped_total = 0; // records this process loaded
  std::uint64_t failures = 0;
  bool healthy = true;             // last attempt worked
  std::string error;               // last failure (no secrets)
  std::uint64_t lag_records() const { return durable_seq > shipped_seq ? durable_seq - shipped_seq : 0; }
};

// After a COPY of `records` records in a stream of `bytes`: true when the batch was full
// (a backlog: the next COPY goes at once), false when it took everything durable (caught
// up: the next poll is `interval` later, so a steady flow is shipped in batches of about
// interval x rate records instead of one COPY per handful of records).
bool batch_was_full(std::size_t records, std::size_t bytes, const ShipperOptions& o);

class Shipper {
 public:
  using DurableSeq = std::function<std::uint64_t()>;
  // (is_error, event, detail): state changes only (first failure, recovery), not every retry.
  using Report = std::function<void(bool, const std::string&, const std::string&)>;

  Shipper(ShipperOptions opts, DurableSeq durable, Report report);
  ~Shipper();  // stop()
  Shipper(const Shipper&) = delete;
  Shipper& operator=(const Shipper&) = delete;

  void start();
  // Wakes and joins the thread (a blocking libpq call is cut short by shutting the socket).
  void stop();
  // Wakes the thread now (e.g. after a burst); never blocks.
  void poke();
  ShipperStatus status() const;

 private:
  void run();
  bool wait_for(std::chrono::milliseconds d);  // false when stopping
  bool connect_store();
  bool position();       // reads the store's head, seeks the cursor, checks the hashes match
  bool ship_once(bool& shipped_any, bool& full);
  void drop_connection();
  void fail(const std::string& what);
  void recovered();
  void update_lag(std::uint64_t durable);
  void note_unshipped(const StoreRow& row);  // row: the first record not yet in the store

  ShipperOptions opts_;
  DurableSeq durable_;
  Report report_;
  LogCursor cursor_;
  PgConn conn_;  // shipper thread only; conn_mu_ guards the socket for stop()
  bool positioned_ = false;
  HashColumn hash_column_ = HashColumn::absent;  // the store's layout, read by position()
  bool failing_ = false;
  std::string copy_buf_;  // one COPY (FORMAT binary) stream; keeps its capacity
  StoreRow row_;          // the record being read; keeps its strings' capacity
  std::uint64_t unshipped_seq_ = 0;  // seq / ts of the oldest record known not shipped
  std::chrono::system_clock::time_point unshipped_ts_{};

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool poked_ = false;
  ShipperStatus status_;
  std::mutex conn_mu_;
  int live_socket_ = -1;
  std::thread thread_;
};

}  // namespace segproxy::audit::store
