#pragma once
// Read buffers lent to sessions only while a message is in flight (issue 15): an idle
// session holds none. One pool per io_context (an Asio service: no global), and a
// session stays on its context's one thread, so the pool needs no lock.
#include <cstddef>
#include <utility>
#include <vector>

#include "daemon/net/asio.hpp"
#include "protocols/common/byte_writer.hpp"

namespace segproxy::proxy {

class BufferPool : public asio::execution_context::service {
 public:
  using key_type = BufferPool;  // Asio keys the service by this type (typeid)

  // Buffers above this size are freed when given back; at most kMaxKept are kept.
  static constexpr std::size_t kMaxKeptSize = 64 * 1024;
  static constexpr std::size_t kMaxKept = 64;

  explicit BufferPool(asio::execution_context& ctx) : asio::execution_context::service(ctx) {}

  // A buffer whose size() is at least `size` (its bytes are not cleared).
  protocols::Bytes take(std::size_t size) {
    protocols::Bytes b;
    if (!free_.empty()) {
      b = std::move(free_.back());
      free_.pop_back();
    }
    if (b.size() < size) b.resize(size);
    return b;
  }
  // Takes `b` back (it is left empty); sizes above kMaxKeptSize and buffers beyond
  // kMaxKept are freed.
  void give_back(protocols::Bytes& b) {
    if (!closed_ && b.capacity() > 0 && b.capacity() <= kMaxKeptSize && free_.size() < kMaxKept) {
      b.resize(b.capacity());
      free_.push_back(std::move(b));
    }
    protocols::Bytes().swap(b);
  }
  std::size_t kept() const { return free_.size(); }

  // The pool of the context `ex` runs on.
  template <class Executor>
  static BufferPool& of(const Executor& ex) {
    return asio::use_service<BufferPool>(asio::query(ex, asio::execution::context));
  }

 private:
  void shutdown() override {
    closed_ = true;
    std::vector<protocols::Bytes>().swap(free_);
  }

  std::vector<protocols::Bytes> free_;
  bool closed_ = false;
};

// Holds a buffer from the pool for one scope (a response in flight) and gives it back.
class BufferLease {
 public:
  BufferLease(BufferPool& pool, protocols::Bytes& buf, std::size_t size) : pool_(pool), buf_(buf) {
    if (buf_.size() < size) buf_ = pool_.take(size);
  }
  ~BufferLease() { pool_.give_back(buf_); }
  BufferLease(const BufferLease&) = delete;
  BufferLease& operator=(const BufferLease&) = delete;

 private:
  BufferPool& pool_;
  protocols::Bytes& buf_;
};

}  // namespace segproxy::proxy
