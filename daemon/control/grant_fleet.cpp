#include "daemon/control/grant_fleet.hpp"

#include "authz/grants/grant_list.hpp"
#include "daemon/log.hpp"
#include "etcd/prefix_mirror.hpp"

namespace segproxy::proxy {
namespace {

constexpr std::chrono::milliseconds kPollWait{500};
constexpr std::chrono::milliseconds kRetry{1000};
constexpr std::chrono::milliseconds kApplyWait{3000};

}  // namespace

std::string grants_prefix(std::string_view prefix) {
  std::string p(prefix);
  while (!p.empty() && p.back() == '/') p.pop_back();
  return p + "/grants/";
}

std::string grant_key(std::string_view prefix, std::string_view id) { return grants_prefix(prefix) + std::string(id); }

GrantFleet::GrantFleet(const config::ControlPlaneSettings& settings, Logger& log, Apply apply)
    : settings_(settings), log_(log), apply_(std::move(apply)), prefix_(grants_prefix(settings.etcd.prefix)) {}

GrantFleet::~GrantFleet() { stop(); }

bool GrantFleet::start(std::string& error) {
  if (!etcd_.open(settings_.etcd, prefix_, error)) return false;
  poll_once();  // etcd reachable: its grants apply before the first client is accepted
  thread_ = std::thread([this] { run(); });
  return true;
}

void GrantFleet::stop() {
  {
    std::lock_guard lk(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void GrantFleet::poll_once() {
  auto step = etcd_.mirror->poll(kPollWait);
  if (!step.ok) {
    if (!unreachable_logged_) log_.warn("fleet.grants_sync_failed", {{"error", step.error}});
    unreachable_logged_ = true;
    return;
  }
  if (unreachable_logged_) log_.info("fleet.grants_sync_restored", {});
  unreachable_logged_ = false;
  if (step.resynced || !step.changes.empty()) {
    std::vector<authz::Grant> set;
    for (const auto& [key, kv] : etcd_.mirror->state()) {
      std::string why;
      std::string line = kv.value + "\n";
      auto one = authz::decode_grant_file(line, why);
      if (!one || one->size() != 1 || key != grant_key(settings_.etcd.prefix, one->front().id)) {
        log_.error("fleet.grant_invalid", {{"key", key.substr(0, 512)}, {"error", why.empty() ? "key/id mismatch" : why}});
        continue;
      }
      set.push_back(std::move(one->front()));
    }
    apply_(std::move(set));
  }
  {
    std::lock_guard lk(mu_);
    applied_revision_ = std::max(applied_revision_, etcd_.mirror->revision());
  }
  applied_cv_.notify_all();
}

void GrantFleet::run() {
  for (;;) {
    {
      std::lock_guard lk(stop_mu_);
      if (stopping_) return;
    }
    poll_once();
    if (unreachable_logged_) {
      std::unique_lock lk(stop_mu_);
      if (stop_cv_.wait_for(lk, kRetry, [this] { return stopping_; })) return;
    }
  }
}

GrantFleet::WriteResult GrantFleet::put(const authz::Grant& g) {
  std::lock_guard wl(write_mu_);
  const FleetWriteResult w =
      fleet_put(*etcd_.write_client, grant_key(settings_.etcd.prefix, g.id), authz::encode_grant_line(g), g.expires_at);
  WriteResult out;
  switch (w.status) {
    case FleetWriteResult::Status::Written:
      out.ok = true;
      out.revision = w.revision;
      break;
    case FleetWriteResult::Status::Expired: out.error = "the grant has expired already"; break;
    case FleetWriteResult::Status::Failed: out.error = w.error; break;
  }
  return out;
}

GrantFleet::WriteResult GrantFleet::remove(const std::string& id) {
  std::lock_guard wl(write_mu_);
  const FleetWriteResult w = fleet_delete(*etcd_.write_client, grant_key(settings_.etcd.prefix, id));
  WriteResult out;
  out.ok = w.status == FleetWriteResult::Status::Written;
  out.revision = w.revision;
  out.error = w.error;
  return out;
}

bool GrantFleet::wait_applied(std::int64_t revision) {
  std::unique_lock lk(mu_);
  return applied_cv_.wait_for(lk, kApplyWait, [&] { return applied_revision_ >= revision; });
}

}  // namespace segproxy::proxy
