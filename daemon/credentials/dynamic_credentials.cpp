// Dynamic scoped backend credentials: the table of minted users, the job queue and
// the worker threads (the jobs themselves: dynamic_credentials_jobs.cpp).
#include "daemon/credentials/dynamic_credentials.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <algorithm>

#include "config/name_template.hpp"
#include "daemon/credentials/dynamic_pg_sql.hpp"

namespace segproxy::proxy {
namespace {

constexpr auto kMaxSleep = std::chrono::seconds(5);

// 32 random bytes, hex (64 characters).
std::shared_ptr<const authz::Secret> random_password() {
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) return nullptr;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(sizeof raw * 2);
  for (unsigned char b : raw) {
    hex.push_back(kHex[b >> 4]);
    hex.push_back(kHex[b & 0xf]);
  }
  OPENSSL_cleanse(raw, sizeof raw);
  return std::make_shared<const authz::Secret>(std::move(hex));
}

void post_result(const asio::any_io_executor& ex, DynamicCredentials::Callback done, AcquireResult r) {
  asio::post(ex, [done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
}

void post_error(const asio::any_io_executor& ex, DynamicCredentials::Callback done, std::string why) {
  AcquireResult r;
  r.error = std::move(why);
  post_result(ex, std::move(done), std::move(r));
}

}  // namespace

std::chrono::milliseconds dynamic_ttl(const DynamicTarget& t) {
  return std::max<std::chrono::milliseconds>(t.settings.ttl, kMinDynamicTtl);
}

std::chrono::milliseconds dynamic_renew_before(const DynamicTarget& t) {
  const auto ttl = dynamic_ttl(t);
  auto rb = t.settings.renew_before;
  if (rb.count() <= 0 || rb >= ttl) rb = ttl / 2;
  return rb;
}

std::vector<DynamicTarget> dynamic_targets(const config::Config& cfg, const authz::CredentialStore& store) {
  std::vector<DynamicTarget> out;
  for (const auto& l : cfg.listeners) {
    for (const auto& [name, seg] : cfg.segments) {
      const auto* cred = store.find(name, l.name);
      if (cred == nullptr || !cred->is_dynamic()) continue;
      DynamicTarget t;
      t.segment = name;
      t.listener = l;
      if (l.protocol == config::Protocol::Postgres) {
        t.database = seg.databases.empty() ? std::string("postgres") : seg.databases.front();
      }
      t.settings = *cred->dynamic;
      t.admin_password = std::make_shared<const authz::Secret>(std::string(cred->admin_password.reveal()));
      out.push_back(std::move(t));
    }
  }
  return out;
}

std::string dynamic_identity_key(const authz::ClientIdentity& id) {
  return id.spiffe_id.empty() ? id.sha256_hex : id.spiffe_id;
}

DynamicCredentials::DynamicCredentials(std::vector<DynamicTarget> targets, DynamicCredentialOptions options,
                                       DynamicCredentialHooks hooks)
    : opts_(std::move(options)), hooks_(std::move(hooks)) {
  opts_.workers = std::clamp<std::size_t>(opts_.workers, 1, 2);
  set_targets(std::move(targets));
}

DynamicCredentials::~DynamicCredentials() { stop(true); }

void DynamicCredentials::set_targets(std::vector<DynamicTarget> targets) {
  const std::lock_guard<std::mutex> lock(mu_);
  targets_.clear();
  for (auto& t : targets) {
    auto key = std::pair{t.segment, t.listener.name};
    targets_[key] = std::make_shared<const DynamicTarget>(std::move(t));
  }
}

void DynamicCredentials::start() {
  const std::lock_guard<std::mutex> lock(mu_);
  if (started_ || stop_) return;
  started_ = true;
  next_janitor_ = Clock::now();
  dynamic_admin_prepare();
  for (std::size_t i = 0; i < opts_.workers; ++i) workers_.emplace_back([this] { run(); });
}

std::size_t DynamicCredentials::minted_count() const {
  const std::lock_guard<std::mutex> lock(mu_);
  return std::count_if(entries_.begin(), entries_.end(),
                       [](const auto& kv) { return kv.second.state != Entry::State::Minting; });
}

void DynamicCredentials::acquire(const std::string& listener, const std::string& segment,
                                 const std::string& identity_key, asio::any_io_executor ex, Callback done) {
  if (identity_key.empty()) return post_error(ex, std::move(done), "segproxy: no identity to mint a backend user for");
  std::unique_lock<std::mutex> lock(mu_);
  if (stop_ || !started_) {
    return post_error(ex, std::move(done), "segproxy: dynamic credentials are not running");
  }
  const auto t = targets_.find(std::pair{segment, listener});
  if (t == targets_.end()) {
    return post_error(ex, std::move(done), "segproxy: segment \"" + segment +
                                               "\" has no dynamic credential on listener \"" + listener + "\"");
  }
  Key key{identity_key, segment, listener};
  if (auto it = entries_.find(key); it != entries_.end()) {
    Entry& e = it->second;
    if (e.state == Entry::State::Ready) {
      if (Clock::now() < e.expires_at - dynamic_renew_before(*e.target)) {
        AcquireResult r;
        r.credential = credential_of(e);
        return post_result(ex, std::move(done), std::move(r));
      }
      e.state = Entry::State::Renewing;  // close to expiry: renew before handing it out
      jobs_.push_back(Job{JobKind::Renew, key, e.user, e.target, e.password, {}, e.gen});
      cv_.notify_all();
    }
    e.waiters.push_back(Waiter{std::move(ex), std::move(done)});
    return;
  }
  std::string why;
  const auto name = config::expand_name_template(t->second->settings.name_template, segment, listener,
                                                 identity_id8(identity_key), why);
  if (!name) return post_error(ex, std::move(done), "segproxy: cannot name the backend user: " + why);
  if (users_.count(*name) != 0) {
    return post_error(ex, std::move(done), "segproxy: backend user name \"" + *name +
                                               "\" is already minted for another identity (change name_template)");
  }
  auto password = random_password();
  if (!password) return post_error(ex, std::move(done), "segproxy: no random bytes for a backend password");
  Entry e;
  e.identity = identity_key;
  e.user = *name;
  e.target = t->second;
  e.password = password;
  e.gen = ++generation_;
  e.waiters.push_back(Waiter{std::move(ex), std::move(done)});
  jobs_.push_back(Job{JobKind::Mint, key, e.user, e.target, password, {}, e.gen});
  users_[e.user] = key;
  entries_.emplace(key, std::move(e));
  cv_.notify_all();
}

void DynamicCredentials::revoke_identity(const std::string& identity_key) {
  revoke_matching([&identity_key](const std::string& key, const std::string&) { return key == identity_key; },
                  std::chrono::milliseconds(0));
}

std::size_t DynamicCredentials::revoke_matching(const RevokeMatch& match, std::chrono::milliseconds wait,
                                                bool* finished) {
  std::unique_lock<std::mutex> lock(mu_);
  std::set<std::string> revoked;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (!match(std::get<0>(it->first), std::get<1>(it->first))) {
      ++it;
      continue;
    }
    Entry& e = it->second;
    finish(it->first, "segproxy: the identity's backend credential was revoked");
    // A running mint notices the missing entry and drops what it made.
    if (e.state != Entry::State::Minting) {
      jobs_.push_back(Job{JobKind::Drop, it->first, e.user, e.target, nullptr, "revoked", e.gen});
    }
    revoked.insert(e.user);
    users_.erase(e.user);
    it = entries_.erase(it);
  }
  cv_.notify_all();
  // The workers notify cv_ after every job; done when no job of these users is queued
  // or running (a stopped service drops what is left in stop()).
  const auto pending = [&] {
    if (stop_ || !started_) return false;
    for (const auto& u : revoked) {
      if (busy_.count(u) != 0) return true;
    }
    return std::any_of(jobs_.begin(), jobs_.end(), [&](const Job& j) { return revoked.count(j.user) != 0; });
  };
  const bool done = wait.count() <= 0 ? !pending() : cv_.wait_for(lock, wait, [&] { return !pending(); });
  if (finished != nullptr) *finished = done;
  return revoked.size();
}

void DynamicCredentials::request_janitor() {
  const std::lock_guard<std::mutex> lock(mu_);
  next_janitor_ = Clock::now();
  cv_.notify_all();
}

void DynamicCredentials::stop(bool drop_minted) {
  std::vector<Job> drops;
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (stop_ && workers_.empty()) return;
    stop_ = true;
    cv_.notify_all();
    lock.unlock();
    for (auto& w : workers_) w.join();
    lock.lock();
    workers_.clear();
    for (auto& job : jobs_) {
      if (job.kind == JobKind::Drop) drops.push_back(std::move(job));
    }
    jobs_.clear();
    for (auto& [key, e] : entries_) {
      finish(key, "segproxy: dynamic credentials are shutting down");
      if (e.state != Entry::State::Minting) {
        drops.push_back(Job{JobKind::Drop, key, e.user, e.target, nullptr, "shutdown", e.gen});
      }
    }
    entries_.clear();
    users_.clear();
  }
  if (!drop_minted) return;
  for (const auto& job : drops) drop_user(job);
}

