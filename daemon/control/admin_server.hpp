#pragma once
// The admin socket (docs/admin.md): a Unix domain stream socket, mode 0600, speaking
// protocols/admin line-delimited JSON. The server owns transport and access control;
// what each command does is the AdminHandler's business.
//
// Access: every connection's peer credentials are read with SO_PEERCRED; a uid not in
// allowed_uids gets one line {"ok":false,"error":"permission denied"}, the handler's
// refused() is called (to audit it) and the connection is closed.
// Caps: request line max_line bytes (longer: an error line, then close), read_timeout
// for each request line (idle connections are closed) and for writing each answer (a
// client that does not read is dropped), max_connections at once (more: an error line,
// then close). A malformed request gets {"ok":false,"error":...} and the
// connection stays open; requests on one connection are answered in order.
//
// Threads: everything runs on the io_context given to the constructor, which must be
// run by one thread (or the server's calls serialised on it). handle() runs on that
// thread and may block briefly (a revocation's fsync). start() before running the
// context; stop() on the context's thread (e.g. from a coroutine on it) or while it is
// not running. The handler must outlive the io_context's processing of this server's
// coroutines (stop(), then let the context finish or destroy it).
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/admin/admin_protocol.hpp"
#include "daemon/net/asio.hpp"

namespace segproxy::proxy {

struct AdminPeer {
  uid_t uid = static_cast<uid_t>(-1);  // -1: credentials unavailable
  gid_t gid = static_cast<gid_t>(-1);
  pid_t pid = 0;
};

class AdminHandler {
 public:
  virtual ~AdminHandler() = default;
  // Returns the encoded response line (protocols::admin encoders), without '\n'.
  virtual std::string handle(const protocols::admin::Request& request, const AdminPeer& peer) = 0;
  // A connection was refused (uid not allowed, or no peer credentials).
  virtual void refused(const AdminPeer& peer, std::string_view reason) = 0;
};

struct AdminServerOptions {
  std::filesystem::path socket_path;
  std::vector<uid_t> allowed_uids;  // empty: only the proxy's own effective uid
  std::size_t max_connections = 16;
  std::chrono::milliseconds read_timeout{30'000};  // also bounds each response write
  std::size_t max_line = protocols::admin::kMaxRequestLine;
};

class AdminServer {
 public:
  AdminServer(asio::io_context& ctx, AdminServerOptions options, AdminHandler& handler);
  ~AdminServer();  // stop()
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Creates the socket (0600 from the start: the mode is set before bind and checked
  // before listen) and starts accepting. A leftover socket file is removed only when it
  // is a socket nobody answers on; a live one (another proxy) or a non-socket file at
  // the path is an error. Returns false with a message.
  bool start(std::string& error);
  // Closes the listener and every connection, removes the socket file (if it is still
  // the one this server created). Idempotent.
  void stop();

  std::size_t active_connections() const;
  const std::filesystem::path& socket_path() const;

  struct State;  // shared with the connection coroutines

 private:
  std::shared_ptr<State> state_;
};

}  // namespace segproxy::proxy
