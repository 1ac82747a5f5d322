#pragma once
// A real AdminServer on a Unix socket in a temporary directory, run by its own I/O
// thread, with a recording fake AdminHandler; and a blocking line client.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "protocols/admin/admin_protocol.hpp"
#include "daemon/control/admin_server.hpp"

namespace segproxy::proxy::admin_testing {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    // Short base: sun_path holds 108 bytes.
    std::string tmpl = "/tmp/sp-admin-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  fs::path operator/(const std::string& s) const { return path_ / s; }

 private:
  fs::path path_;
};

class FakeHandler : public AdminHandler {
 public:
  // Default answer: a fixed status for status, an error for everything else.
  std::function<std::string(const protocols::admin::Request&)> answer = [](const protocols::admin::Request& r) {
    if (std::holds_alternative<protocols::admin::StatusRequest>(r)) {
      protocols::admin::StatusInfo s;
      s.version = "test";
      s.sessions_active = 3;
      s.sessions_by_segment = {{"billing", 3}};
      return protocols::admin::encode_response(s);
    }
    return protocols::admin::encode_error("not implemented in the fake");
  };

  std::string handle(const protocols::admin::Request& request, const AdminPeer& peer) override {
    const std::lock_guard lock(mu_);
    requests_.push_back(request);
    peers_.push_back(peer);
    return answer(request);
  }
  void refused(const AdminPeer& peer, std::string_view reason) override {
    const std::lock_guard lock(mu_);
    refusals_.emplace_back(peer, std::string(reason));
  }

  std::vector<protocols::admin::Request> requests() const {
    const std::lock_guard lock(mu_);
    return requests_;
  }
  std::vector<AdminPeer> peers() const {
    const std::lock_guard lock(mu_);
    return peers_;
  }
  std::vector<std::pair<AdminPeer, std::string>> refusals() const {
    const std::lock_guard lock(mu_);
    return refusals_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<protocols::admin::Request> requests_;
  std::vector<AdminPeer> peers_;
  std::vector<std::pair<AdminPeer, std::string>> refusals_;
};

// Starts the server in the constructor (check started()), stops it on the I/O thread in
// the destructor.
class RunningServer {
 public:
  RunningServer(AdminServerOptions options, FakeHandler& handler)
      : server_(std::make_unique<AdminServer>(ctx_, std::move(options), handler)) {
    started_ = server_->start(error_);
    if (started_) thread_ = std::thread([this] { ctx_.run(); });
  }
  ~RunningServer() { stop(); }
  void stop() {
    if (!thread_.joinable()) return;
    asio::post(ctx_, [this] { server_->stop(); });
    thread_.join();
  }
  bool started() const { return started_; }
  const std::string& error() const { return error_; }

 private:
  asio::io_context ctx_;
  std::unique_ptr<AdminServer> server_;
  std::thread thread_;
  bool started_ = false;
  std::string error_;
};

// Blocking client with a 5 s receive timeout.
class LineClient {
 public:
  explicit LineClient(const fs::path& path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    connected_ = ::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~LineClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  LineClient(const LineClient&) = delete;
  LineClient& operator=(const LineClient&) = delete;

  bool connected() const { return connected_; }
  bool send(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  // One line without '\n'; nullopt on EOF / error / timeout.
  std::optional<std::string> read_line() {
    for (;;) {
      const auto nl = buf_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return line;
      }
      char tmp[4096];
      const ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n <= 0) return std::nullopt;
      buf_.append(tmp, static_cast<std::size_t>(n));
    }
  }
  // True when the server closed the connection (EOF or reset) within the timeout.
  bool closed_by_peer() {
    char tmp[4096];
    for (;;) {
      const ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n == 0) return true;
      if (n < 0) return errno == ECONNRESET;
    }
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  std::string buf_;
};

}  // namespace segproxy::proxy::admin_testing
