#include "daemon/session/session_deadlines.hpp"

#include <algorithm>
#include <stdexcept>

namespace segproxy::proxy {

Deadline::Deadline(DeadlineSet& set, void* owner, Callback on_expire)
    : set_(set), owner_(owner), on_expire_(on_expire) {
  set_.add(this);
}

Deadline::~Deadline() { set_.remove(this); }

void DeadlineSet::add(Deadline* d) {
  if (count_ == members_.size()) throw std::logic_error("DeadlineSet: more than kMaxDeadlines deadlines");
  members_[count_++] = d;
}

void DeadlineSet::remove(Deadline* d) {
  const auto end = members_.begin() + static_cast<std::ptrdiff_t>(count_);
  const auto it = std::find(members_.begin(), end, d);
  if (it == end) return;
  *it = members_[--count_];
  members_[count_] = nullptr;
}

void DeadlineSet::armed(Clock::time_point at) {
  if (at < waiting_for_) wait_for(at);
}

void DeadlineSet::disarmed() {
  if (waiting_for_ == Clock::time_point::max()) return;
  for (std::size_t i = 0; i < count_; ++i) {
    if (members_[i]->at_ != Clock::time_point::max()) return;
  }
  waiting_for_ = Clock::time_point::max();
  ++generation_;
  timer_.cancel();
}

void DeadlineSet::wait_for(Clock::time_point at) {
  waiting_for_ = at;
  ++generation_;
  timer_.expires_at(at);  // cancels the wait before, whose completion then does nothing
  timer_.async_wait([alive = alive_, gen = generation_](const error_code& ec) {
    DeadlineSet* set = *alive;  // null: the set is gone (a completion queued before it ended)
    if (ec || set == nullptr || gen != set->generation_) return;  // cancelled, gone or replaced
    set->fire();
  });
}

void DeadlineSet::fire() {
  waiting_for_ = Clock::time_point::max();
  const auto now = Clock::now();
  // Due deadlines fire in deadline order, also when a late wake-up finds several due. A
  // callback may arm or disarm any deadline, this one too; a deadline armed again is
  // later than `now`, so it waits for the next round.
  for (;;) {
    Deadline* due = nullptr;
    for (std::size_t i = 0; i < count_; ++i) {
      Deadline* d = members_[i];
      if (d->at_ <= now && (due == nullptr || d->at_ < due->at_)) due = d;
    }
    if (due == nullptr) break;
    due->at_ = Clock::time_point::max();
    due->expired_ = true;
    due->on_expire_(due->owner_);
  }
  Clock::time_point next = Clock::time_point::max();
  for (std::size_t i = 0; i < count_; ++i) next = std::min(next, members_[i]->at_);
  if (next != Clock::time_point::max() && next < waiting_for_) wait_for(next);
}

}  // namespace segproxy::proxy
