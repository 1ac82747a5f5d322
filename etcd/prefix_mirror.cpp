#include "etcd/prefix_mirror.hpp"

#include <algorithm>

namespace segproxy::etcd {

PrefixMirror::PrefixMirror(Client& client, std::string prefix) : client_(client), prefix_(std::move(prefix)) {}
PrefixMirror::~PrefixMirror() = default;

PrefixMirror::Step PrefixMirror::resync() {
  Step step;
  watch_.reset();
  auto range = client_.range_prefix(prefix_);
  if (!range) {
    step.error = range.error.message;
    return step;
  }
  WatchRequest req;
  req.key = prefix_;
  req.range_end = prefix_range_end(prefix_);
  req.start_revision = range.value->header.revision + 1;  // no gap after the range
  req.progress_notify = true;
  auto w = client_.watch(req);
  if (!w) {
    step.error = w.error.message;
    return step;
  }
  state_.clear();
  for (KeyValue& kv : range.value->kvs) state_[kv.key] = std::move(kv);
  revision_ = range.value->header.revision;
  last_contact_ = Clock::now();
  watch_ = std::move(*w.value);
  step.ok = true;
  step.resynced = true;
  return step;
}

PrefixMirror::Step PrefixMirror::poll(std::chrono::milliseconds wait) {
  if (!watch_ || !watch_->ok()) return resync();
  Step step;
  std::optional<WatchResponse> m = watch_->next(wait);
  if (!m) {
    if (!watch_->ok()) {
      step.error = watch_->error();
      watch_.reset();
      return step;
    }
    step.ok = true;  // nothing new within `wait`
    return step;
  }
  if (m->compact_revision != 0 || m->canceled) {
    step.error = watch_->error();
    watch_.reset();  // the next poll resyncs
    return step;
  }
  last_contact_ = Clock::now();
  if (m->is_progress_notify()) {
    revision_ = std::max(revision_, m->header.revision);
  }
  for (WatchEvent& e : m->events) {
    revision_ = std::max(revision_, e.kv.mod_revision);
    Change c;
    c.deleted = e.type == WatchEvent::Type::Delete;
    if (c.deleted) state_.erase(e.kv.key);
    else state_[e.kv.key] = e.kv;
    c.kv = std::move(e.kv);
    step.changes.push_back(std::move(c));
  }
  step.ok = true;
  return step;
}

}  // namespace segproxy::etcd
