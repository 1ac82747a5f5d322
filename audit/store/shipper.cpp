#include "audit/store/shipper.hpp"

#include <cstdlib>

#include <pthread.h>
#include <sys/socket.h>

#include <algorithm>

#include "audit/record_codec.hpp"
#include "audit/store/store_schema.hpp"

namespace segproxy::audit::store {
namespace {

// COPY (FORMAT binary), copy_sql(): the line and the columns travel as their bytes (no
// escaping here, no parsing of text and dates in the store; the store's CPU per record is
// most of shipping's cost).
constexpr std::size_t kCopyMessage = 64u << 10;

}  // namespace

Shipper::Shipper(ShipperOptions opts, DurableSeq durable, Report report)
    : opts_(std::move(opts)), durable_(std::move(durable)), report_(std::move(report)), cursor_(opts_.dir) {}

Shipper::~Shipper() { stop(); }

void Shipper::start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { run(); });
}

void Shipper::stop() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  {
    std::lock_guard lk(conn_mu_);
    if (live_socket_ >= 0) ::shutdown(live_socket_, SHUT_RDWR);  // ends a blocking libpq call
  }
  if (thread_.joinable()) thread_.join();
}

void Shipper::poke() {
  {
    std::lock_guard lk(mu_);
    poked_ = true;
  }
  cv_.notify_all();
}

ShipperStatus Shipper::status() const {
  std::lock_guard lk(mu_);
  return status_;
}

bool Shipper::wait_for(std::chrono::milliseconds d) {
  std::unique_lock lk(mu_);
  cv_.wait_for(lk, d, [this] { return stop_ || poked_; });
  poked_ = false;
  return !stop_;
}

void Shipper::fail(const std::string& what) {
  {
    std::lock_guard lk(mu_);
    status_.healthy = false;
    status_.error = what;
    ++status_.failures;
  }
  if (!failing_ && report_) report_(true, "audit.ship_failed", what);
  failing_ = true;
}

void Shipper::recovered() {
  {
    std::lock_guard lk(mu_);
    status_.healthy = true;
    status_.error.clear();
  }
  if (failing_ && report_) report_(false, "audit.ship_recovered", "shipping to the central store works again");
  failing_ = false;
}

void Shipper::drop_connection() {
  {
    std::lock_guard lk(conn_mu_);
    live_socket_ = -1;
  }
  conn_.reset();
  positioned_ = false;
}

bool Shipper::connect_store() {
  std::string why;
  PgConn c = connect(opts_.endpoint, opts_.password, why);
  if (!c) {
    fail("cannot connect to the audit store " + opts_.endpoint.host + ":" + std::to_string(opts_.endpoint.port) +
         ": " + why);
    return false;
  }
  {
    std::lock_guard lk(conn_mu_);
    live_socket_ = PQsocket(c.get());
  }
  conn_ = std::move(c);
  return true;
}

bool Shipper::position() {
  std::string why;
  const auto hash_column = records_hash_column(conn_.get(), why);
  constexpr const char* kHead =
      "SELECT seq, line FROM segproxy_audit.records WHERE instance = $1 ORDER BY seq DESC LIMIT 1";
  auto r = hash_column ? exec(conn_.get(), kHead, why, {opts_.instance}) : nullptr;
  if (!r) {
    fail("reading the store's head: " + why);
    if (PQstatus(conn_.get()) != CONNECTION_OK) drop_connection();
    return false;
  }
  hash_column_ = *hash_column;
  std::uint64_t head = 0;
  std::string head_hash;
  if (PQntuples(r.get()) == 1) {
    head = std::strtoull(PQgetvalue(r.get(), 0, 0), nullptr, 10);
    // The hash from the head's line (schema version 2 keeps no copy of it in a column).
    const std::string_view line(PQgetvalue(r.get(), 0, 1), static_cast<std::size_t>(PQgetlength(r.get(), 0, 1)));
    const auto row = extract_row(line, why);
    if (!row || row->seq != head) {
      fail("the store's record " + std::to_string(head) + " of instance " + opts_.instance +
           " is not a record of that seq" + (row ? std::string() : ": " + why) + ": shipping stopped");
      return false;
    }
    head_hash = row->hash;
  }
  if (head == 0) {
    const std::uint64_t oldest = cursor_.oldest_seq(why);
    if (oldest > 1) {
      fail("the store holds nothing of instance " + opts_.instance + " and the local log starts at seq " +
           std::to_string(oldest) + ": records 1.." + std::to_string(oldest - 1) + " cannot be shipped");
      return false;
    }
  }
  if (!cursor_.seek(head + 1, why)) {
    fail("the store holds instance " + opts_.instance + " up to seq " + std::to_string(head) +
         ", the local log does not continue it: " + why);
    return false;
  }
  if (head > 0) {
    if (!cursor_.prev_hash().empty() && cursor_.prev_hash() != head_hash) {
      fail("the store's record " + std::to_string(head) + " of instance " + opts_.instance +
           " differs from the local one (another log under the same instance name?): shipping stopped");
      return false;
    }
    cursor_.expect_prev_hash(head_hash);
  }
  {
    std::lock_guard lk(mu_);
    status_.shipped_seq = head;
    status_.store_known = true;
  }
  positioned_ = true;
  return true;
}

bool batch_was_full(std::size_t records, std::size_t bytes, const ShipperOptions& o) {
  return records >= o.batch || bytes >= o.batch_bytes;
}

