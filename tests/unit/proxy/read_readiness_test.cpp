// daemon/net/read_readiness: waiting for readability without an epoll_ctl per wait
// (issue 15). A wait after a read that emptied the socket stays pending until new data
// arrives; data that arrived before the wait started (its edge already consumed by the
// reactor) completes the wait at once; closing aborts it; and a whole
// wait-read-reply cycle over a Stream issues no epoll_ctl at all (counted by an
// interposer: Asio is header-only, so its epoll_ctl calls in this binary resolve here).
#include <gtest/gtest.h>

#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "daemon/net/read_readiness.hpp"
#include "daemon/net/stream.hpp"

namespace {
// Counts EPOLL_CTL_MOD calls of this process. Test instrumentation only: the one
// process-wide counter the interposer below can reach.
std::atomic<int>& epoll_mods() {
  static std::atomic<int> n{0};
  return n;
}
}  // namespace

extern "C" int epoll_ctl(int epfd, int op, int fd, struct epoll_event* ev) {  // NOLINT: interposes libc's
  if (op == EPOLL_CTL_MOD) epoll_mods().fetch_add(1);
  return static_cast<int>(::syscall(SYS_epoll_ctl, epfd, op, fd, ev));
}

namespace segproxy::proxy {
namespace {

using Bytes = std::vector<std::uint8_t>;

template <class Pred>
bool run_until(asio::io_context& ctx, Pred done) {
  for (int i = 0; i < 5000 && !done(); ++i) {
    ctx.restart();
    ctx.run_one_for(std::chrono::milliseconds(1));
  }
  return done();
}

// Runs ready handlers and the reactor without blocking, several rounds.
void settle(asio::io_context& ctx) {
  for (int i = 0; i < 20; ++i) {
    ctx.restart();
    ctx.poll();
  }
}

struct Pair {
  asio::io_context ctx{1};
  tcp::socket peer{ctx};
  tcp::socket mine{ctx};

