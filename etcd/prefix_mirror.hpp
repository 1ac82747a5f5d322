#pragma once
// A local mirror of every key under a prefix, kept by "range at a revision, then watch
// from the next revision" (no gap), with a full resync whenever the watch breaks, is
// compacted or is canceled. The building block for applying fleet state (revocations,
// grants) on every instance (docs/fleet.md). Blocking, thread-confined, every wait
// bounded by the client's request timeout or the caller's `wait`.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "etcd/client.hpp"

namespace segproxy::etcd {

class PrefixMirror {
 public:
  struct Change {
    bool deleted = false;
    KeyValue kv;  // for a delete: the key and mod_revision
  };
  struct Step {
    bool ok = false;        // false: etcd unreachable or the watch broke (next poll resyncs)
    bool resynced = false;  // the whole state was read again: use state()
    std::vector<Change> changes;  // incremental changes applied by this step
    std::string error;
  };

  PrefixMirror(Client& client, std::string prefix);
  ~PrefixMirror();

  // Resyncs when needed, else waits up to `wait` for watch messages and applies them.
  Step poll(std::chrono::milliseconds wait);
  // Drops the watch: the next poll resyncs (e.g. a check found the view differs).
  void invalidate() { watch_.reset(); }

  const std::map<std::string, KeyValue>& state() const { return state_; }
  // Every change up to this revision is in state() (0: never synced).
  std::int64_t revision() const { return revision_; }
  // When etcd last confirmed this view (a range, events or a progress notification).
  Clock::time_point last_contact() const { return last_contact_; }

 private:
  Step resync();

  Client& client_;
  std::string prefix_;
  std::map<std::string, KeyValue> state_;
  std::int64_t revision_ = 0;
  Clock::time_point last_contact_{};
  std::unique_ptr<Watch> watch_;
};

}  // namespace segproxy::etcd
