#pragma once
// The per-backend cap on concurrent stall probes and their metrics (issue 20).
//
// A MySQL session whose backend went silent between two packets of a response asks
// whether the server still answers with a fresh login (mysql_backend_stall.cpp). Without a
// cap, N silent sessions made N logins per backend_message_timeout. Here, per backend
// ("host:port"): while fewer than `cap` probes of that backend run, a session starts its
// own; otherwise it is attached to the running probe that started first and takes its
// verdict, which is about the server, not the session (every session waiting at that
// moment gets the same one). A verdict reached after the session attached is fresh for it:
// a login that succeeded did so after the session's silence began; a probe that failed
// saw no answer for backend_connect_timeout around the moment it attached.
//
// Metrics (one series set per backend, label `backend`="host:port" from the
// configuration):
//   segproxy_backend_probes_total{backend,result}  result = answered (logged in) |
//       refused (the server answered with an ERR of its own, e.g. 1040: not stalled) |
//       failed (no answer within backend_connect_timeout: stalled)
//   segproxy_backend_probe_waits_total{backend}     silent sessions that took a running
//       probe's verdict instead of starting their own
//   segproxy_backend_probes_in_flight{backend}      probes running now (never above the cap)
//
// Thread-safe: sessions of every worker thread share one instance (owned by the Server).
// A waiter is called on the thread that finishes the probe, outside the lock; it must
// only post to its session's own executor.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/metrics/proxy_metrics.hpp"

namespace segproxy::proxy {

struct ProbeVerdict {
  bool answers = false;  // logged in, or refused with an ERR the server composed
  std::string error;     // why not, or which ERR the server sent ("" when logged in)
};

// answered (no error) | refused (answers, with the server's ERR) | failed.
ProbeResult probe_result(const ProbeVerdict& v) noexcept;

class BackendProbes {
 public:
  using Waiter = std::function<void(const ProbeVerdict&)>;

  // `metrics` may be null (nothing counted); it must outlive this object.
  explicit BackendProbes(ProxyMetrics* metrics);
  BackendProbes(const BackendProbes&) = delete;
  BackendProbes& operator=(const BackendProbes&) = delete;
  ~BackendProbes();

  // A slot of a running probe. finish() (once) ends it; a Probe destroyed unfinished
  // (its coroutine torn down at shutdown) frees the slot and drops its waiters uncalled.
  class Probe {
   public:
    Probe(Probe&& other) noexcept;
    Probe& operator=(Probe&&) = delete;
    Probe(const Probe&) = delete;
    ~Probe();
    // Counts the verdict, frees the slot and calls every session attached meanwhile.
    void finish(const ProbeVerdict& v);

   private:
    friend class BackendProbes;
    Probe(BackendProbes* owner, std::string backend, std::uint64_t id)
        : owner_(owner), backend_(std::move(backend)), id_(id) {}
    BackendProbes* owner_;
    std::string backend_;
    std::uint64_t id_;
  };

  // A silent session of `backend` asks for a verdict. Fewer than `cap` (at least 1)
  // probes of it running: returns the slot of a new probe, which the caller runs and
  // finishes. Otherwise `waiter` is attached to the running probe that started first and
  // nullopt is returned: the waiter is called once with that probe's verdict (or dropped
  // uncalled if the probe is torn down).
  std::optional<Probe> start_or_wait(std::string_view backend, std::size_t cap, Waiter waiter);

  // Probes of `backend` running now.
  std::size_t in_flight(std::string_view backend) const;

  // The cap the sessions use: one probe per backend at a time. A probe's verdict is about
  // the server, so one answers for every session of that backend waiting meanwhile; a
  // second would only add a login to a server that may be short of connections.
  static constexpr std::size_t kPerBackend = 1;

  // At most this many distinct backends are tracked (further ones share one entry, and
  // so one cap): backends come from the configuration, this only bounds a reload loop.
  static constexpr std::size_t kMaxBackends = 1000;

 private:
  struct Running {
    std::uint64_t id = 0;
    std::vector<Waiter> waiters;
  };
  struct Backend {
    std::vector<Running> running;  // in start order
    BackendProbeMetrics metrics;    // all null without metrics
  };
  using Backends = std::map<std::string, Backend, std::less<>>;
  Backends::iterator backend_locked(std::string_view name);
  // Removes probe `id` of `backend` and returns its waiters; counts `v` when given.
  std::vector<Waiter> end(const std::string& backend, std::uint64_t id, const ProbeVerdict* v);

  ProxyMetrics* metrics_;
  mutable std::mutex mu_;
  Backends backends_;
  std::uint64_t next_id_ = 1;
};

}  // namespace segproxy::proxy
