#include "daemon/control/admin_server.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <unordered_map>

namespace segproxy::proxy {

using local = asio::local::stream_protocol;
namespace admin = protocols::admin;

struct AdminServer::State {
  State(asio::io_context& c, AdminServerOptions o, AdminHandler& h)
      : ctx(c), options(std::move(o)), handler(h), acceptor(c) {}

  struct Conn {
    explicit Conn(local::socket s) : socket(std::move(s)), timer(socket.get_executor()) {}
    local::socket socket;
    asio::steady_timer timer;
    unsigned deadline_generation = 0;  // a deadline fires only if not re-armed or disarmed since
  };

  asio::io_context& ctx;
  AdminServerOptions options;
  AdminHandler& handler;
  local::acceptor acceptor;
  bool started = false;
  bool stopped = false;
  dev_t socket_dev = 0;
  ino_t socket_ino = 0;
  std::uint64_t next_conn = 0;
  std::unordered_map<std::uint64_t, std::weak_ptr<Conn>> conns;
};

namespace {

using State = AdminServer::State;
using Conn = AdminServer::State::Conn;

std::string errno_text(int e) { return std::strerror(e); }

AdminPeer peer_of(local::socket& s) {
  AdminPeer p;
  struct ucred cred {};
  socklen_t len = sizeof cred;
  if (::getsockopt(s.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && len == sizeof cred) {
    p.uid = cred.uid;
    p.gid = cred.gid;
    p.pid = cred.pid;
  }
  return p;
}

// Something answers on `path`: another process serves it.
bool socket_is_live(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const bool live = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0 || errno == EAGAIN;
  ::close(fd);
  return live;
}

// Sends `line` + '\n' (appended here). By reference: the caller owns both and awaits.
awaitable<void> write_line(Conn& conn, std::string& line) {
  line.push_back('\n');
  error_code ec;
  const auto buf = asio::buffer(line);
  co_await asio::async_write(conn.socket, buf, asio::redirect_error(use_awaitable, ec));
}

void close_conn(Conn& c) {
  error_code ignored;
  ++c.deadline_generation;
  c.timer.cancel();
  c.socket.shutdown(local::socket::shutdown_both, ignored);
  c.socket.close(ignored);
}

// Closes the connection's socket when `d` passes (pending I/O then fails); cancel the
// timer to disarm. Holds the connection only weakly.
void arm_deadline(const std::shared_ptr<Conn>& conn, std::chrono::milliseconds d) {
  std::weak_ptr<Conn> weak = conn;
  const unsigned gen = ++conn->deadline_generation;
  conn->timer.expires_after(d);
  conn->timer.async_wait([weak, gen](const error_code& ec) {
    if (ec) return;
    if (auto c = weak.lock(); c && c->deadline_generation == gen) {
      error_code ignored;
      c->socket.close(ignored);
    }
  });
}

void disarm_deadline(Conn& c) {
  ++c.deadline_generation;
  c.timer.cancel();
}

// One connection: access check, then request/response lines until EOF, error, timeout
// or an over-long line.
awaitable<void> serve(std::shared_ptr<State> st, std::shared_ptr<Conn> conn, std::uint64_t conn_id) {
  const AdminPeer peer = peer_of(conn->socket);
  const auto& allowed = st->options.allowed_uids;
  const bool known = peer.uid != static_cast<uid_t>(-1);
  const bool listed = std::find(allowed.begin(), allowed.end(), peer.uid) != allowed.end();
  const bool permitted = known && (allowed.empty() ? peer.uid == ::geteuid() : listed);
  if (!permitted) {
    const std::string reason =
        known ? "uid " + std::to_string(peer.uid) + " is not in admin.allowed_uids" : "no peer credentials";
    st->handler.refused(peer, reason);
    std::string line = admin::encode_error("permission denied");
    arm_deadline(conn, st->options.read_timeout);
    co_await write_line(*conn, line);
    close_conn(*conn);
    st->conns.erase(conn_id);
    co_return;
  }

  std::string buffer;
  const std::size_t max_line = st->options.max_line;
  for (;;) {
    arm_deadline(conn, st->options.read_timeout);
    error_code ec;
    auto dyn = asio::dynamic_buffer(buffer, max_line + 1);
    const std::size_t n =
        co_await asio::async_read_until(conn->socket, dyn, '\n', asio::redirect_error(use_awaitable, ec));
    disarm_deadline(*conn);
    if (ec == asio::error::not_found) {
      std::string line = admin::encode_error("request line longer than " + std::to_string(max_line) + " bytes");
      arm_deadline(conn, st->options.read_timeout);
      co_await write_line(*conn, line);
      break;
    }
    if (ec) break;  // EOF, timeout (socket closed) or stop()
    std::string_view request(buffer.data(), n - 1);
    if (!request.empty() && request.back() == '\r') request.remove_suffix(1);
    std::string response;
    if (request.size() > max_line) {
      response = admin::encode_error("request line longer than " + std::to_string(max_line) + " bytes");
    } else if (const auto parsed = admin::parse_request(request); parsed) {
      response = st->handler.handle(*parsed.request, peer);
    } else {
      response = admin::encode_error(parsed.error);
    }
    buffer.erase(0, n);
    if (st->stopped) break;
    arm_deadline(conn, st->options.read_timeout);  // a client that does not read is dropped too
    co_await write_line(*conn, response);
    disarm_deadline(*conn);
    if (!conn->socket.is_open()) break;
  }
  close_conn(*conn);
  st->conns.erase(conn_id);
}

awaitable<void> accept_loop(std::shared_ptr<State> st) {
  for (;;) {
    error_code ec;
    local::socket socket = co_await st->acceptor.async_accept(asio::redirect_error(use_awaitable, ec));
    if (st->stopped || !st->acceptor.is_open()) co_return;
    if (ec) {
      if (ec == asio::error::operation_aborted) co_return;
      continue;  // e.g. EMFILE: keep serving
    }
    auto conn = std::make_shared<Conn>(std::move(socket));
    if (st->conns.size() >= st->options.max_connections) {
      std::string line = admin::encode_error("too many admin connections");
      arm_deadline(conn, st->options.read_timeout);
      co_await write_line(*conn, line);
      close_conn(*conn);
      continue;
    }
    const std::uint64_t id = st->next_conn++;
    st->conns.emplace(id, conn);
    asio::co_spawn(st->ctx, serve(st, conn, id), asio::detached);
  }
}

}  // namespace

AdminServer::AdminServer(asio::io_context& ctx, AdminServerOptions options, AdminHandler& handler)
    : state_(std::make_shared<State>(ctx, std::move(options), handler)) {}

AdminServer::~AdminServer() { stop(); }

bool AdminServer::start(std::string& error) {
  State& st = *state_;
  if (st.started) {
    error = "admin socket already started";
    return false;
  }
  const std::string path = st.options.socket_path.string();
  if (path.empty() || path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    const std::size_t max = sizeof(sockaddr_un{}.sun_path) - 1;
    error = "admin socket path is empty or longer than " + std::to_string(max) + " bytes";
    return false;
  }
  struct stat sb {};
  if (::lstat(path.c_str(), &sb) == 0) {
    if (!S_ISSOCK(sb.st_mode)) {
      error = "admin socket " + path + " exists and is not a socket; refusing to replace it";
      return false;
    }
    if (socket_is_live(path)) {
      error = "admin socket " + path + " is in use (another segproxy running?)";
      return false;
    }
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      error = "cannot remove stale admin socket " + path + ": " + errno_text(errno);
      return false;
    }
  } else if (errno != ENOENT) {
    error = "admin socket " + path + ": " + errno_text(errno);
    return false;
  }