bool Shipper::ship_once(bool& shipped_any, bool& full) {
  shipped_any = false;
  full = false;
  const std::uint64_t durable = durable_();
  copy_buf_.clear();
  std::size_t n = 0;
  std::uint64_t last = 0;
  std::string why;
  append_copy_binary_header(copy_buf_);
  while (n < opts_.batch && copy_buf_.size() < opts_.batch_bytes) {
    std::string_view line;
    const auto st = cursor_.next(durable, line, row_, why);
    if (st == LogCursor::Status::none) break;
    if (st == LogCursor::Status::error ||
        !append_copy_binary_row(copy_buf_, opts_.instance, row_, line, hash_column_, why)) {
      fail("local log: " + why);
      positioned_ = false;
      return false;
    }
    if (n == 0) note_unshipped(row_);
    last = row_.seq;
    ++n;
  }
  if (n == 0) return true;
  full = batch_was_full(n, copy_buf_.size(), opts_);
  append_copy_binary_trailer(copy_buf_);
  PGconn* c = conn_.get();
  PgResult start(PQexec(c, copy_sql(hash_column_)));
  bool ok = start && PQresultStatus(start.get()) == PGRES_COPY_IN;
  if (!ok) why = one_line(start ? PQresultErrorMessage(start.get()) : PQerrorMessage(c));
  // In CopyData messages of 64 KiB (rows may span them): the store reads each message
  // into one buffer, which a batch in a single message would make megabytes large anew for
  // every COPY (fresh pages, faulted in).
  for (std::size_t off = 0; ok && off < copy_buf_.size(); off += kCopyMessage) {
    const std::size_t len = std::min(kCopyMessage, copy_buf_.size() - off);
    if (PQputCopyData(c, copy_buf_.data() + off, static_cast<int>(len)) != 1) {
      ok = false;
      why = one_line(PQerrorMessage(c));
    }
  }
  if (start && PQresultStatus(start.get()) == PGRES_COPY_IN &&
      PQputCopyEnd(c, ok ? nullptr : "segproxy: aborted") != 1 && ok) {
    ok = false;
    why = one_line(PQerrorMessage(c));
  }
  for (PgResult res(PQgetResult(c)); res; res.reset(PQgetResult(c))) {
    if (PQresultStatus(res.get()) != PGRES_COMMAND_OK && ok) {
      ok = false;
      why = one_line(PQresultErrorMessage(res.get()));
    }
  }
  if (!ok) {
    // Whatever happened, the store's head is read again before the next COPY.
    fail("COPY into the audit store: " + why);
    if (PQstatus(c) != CONNECTION_OK) drop_connection();
    positioned_ = false;
    return false;
  }
  {
    std::lock_guard lk(mu_);
    status_.shipped_seq = last;
    status_.shipped_total += n;
  }
  shipped_any = true;
  return true;
}

void Shipper::note_unshipped(const StoreRow& row) {
  if (auto t = parse_timestamp(row.ts)) {
    unshipped_seq_ = row.seq;
    unshipped_ts_ = *t;
  }
}

void Shipper::update_lag(std::uint64_t durable) {
  std::uint64_t shipped = 0;
  bool known = false;
  {
    std::lock_guard lk(mu_);
    status_.durable_seq = durable;
    shipped = status_.shipped_seq;
    known = status_.store_known;
  }
  double lag = 0;
  if (shipped < durable) {
    std::string why;
    std::string_view line;
    StoreRow row;
    if (unshipped_seq_ != shipped + 1) {
      // The oldest unconfirmed record: the one after the store's head, or (store never
      // reached) the oldest local record. The cursor stands there after a successful
      // COPY; otherwise (store down, position() will seek again anyway) it is moved there.
      std::uint64_t want = shipped + 1;
      if (!known) {
        const std::uint64_t oldest = cursor_.oldest_seq(why);
        if (oldest > 0) want = oldest;
        shipped = want - 1;
      }
      if (!positioned_ && !(cursor_.positioned() && cursor_.next_seq() == want)) cursor_.seek(want, why);
      if (cursor_.positioned() && cursor_.next_seq() == want &&
          cursor_.next(durable, line, row, why, /*peek=*/true) == LogCursor::Status::line)
        note_unshipped(row);
    }
    if (unshipped_seq_ == shipped + 1) {
      lag = std::max(0.0, std::chrono::duration<double>(std::chrono::system_clock::now() - unshipped_ts_).count());
    } else {
      std::lock_guard lk(mu_);
      lag = status_.lag_seconds;  // unknown now: keep the last figure
    }
  }
  std::lock_guard lk(mu_);
  status_.lag_seconds = lag;
}

void Shipper::run() {
  // Named for operators (top -H) and for bench/audit_ship_cost.sh, which reads this
  // thread's CPU from /proc/<pid>/task/<tid>/schedstat.
  pthread_setname_np(pthread_self(), "segproxy-ship");
  for (;;) {
    {
      std::lock_guard lk(mu_);
      if (stop_) break;
    }
    bool ok = (conn_ || connect_store()) && (positioned_ || position());
    bool any = false;
    bool full = false;
    if (ok) ok = ship_once(any, full);
    if (ok) recovered();
    update_lag(durable_());
    if (!ok) {
      if (!wait_for(opts_.retry_every)) break;
    } else if (!full) {  // caught up (or nothing new): poll again after the interval
      if (!wait_for(opts_.interval)) break;
    }
  }
  drop_connection();
}

}  // namespace segproxy::audit::store
