#include "daemon/session/audit_waiter.hpp"

#include <algorithm>

namespace segproxy::proxy {

AuditWaiter::AuditWaiter(asio::any_io_executor ex, audit::AuditSink& sink)
    : ex_(std::move(ex)), sink_(sink), watchdog_(ex_) {
  sink_.add_listener(*this);
}

AuditWaiter::~AuditWaiter() { sink_.remove_listener(*this); }

awaitable<bool> write_durably(audit::AuditSink& sink, AuditWaiter* waiter, asio::any_io_executor ex,
                              audit::AuditRecord record) {
  if (waiter != nullptr) {
    const audit::AuditTicket t = sink.append(record);
    co_return co_await waiter->wait(t);
  }
  struct Wait {
    explicit Wait(asio::any_io_executor e) : timer(std::move(e)) {}
    asio::steady_timer timer;
    bool done = false;
    bool ok = false;
  };
  auto w = std::make_shared<Wait>(ex);
  w->timer.expires_after(sink.max_wait());
  sink.submit(std::move(record), [w, ex](bool ok) {
    asio::post(ex, [w, ok] {
      w->done = true;
      w->ok = ok;
      w->timer.cancel();
    });
  });
  error_code ec;
  co_await w->timer.async_wait(asio::redirect_error(use_awaitable, ec));
  co_return w->done && w->ok;
}

awaitable<bool> AuditWaiter::wait(audit::AuditTicket t) {
  // Its own slot: the timer lives in this frame.
  Slot slot(ex_);
  if (const std::optional<bool> now = begin(slot, t)) co_return *now;
  error_code ec;
  co_await slot.timer.async_wait(asio::redirect_error(use_awaitable, ec));
  co_return finish(slot);
}

std::optional<bool> AuditWaiter::begin(Slot& slot, audit::AuditTicket t) {
  const audit::DurableState st = sink_.state(t);
  if (st != audit::DurableState::pending) return st == audit::DurableState::durable;
  // The slot's timer never expires by itself: start_flush, interrupt or the watchdog
  // cancel it.
  slot.ticket = t;
  slot.expired = false;
  const Clock::time_point now = Clock::now();
  const Clock::time_point deadline = now + sink_.max_wait();
  waiting_.push_back(Waiting{t, &slot.timer, deadline, &slot.expired});
  arm_watchdog(std::min(deadline, now + kWatchdogTick));
  if (!flush_posted_) {
    flush_posted_ = true;
    asio::post(ex_, [this] {
      flush_posted_ = false;
      start_flush();
    });
  }
  return std::nullopt;
}

bool AuditWaiter::finish(Slot& slot) {
  const auto it = std::find_if(waiting_.begin(), waiting_.end(), [&](const Waiting& w) { return w.timer == &slot.timer; });
  if (it != waiting_.end()) waiting_.erase(it);
  const audit::DurableState st = sink_.state(slot.ticket);
  if (slot.expired && st == audit::DurableState::pending) {  // max_wait passed: a write failure
    sink_.timed_out(slot.ticket);
    return false;
  }
  return st == audit::DurableState::durable;
}

void AuditWaiter::arm_watchdog(Clock::time_point at) {
  if (at >= watchdog_at_) return;  // it wakes up earlier and re-arms for what is left
  watchdog_at_ = at;
  ++watchdog_arms_;
  watchdog_.expires_at(at);  // cancels the wait before: its completion sees the error
  watchdog_.async_wait([this](const error_code& ec) {
    if (ec) return;  // moved earlier (a new wait took over), or the waiter is going away
    watchdog_at_ = Clock::time_point::max();
    on_watchdog();
  });
}

void AuditWaiter::on_watchdog() {
  const Clock::time_point now = Clock::now();
  Clock::time_point next = Clock::time_point::max();
  for (const Waiting& w : waiting_) {
    if (*w.expired) continue;  // resumed already, not yet run
    if (w.deadline <= now) {
      *w.expired = true;
      w.timer->cancel();
    } else {
      next = std::min(next, w.deadline);
    }
  }
  if (next != Clock::time_point::max()) arm_watchdog(std::min(next, now + kWatchdogTick));
}

void AuditWaiter::interrupt(const audit::AuditTicket& t) {
  for (const Waiting& w : waiting_) {
    if (w.ticket.seq == t.seq && w.ticket.epoch == t.epoch) w.timer->cancel();
  }
}

void AuditWaiter::start_flush() {
  for (;;) {
    const Waiting* lowest = nullptr;
    const Waiting* highest = nullptr;
    for (const Waiting& w : waiting_) {
      if (sink_.state(w.ticket) != audit::DurableState::pending) {
        w.timer->cancel();  // settled: its session resumes
        continue;
      }
      if (highest == nullptr || w.ticket.seq > highest->ticket.seq) highest = &w;  // all pending: one epoch
      if (lowest == nullptr || w.ticket.epoch < lowest->ticket.epoch ||
          (w.ticket.epoch == lowest->ticket.epoch && w.ticket.seq < lowest->ticket.seq))
        lowest = &w;
    }
    // Registered (and the writer kicked), or nothing pending. Otherwise the lowest one
    // settled in between: look again (it is no longer pending, so this ends).
    if (lowest == nullptr) return;
    // One call: the listener is registered for the lowest seq, and the writer learns that
    // the thread's later records up to the highest are waited for too, so it holds no
    // group commit window for them (audit.group_delay, audit/group_window.hpp).
    if (sink_.wait_async(lowest->ticket, highest->ticket.seq, *this)) return;
  }
}

void AuditWaiter::durable_advanced() noexcept {
  if (wake_posted_.exchange(true)) return;
  try {
    asio::post(ex_, [this] {
      wake_posted_ = false;
      ++wakeups_;
      start_flush();  // resumes the settled sessions, registers the lowest still pending
    });
  } catch (...) {
    wake_posted_ = false;  // the waits then end at max_wait
  }
}

}  // namespace segproxy::proxy