MintedCredential DynamicCredentials::credential_of(Entry& e) {
  std::shared_ptr<const void> lease = e.lease.lock();
  if (!lease) {
    lease = std::make_shared<const int>(0);
    e.lease = lease;
  }
  return MintedCredential{e.user, e.password, e.expires_at, std::move(lease)};
}

void DynamicCredentials::finish(const Key& key, const std::string& error) {
  const auto it = entries_.find(key);
  if (it == entries_.end()) return;
  auto waiters = std::move(it->second.waiters);
  it->second.waiters.clear();
  for (auto& w : waiters) {
    if (!error.empty()) {
      post_error(w.ex, std::move(w.done), error);
      continue;
    }
    AcquireResult r;
    r.credential = credential_of(it->second);
    post_result(w.ex, std::move(w.done), std::move(r));
  }
}

void DynamicCredentials::schedule_due(Clock::time_point now) {
  if (now >= next_janitor_ && !janitor_queued_) {
    jobs_.push_back(Job{JobKind::Janitor, {}, {}, nullptr, nullptr, {}, 0});
    janitor_queued_ = true;
    next_janitor_ = now + opts_.janitor_interval;
  }
  for (auto it = entries_.begin(); it != entries_.end();) {
    Entry& e = it->second;
    if (e.state != Entry::State::Ready) {
      ++it;
      continue;
    }
    const bool in_use = !e.lease.expired();
    if (now >= e.expires_at) {  // no session left, or every renewal failed
      jobs_.push_back(Job{JobKind::Drop, it->first, e.user, e.target, nullptr, "expired", e.gen});
      users_.erase(e.user);
      it = entries_.erase(it);
      continue;
    }
    if (in_use && now >= e.expires_at - dynamic_renew_before(*e.target) && now >= e.retry_at) {
      e.state = Entry::State::Renewing;
      jobs_.push_back(Job{JobKind::Renew, it->first, e.user, e.target, e.password, {}, e.gen});
    }
    ++it;
  }
}

