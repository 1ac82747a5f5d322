#pragma once
// Live sessions of the process, for operations that reach across sessions: graceful
// shutdown now; kill, revoke and session listing with the admin socket. Sessions live
// on their own I/O thread, so the registry only ever posts work to that thread.
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "proxy/asio.hpp"

namespace segproxy::proxy {

class PgSession;

class SessionRegistry {
 public:
  using Action = std::function<void(PgSession&)>;

  void add(std::uint64_t id, std::weak_ptr<PgSession> session, asio::any_io_executor ex);
  void remove(std::uint64_t id);
  // Runs `action` on every live session, each on its own thread; returns how many
  // sessions it was posted to.
  std::size_t post_to_all(const Action& action);
  std::size_t size() const;

 private:
  struct Entry {
    std::weak_ptr<PgSession> session;
    asio::any_io_executor executor;
  };
  mutable std::mutex mu_;
  std::unordered_map<std::uint64_t, Entry> sessions_;
};

}  // namespace segproxy::proxy
