#pragma once
// A joinable thread with an explicit stack size (std::thread takes the platform default:
// 8 MiB with `ulimit -s 8192`, but 2 MiB from glibc when the limit is unlimited). The I/O
// threads classify SQL on their own stack, and libpg_query needs stack in proportion to
// the nesting limits.max_parse_depth allows (authz/sql/statement_limits.hpp), so they
// are started with enough for the largest configurable depth; pages are only committed
// when touched.
#include <pthread.h>

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

namespace segproxy::proxy {

class StackThread {
 public:
  StackThread(std::size_t stack_bytes, std::function<void()> body) : body_(std::make_unique<std::function<void()>>(std::move(body))) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    int rc = pthread_attr_setstacksize(&attr, stack_bytes);
    if (rc == 0) rc = pthread_create(&thread_, &attr, &StackThread::run, body_.get());
    pthread_attr_destroy(&attr);
    if (rc != 0) throw std::runtime_error("cannot start a thread with a " + std::to_string(stack_bytes) + "-byte stack");
    joinable_ = true;
  }
  StackThread(StackThread&& o) noexcept : body_(std::move(o.body_)), thread_(o.thread_), joinable_(o.joinable_) {
    o.joinable_ = false;
  }
  StackThread(const StackThread&) = delete;
  StackThread& operator=(const StackThread&) = delete;
  StackThread& operator=(StackThread&&) = delete;
  ~StackThread() { join(); }

  void join() {
    if (joinable_) pthread_join(thread_, nullptr);
    joinable_ = false;
  }

 private:
  static void* run(void* p) {
    (*static_cast<std::function<void()>*>(p))();
    return nullptr;
  }
  std::unique_ptr<std::function<void()>> body_;
  pthread_t thread_{};
  bool joinable_ = false;
};

}  // namespace segproxy::proxy