  error_code ec;
  st.acceptor.open(local(), ec);
  // Linux gives the socket file the mode of the socket inode (minus umask), so the
  // file is never wider than 0600; it is checked again before listen(), and until
  // listen() nobody can connect anyway.
  if (!ec && ::fchmod(st.acceptor.native_handle(), 0600) != 0) ec.assign(errno, boost::system::system_category());
  if (!ec) st.acceptor.bind(local::endpoint(path), ec);
  if (ec) {
    error = "cannot bind admin socket " + path + ": " + ec.message();
    st.acceptor.close(ec);
    return false;
  }
  struct stat after {};
  if (::chmod(path.c_str(), 0600) != 0 || ::lstat(path.c_str(), &after) != 0 || (after.st_mode & 0777) != 0600) {
    error = "cannot make admin socket " + path + " mode 0600: " + errno_text(errno);
    st.acceptor.close(ec);
    ::unlink(path.c_str());
    return false;
  }
  st.socket_dev = after.st_dev;
  st.socket_ino = after.st_ino;
  st.acceptor.listen(static_cast<int>(std::max<std::size_t>(st.options.max_connections, 4)), ec);
  if (ec) {
    error = "cannot listen on admin socket " + path + ": " + ec.message();
    st.acceptor.close(ec);
    ::unlink(path.c_str());
    return false;
  }
  st.started = true;
  asio::co_spawn(st.ctx, accept_loop(state_), asio::detached);
  return true;
}

void AdminServer::stop() {
  State& st = *state_;
  if (!st.started || st.stopped) return;
  st.stopped = true;
  error_code ignored;
  st.acceptor.close(ignored);
  for (auto& [id, weak] : st.conns) {
    if (auto c = weak.lock()) close_conn(*c);
  }
  // Remove the file only if it is still ours (not a successor's socket).
  struct stat sb {};
  const std::string path = st.options.socket_path.string();
  if (::lstat(path.c_str(), &sb) == 0 && sb.st_dev == st.socket_dev && sb.st_ino == st.socket_ino) {
    ::unlink(path.c_str());
  }
}

std::size_t AdminServer::active_connections() const { return state_->conns.size(); }

const std::filesystem::path& AdminServer::socket_path() const { return state_->options.socket_path; }

}  // namespace segproxy::proxy
