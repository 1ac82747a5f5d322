#include "daemon/control/fleet_sync.hpp"

#include <algorithm>
#include <filesystem>
#include <map>

#include "daemon/log.hpp"
#include "etcd/client.hpp"  // range_prefix
#include "etcd/prefix_mirror.hpp"

namespace segproxy::proxy {
namespace {

constexpr std::chrono::milliseconds kPollWait{500};
constexpr std::chrono::milliseconds kRetry{1000};
constexpr std::chrono::seconds kCheckEvery{2};
constexpr std::chrono::seconds kSaveConfirmedEvery{30};
constexpr int kMismatchesBeforeResync = 2;

std::int64_t to_ms(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace

FleetSync::FleetSync(const config::ControlPlaneSettings& settings, std::string state_file, Logger& log, Apply apply)
    : settings_(settings), state_file_(std::move(state_file)), log_(log), apply_(std::move(apply)),
      prefix_(revocations_prefix(settings.etcd.prefix)) {}

FleetSync::~FleetSync() { stop(); }

bool FleetSync::start(std::vector<authz::Revocation> applied, std::string& error) {
  FleetStateFile st;
  std::error_code ec;
  const bool first_start = state_file_.empty() || !std::filesystem::exists(state_file_, ec);
  if (!state_file_.empty()) {
    auto loaded = load_state_file(state_file_, error);
    if (!loaded) return false;
    st = std::move(*loaded);
  }
  if (first_start) {
    // Revocations made before the control plane was configured are published to the
    // fleet instead of being lifted by the first resync.
    for (const auto& r : applied) st.pending.push_back(FleetOp{FleetOp::Type::Put, r});
  }
  if (!etcd_.open(settings_.etcd, prefix_, error)) return false;
  {
    std::lock_guard lk(mu_);
    base_ = std::move(applied);  // what this instance enforced last (pending included)
    base_revision_ = st.revision;
    pending_ = std::move(st.pending);
  }
  applied_revision_.store(st.revision);
  confirmed_at_ms_.store(st.confirmed_at * 1000);
  catch_up();  // etcd reachable: no client is accepted before its view is applied
  if (!reachable_.load()) {
    log_.warn("fleet.start_unreachable", {{"applied_revision", std::to_string(st.revision)},
                                          {"pending", std::to_string(pending_.size())}});
  }
  thread_ = std::thread([this] { run(); });
  return true;
}

void FleetSync::stop() {
  {
    std::lock_guard lk(stop_mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
    save();
  }
}

bool FleetSync::sleep_for(std::chrono::milliseconds d) {
  std::unique_lock lk(stop_mu_);
  return !stop_cv_.wait_for(lk, d, [this] { return stopping_; });
}

void FleetSync::unreachable(const std::string& what, const std::string& error) {
  reachable_.store(false);
  if (unreachable_logged_) return;
  unreachable_logged_ = true;
  log_.warn("fleet.sync_failed", {{"op", what}, {"error", error}});
}

FleetWriteResult FleetSync::write_op(etcd::Client& client, const FleetOp& op) {
  const auto& r = op.revocation;
  const std::string key = revocation_key(settings_.etcd.prefix, r.kind, r.value);
  if (op.type == FleetOp::Type::Delete) return fleet_delete(client, key);
  return fleet_put(client, key, encode_fleet_revocation(r), r.expires_at);  // may have expired while queued
}

FleetSync::WriteResult FleetSync::write(const FleetOp& op) {
  std::lock_guard wl(write_mu_);
  WriteResult out;
  bool queue_now = !reachable_.load();
  {
    std::lock_guard lk(mu_);
    queue_now = queue_now || !pending_.empty();  // keep the order of earlier queued writes
  }
  if (queue_now) {
    out.error = "etcd unreachable";
  } else {
    const FleetWriteResult w = write_op(*etcd_.write_client, op);
    switch (w.status) {
      case FleetWriteResult::Status::Written: {
        out.revision = w.revision;
        std::lock_guard lk(mu_);
        if (out.revision > applied_revision_.load()) overlay_.emplace_back(op, out.revision);
        return out;
      }
      case FleetWriteResult::Status::Expired:
        out.expired = true;
        return out;
      case FleetWriteResult::Status::Failed:
        out.error = w.error;
        break;
    }
  }
  out.queued = true;
  out.revision = 0;
  {
    std::lock_guard lk(mu_);
    pending_.push_back(op);
  }
  log_.warn("fleet.write_queued", {{"error", out.error}});
  save();
  return out;
}

bool FleetSync::flush_pending() {
  {
    std::lock_guard lk(mu_);
    if (pending_.empty()) return true;  // the common case: no wait behind a control-thread write
  }
  std::lock_guard wl(write_mu_);
  for (;;) {
    FleetOp op;
    {
      std::lock_guard lk(mu_);
      if (pending_.empty()) return true;
      op = pending_.front();
    }
    const FleetWriteResult w = write_op(*etcd_.client, op);
    if (w.status == FleetWriteResult::Status::Failed) {
      unreachable("flush", w.error);
      return false;
    }
    std::size_t left = 0;
    {
      std::lock_guard lk(mu_);
      pending_.erase(pending_.begin());
      // Expired while queued: nothing was written, the op simply ends.
      if (w.status == FleetWriteResult::Status::Written) overlay_.emplace_back(std::move(op), w.revision);
      left = pending_.size();
    }
    save();
    log_.info("fleet.pending_written",
              {{"revision", std::to_string(w.revision)},
               {"expired", w.status == FleetWriteResult::Status::Expired ? "true" : "false"},
               {"pending", std::to_string(left)}});
  }
}

std::vector<authz::Revocation> FleetSync::current_set() {
  std::vector<authz::Revocation> set = base_;
  for (const auto& [op, revision] : overlay_) apply_op(set, op);
  for (const auto& op : pending_) apply_op(set, op);
  return set;
}

void FleetSync::apply_current() {
  std::lock_guard al(apply_mu_);
  std::vector<authz::Revocation> set;
  {
    std::lock_guard lk(mu_);
    set = current_set();
  }
  apply_(std::move(set));
}

void FleetSync::take_view() {
  std::vector<authz::Revocation> set;
  for (const auto& [key, kv] : etcd_.mirror->state()) {
    std::string error;
    auto r = decode_fleet_revocation(kv.value, error);
    if (!r) {
      log_.error("fleet.revocation_invalid", {{"key", key.substr(0, 512)}, {"error", error}});
      continue;
    }
    apply_op(set, FleetOp{FleetOp::Type::Put, std::move(*r)});  // one per kind and value
  }
  const std::int64_t revision = etcd_.mirror->revision();
  {
    std::lock_guard lk(mu_);
    base_ = std::move(set);
    base_revision_ = revision;
    std::erase_if(overlay_, [revision](const auto& e) { return e.second <= revision; });
    if (revision > applied_revision_.load()) applied_revision_.store(revision);
  }
  applied_cv_.notify_all();
}

void FleetSync::confirm(std::chrono::system_clock::time_point at, std::int64_t revision) {
  confirmed_at_ms_.store(to_ms(at));
  {
    std::lock_guard lk(mu_);
    std::erase_if(overlay_, [revision](const auto& e) { return e.second <= revision; });
    if (revision > applied_revision_.load()) applied_revision_.store(revision);
  }
  applied_cv_.notify_all();
  reachable_.store(true);
  if (unreachable_logged_) log_.info("fleet.sync_restored", {{"revision", std::to_string(revision)}});
  unreachable_logged_ = false;
}

void FleetSync::catch_up() {
  if (!flush_pending()) return;
  const auto before = std::chrono::system_clock::now();
  auto step = etcd_.mirror->poll(kPollWait);
  if (!step.ok) {
    unreachable("watch", step.error);
    return;
  }
  if (step.resynced || !step.changes.empty()) {
    take_view();
    apply_current();
    save();
  }
  if (step.resynced) confirm(before, etcd_.mirror->revision());  // a linearizable range
  applied_cv_.notify_all();
}

void FleetSync::check_view() {
  const auto before = std::chrono::system_clock::now();
  auto r = etcd_.client->range_prefix(prefix_);
  if (!r) {
    unreachable("check", r.error.message);
    return;
  }
  std::map<std::string, std::int64_t> in_etcd;
  for (const auto& kv : r.value->kvs) in_etcd[kv.key] = kv.mod_revision;
  std::map<std::string, std::int64_t> mirrored;
  for (const auto& [key, kv] : etcd_.mirror->state()) mirrored[key] = kv.mod_revision;
  if (in_etcd == mirrored) {
    mismatches_ = 0;
    confirm(before, r.value->header.revision);
    if (std::chrono::steady_clock::now() - last_periodic_save_ >= kSaveConfirmedEvery) {
      save();  // keeps confirmed_at in the file roughly current
      last_periodic_save_ = std::chrono::steady_clock::now();
    }
    return;
  }
  // The watch may simply not have delivered yet; twice in a row: resync.
  if (++mismatches_ >= kMismatchesBeforeResync) {
    log_.warn("fleet.view_mismatch", {{"etcd_keys", std::to_string(in_etcd.size())},
                                      {"mirrored_keys", std::to_string(mirrored.size())}});
    etcd_.mirror->invalidate();
    mismatches_ = 0;
  }
}

void FleetSync::run() {
  auto last_check = std::chrono::steady_clock::now();
  for (;;) {
    {
      std::lock_guard lk(stop_mu_);
      if (stopping_) return;
    }
    catch_up();  // flush queued writes, then wait up to kPollWait for the watch
    // A view is confirmed by a resync or this check; while etcd fails it is also the
    // probe that notices its return.
    const auto every = reachable_.load() ? std::chrono::milliseconds(kCheckEvery) : kRetry;
    if (std::chrono::steady_clock::now() - last_check >= every) {
      check_view();
      last_check = std::chrono::steady_clock::now();
    }
    if (!reachable_.load() && !sleep_for(kRetry)) return;
  }
}

double FleetSync::staleness_seconds() const {
  const std::int64_t c = confirmed_at_ms_.load();
  if (c == 0) return std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  const std::int64_t now = to_ms(std::chrono::system_clock::now());
  return static_cast<double>(std::max<std::int64_t>(0, now - c)) / 1000.0;
}

bool FleetSync::stale() const {
  const std::int64_t c = confirmed_at_ms_.load();
  if (c == 0) return true;
  return to_ms(std::chrono::system_clock::now()) - c > settings_.max_staleness.count();
}

void FleetSync::save() {
  if (state_file_.empty()) return;
  std::lock_guard sl(save_mu_);  // the last rename carries the newest state
  FleetStateFile st;
  {
    std::lock_guard lk(mu_);
    st.revision = base_revision_;
    st.pending = pending_;
  }
  st.confirmed_at = confirmed_at_ms_.load() / 1000;
  std::string error;
  if (!save_state_file(state_file_, st, error)) log_.error("fleet.state_save_failed", {{"error", error}});
}

bool FleetSync::wait_applied(std::int64_t revision, std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu_);
  return applied_cv_.wait_for(lk, timeout, [&] { return applied_revision_.load() >= revision; });
}

}  // namespace segproxy::proxy