  Pair() {
    tcp::acceptor acc(ctx, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    peer.connect(acc.local_endpoint());
    mine = acc.accept();
    mine.non_blocking(true);
    peer.set_option(tcp::no_delay(true));
  }
  void send(const std::string& s) { asio::write(peer, asio::buffer(s)); }
  // Reads what is there until the socket is empty (the wait's contract); returns it.
  std::string drain() {
    std::string out;
    char buf[256];
    for (;;) {
      error_code ec;
      const std::size_t n = mine.read_some(asio::buffer(buf), ec);
      out.append(buf, n);
      if (ec || n < sizeof buf) return out;
    }
  }
  // Starts a wait; `done` turns true when it completes, with its error in `ec`.
  // `drained`: the caller's "socket is empty" flag the wait clears on readiness.
  void start_wait(bool& done, error_code& ec, bool* drained = nullptr) {
    async_wait_readable(mine, reactor_of(mine.get_executor()), drained, [&, drained](const error_code& e) {
      ec = e;
      done = true;
      if (drained != nullptr) drained_at_completion = *drained;
    });
  }
  bool drained_at_completion = true;
};

// Empties the socket and starts a wait that stays pending. At most one wait may complete
// early, for an edge the reactor saw before the data was read (the documented worst
// case: the read that follows finds EAGAIN); the next one must stay pending.
bool park(Pair& p, bool& done, error_code& ec) {
  for (int i = 0; i < 2; ++i) {
    done = false;
    p.drain();
    p.start_wait(done, ec);
    settle(p.ctx);
    if (!done) return true;
  }
  return false;
}

TEST(ReadReadiness, AWaitAfterAReadThatEmptiedTheSocketStaysPendingUntilNewDataArrives) {
  Pair p;
  p.send("first");
  bool done = false;
  error_code ec;
  p.start_wait(done, ec);
  ASSERT_TRUE(run_until(p.ctx, [&] { return done; }));
  ASSERT_FALSE(ec);
  ASSERT_EQ(p.drain(), "first");

  ASSERT_TRUE(park(p, done, ec)) << "the socket is empty: nothing to wake up for";
  p.send("second");
  ASSERT_TRUE(run_until(p.ctx, [&] { return done; }));
  EXPECT_FALSE(ec);
  EXPECT_EQ(p.drain(), "second");
}

TEST(ReadReadiness, DataThatArrivedBeforeTheWaitStartedCompletesItAtOnce) {
  Pair p;
  p.send("first");
  bool done = false;
  error_code ec;
  p.start_wait(done, ec);
  ASSERT_TRUE(run_until(p.ctx, [&] { return done; }));
  ASSERT_EQ(p.drain(), "first");
  // New data arrives and the reactor sees its edge while no wait is queued.
  p.send("second");
  settle(p.ctx);
  done = false;
  p.start_wait(done, ec);
  ASSERT_TRUE(run_until(p.ctx, [&] { return done; })) << "a wait must never sleep on unread data";
  EXPECT_FALSE(ec);
  EXPECT_EQ(p.drain(), "second");
}

TEST(ReadReadiness, EndOfStreamCompletesAPendingWait) {
  Pair p;
  bool done = false;
  error_code ec;
  ASSERT_TRUE(park(p, done, ec));
  p.peer.shutdown(tcp::socket::shutdown_send);
  ASSERT_TRUE(run_until(p.ctx, [&] { return done; }));
  EXPECT_FALSE(ec);  // the read that follows reports the end of stream
  error_code rec;
  char c;
  p.mine.read_some(asio::buffer(&c, 1), rec);
  EXPECT_EQ(rec, asio::error::eof);
}

TEST(ReadReadiness, ClosingTheSocketAbortsAPendingWaitAndAClosedSocketNeverWaits) {
  Pair p;
  bool done = false;
  error_code ec;
  ASSERT_TRUE(park(p, done, ec));
  p.mine.close();
  ASSERT_TRUE(run_until(p.ctx, [&] { return done; }));
  EXPECT_EQ(ec, asio::error::operation_aborted);

  done = false;
  ec.clear();
  p.start_wait(done, ec);
  ASSERT_TRUE(run_until(p.ctx, [&] { return done; }));
  EXPECT_EQ(ec, asio::error::operation_aborted);
}

// Stream::wait_readable has no coroutine frame of its own (issue 15: memory per idle
// session), so the wait itself marks the socket "not drained" for the read that follows,
// before the waiter resumes; an aborted wait leaves the mark (the next read must not
// expect data).
TEST(ReadReadiness, AWaitThatCompletesClearsTheDrainedFlagBeforeTheWaiterRunsAndAnAbortedOneLeavesIt) {
  Pair p;
  bool done = false;
  error_code ec;
  bool drained = true;
  p.send("y");
  p.start_wait(done, ec, &drained);
  ASSERT_TRUE(run_until(p.ctx, [&] { return done; }));
  EXPECT_FALSE(ec);
  EXPECT_FALSE(p.drained_at_completion) << "the waiter must find the flag cleared when it resumes";
  EXPECT_EQ(p.drain(), "y");

  drained = true;
  done = false;
  p.start_wait(done, ec, &drained);
  settle(p.ctx);
  if (done) {  // at most one early completion for an edge already seen (park's comment)
    drained = true;
    done = false;
    p.start_wait(done, ec, &drained);
    settle(p.ctx);
  }
  ASSERT_FALSE(done);
  p.mine.close();
  ASSERT_TRUE(run_until(p.ctx, [&] { return done; }));
  EXPECT_EQ(ec, asio::error::operation_aborted);
  EXPECT_TRUE(drained) << "an aborted wait says nothing about data";
}

// The point of the operation: request/response cycles through a Stream (wait, read,
// write the answer) re-arm nothing. Asio's socket::async_wait costs one EPOLL_CTL_MOD
// per wait, which is what this counts.
TEST(ReadReadiness, RequestResponseCyclesThroughAStreamIssueNoEpollCtl) {
  asio::io_context ctx{1};
  tcp::acceptor acc(ctx, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  tcp::socket peer(ctx);
  peer.connect(acc.local_endpoint());
  peer.set_option(tcp::no_delay(true));
  Stream stream(acc.accept());
  constexpr int kCycles = 50;
  int answered = 0;
  error_code ec;
  asio::co_spawn(
      ctx,
      [&]() -> awaitable<void> {
        std::uint8_t buf[64];
        for (int i = 0; i < kCycles; ++i) {
          co_await stream.wait_readable(ec);
          if (ec) co_return;
          const std::size_t n = co_await stream.read_some(asio::buffer(buf), ec);
          if (ec) co_return;
          const auto answer = asio::buffer(buf, n);
          co_await stream.write(answer, ec);
          if (ec) co_return;
          ++answered;
        }
      },
      asio::detached);
  settle(ctx);
  const int before = epoll_mods().load();
  for (int i = 0; i < kCycles; ++i) {
    const std::string q = "query " + std::to_string(i);
    asio::write(peer, asio::buffer(q));
    ASSERT_TRUE(run_until(ctx, [&] { return answered == i + 1 || ec; })) << "cycle " << i;
    ASSERT_FALSE(ec) << ec.message();
    std::string back(q.size(), '\0');
    asio::read(peer, asio::buffer(back));
    ASSERT_EQ(back, q);
  }
  // The peer's blocking calls and the test's own sockets add none either.
  EXPECT_EQ(epoll_mods().load() - before, 0);
}

}  // namespace
}  // namespace segproxy::proxy