std::optional<DynamicCredentials::Clock::time_point> DynamicCredentials::next_wake() const {
  auto wake = Clock::now() + kMaxSleep;
  if (!janitor_queued_) wake = std::min(wake, next_janitor_);
  for (const auto& [key, e] : entries_) {
    if (e.state != Entry::State::Ready) continue;
    auto at = e.expires_at;
    if (!e.lease.expired()) at = std::min(at, std::max(e.expires_at - dynamic_renew_before(*e.target), e.retry_at));
    wake = std::min(wake, at);
  }
  return wake;
}

std::optional<DynamicCredentials::Job> DynamicCredentials::take_job() {
  for (auto it = jobs_.begin(); it != jobs_.end(); ++it) {
    const std::string busy_key = it->kind == JobKind::Janitor ? std::string("#janitor") : it->user;
    if (busy_.count(busy_key) != 0) continue;
    busy_.insert(busy_key);
    Job job = std::move(*it);
    jobs_.erase(it);
    return job;
  }
  return std::nullopt;
}

void DynamicCredentials::run() {
  dynamic_admin_thread_begin();
  struct ThreadEnd {
    ~ThreadEnd() { dynamic_admin_thread_end(); }
  } thread_end;
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    schedule_due(Clock::now());
    if (auto job = take_job()) {
      lock.unlock();
      run_job(*job);
      lock.lock();
      busy_.erase(job->kind == JobKind::Janitor ? std::string("#janitor") : job->user);
      if (job->kind == JobKind::Janitor) janitor_queued_ = false;
      cv_.notify_all();
      continue;
    }
    if (auto wake = next_wake()) cv_.wait_until(lock, *wake);
    else cv_.wait(lock);
  }
}

void DynamicCredentials::run_job(const Job& job) {
  switch (job.kind) {
    case JobKind::Mint: do_mint(job); break;
    case JobKind::Renew: do_renew(job); break;
    case JobKind::Drop: drop_user(job); break;
    case JobKind::Janitor: do_janitor(); break;
  }
}

void DynamicCredentials::admin_failed(const DynamicTarget& t, const std::string& why) {
  if (hooks_.admin_failure) hooks_.admin_failure(t.segment, t.listener.name);
  if (opts_.log != nullptr) {
    opts_.log->warn("credential.admin_failed",
                    {{"segment", t.segment}, {"listener", t.listener.name}, {"error", why}});
  }
}

void DynamicCredentials::audit(std::string_view event, AuditDetails details) {
  if (opts_.log != nullptr) {
    std::string user;
    for (const auto& [k, v] : details) {
      if (k == "user") user = v;
    }
    opts_.log->info(event, {{"backend_user", user}});
  }
  if (hooks_.audit) hooks_.audit(event, details);
}

void DynamicCredentials::warn(std::string_view event, const std::string& user, const std::string& error) {
  if (opts_.log != nullptr) opts_.log->warn(event, {{"backend_user", user}, {"error", error}});
}

}  // namespace segproxy::proxy
