#pragma once
// A session's deadlines (handshake / startup, idle, access window, statement_timeout,
// backend stall) on ONE timer (issue 15: memory per idle session; each Watchdog had its
// own steady_timer, ~160 bytes apiece).
//
// Each Deadline calls its callback once when its armed deadline passes; arm() replaces
// the deadline, disarm() cancels it. The shared timer waits for the earliest deadline
// only; a deadline moved later (the idle deadline after every message) does not touch
// the timer: when it fires it finds nothing due and waits again for the earliest. So a
// message costs no timer cancel and no new wait.
//
// Callbacks run on the owner's executor, may arm or disarm any deadline of the set, and
// must not destroy the set. The owner keeps the DeadlineSet and its Deadlines as
// members, the set declared first. A wait's completion touches the set only through
// `alive_`, which the destructor clears: a pending wait completes with
// operation_aborted when the set is destroyed, but a completion the timer had already
// queued (it expired in the same reactor round in which the owner ended, e.g. a
// handshake deadline and the client's close) still runs with success after the set is
// gone, and must find nothing to touch (review finding, issue 15 follow-up).
#include <array>
#include <chrono>
#include <cstddef>
#include <memory>
#include <type_traits>

#include "daemon/net/asio.hpp"

namespace segproxy::proxy {

class Deadline;

class DeadlineSet {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::size_t kMaxDeadlines = 8;

  explicit DeadlineSet(const asio::any_io_executor& ex)
      : timer_(ex), alive_(std::make_shared<DeadlineSet*>(this)) {}
  ~DeadlineSet() { *alive_ = nullptr; }
  DeadlineSet(const DeadlineSet&) = delete;
  DeadlineSet& operator=(const DeadlineSet&) = delete;

 private:
  friend class Deadline;
  void add(Deadline* d);
  void remove(Deadline* d);
  // A deadline now expires at `at`: the timer is moved only when that is earlier than
  // the wait it has.
  void armed(Clock::time_point at);
  void disarmed();
  void wait_for(Clock::time_point at);
  void fire();

  asio::steady_timer timer_;
  std::array<Deadline*, kMaxDeadlines> members_{};
  std::size_t count_ = 0;
  Clock::time_point waiting_for_ = Clock::time_point::max();  // max: no wait pending
  unsigned generation_ = 0;  // of the pending wait; a stale completion does nothing
  // The set while it exists, null after: what a queued completion looks at first (one
  // small allocation per set; copying it into a wait allocates nothing).
  std::shared_ptr<DeadlineSet*> alive_;
};

class Deadline {
 public:
  // `on_expire(*owner)` runs when the deadline passes. The callback is a captureless
  // lambda (or a function) taking the owner: the deadline keeps a plain function pointer
  // and the owner pointer, not a std::function (issue 15: 16 bytes less per deadline,
  // five per session), e.g. `Deadline idle{set, this, [](Session& s) { s.on_idle(); }}`.
  template <class Owner, class F>
    requires std::is_empty_v<F> && std::is_default_constructible_v<F> && std::is_invocable_v<const F&, Owner&>
  Deadline(DeadlineSet& set, Owner* owner, F)
      : Deadline(set, owner, [](void* o) { F{}(*static_cast<Owner*>(o)); }) {}
  ~Deadline();
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

  void arm(std::chrono::milliseconds d) {
    if (d.count() <= 0) {
      disarm();
      return;
    }
    at_ = DeadlineSet::Clock::now() + d;
    set_.armed(at_);
  }
  // The callback will not run for the deadline armed before (the timer may still wake
  // up for it and find nothing due, unless no deadline of the set is armed any more:
  // then the timer's wait is cancelled, so a closed session leaves no wait behind).
  void disarm() {
    at_ = DeadlineSet::Clock::time_point::max();
    set_.disarmed();
  }
  bool expired() const { return expired_; }

 private:
  friend class DeadlineSet;
  using Callback = void (*)(void* owner);
  Deadline(DeadlineSet& set, void* owner, Callback on_expire);

  DeadlineSet& set_;
  DeadlineSet::Clock::time_point at_ = DeadlineSet::Clock::time_point::max();
  void* owner_;
  Callback on_expire_;
  bool expired_ = false;
};

}  // namespace segproxy::proxy
