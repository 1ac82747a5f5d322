#include "support/process.hpp"
#include "support/ubsan_report.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

extern char** environ;

namespace segproxy::it {
namespace {

using Clock = std::chrono::steady_clock;

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "wait status " + std::to_string(status);
}

int status_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

std::vector<char*> c_strings(std::vector<std::string>& v) {
  std::vector<char*> out;
  out.reserve(v.size() + 1);
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

}  // namespace

std::string ProcResult::describe() const {
  std::ostringstream os;
  os << "exit code " << exit_code << (timed_out ? " (timed out)" : "") << "\n--- stdout ---\n"
     << out << "\n--- stderr ---\n"
     << err;
  return os.str();
}

ProcResult run_process(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                       const std::vector<std::pair<std::string, std::string>>& env) {
  ProcResult r;
  std::vector<std::string> args = argv;
  std::vector<std::string> envs;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "PG", 2) == 0) continue;
    envs.emplace_back(*e);
  }
  for (const auto& [k, v] : env) envs.push_back(k + "=" + v);
  std::vector<char*> c_args = c_strings(args);
  std::vector<char*> c_envs = c_strings(envs);

  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    r.err = std::string("pipe: ") + std::strerror(errno);
    return r;
  }
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    r.err = std::string("pipe: ") + std::strerror(errno);
    return r;
  }
  const pid_t pid = ::fork();
  if (pid < 0) {
    r.err = std::string("fork: ") + std::strerror(errno);
    return r;
  }
  if (pid == 0) {
    // Never outlive the test binary (e.g. when ctest kills it on timeout).
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::dup2(out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    ::execvpe(c_args[0], c_args.data(), c_envs.data());
    const char msg[] = "exec failed\n";
    (void)!::write(2, msg, sizeof msg - 1);
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  const auto deadline = Clock::now() + timeout;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&r.out, &r.err};
  int open_fds = 2;
  while (open_fds > 0) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      r.timed_out = true;
      ::kill(pid, SIGKILL);
      break;
    }
    const int n = ::poll(fds, 2, static_cast<int>(left));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buf[65536];
      const ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
      if (got > 0) {
        sinks[i]->append(buf, static_cast<std::size_t>(got));
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& f : fds) {
    if (f.fd >= 0) ::close(f.fd);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.exit_code = status_code(status);
  if (const std::string report = ubsan_report_in(r.err); !report.empty()) {
    ADD_FAILURE() << argv.front() << " reported undefined behaviour (UBSan):\n" << report;
  }
  return r;
}

std::string ubsan_report_in(const std::string& text) {
  // file:line:col: runtime error: ... at the start of a line (a log line that merely
  // quotes "runtime error" does not match).
  static const std::regex report(R"((^|\n)[^\s:]+:[0-9]+:[0-9]+: runtime error: )");
  std::smatch m;
  if (!std::regex_search(text, m, report)) return "";
  const std::size_t at = static_cast<std::size_t>(m.position(0)) + m.length(1);
  return text.substr(at, 4096);
}

std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  std::uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    socklen_t len = sizeof addr;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port = ntohs(addr.sin_port);
    }
  }
  ::close(fd);
  return port;
}

bool port_accepts(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

bool ProxyProcess::start(const std::string& bin, const std::vector<std::string>& args,
                         const std::string& log_path, std::uint16_t port,
                         std::chrono::milliseconds timeout, std::string* error) {
  stop();
  log_path_ = log_path;
  exit_description_.clear();
  std::vector<std::string> argv{bin};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> c_args = c_strings(argv);
  const int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    *error = "cannot open " + log_path + ": " + std::strerror(errno);
    return false;
  }
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log_fd);
    *error = std::string("fork: ") + std::strerror(errno);
    return false;
  }
  if (pid == 0) {
    // Never outlive the test binary (e.g. when ctest kills it on timeout).
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    ::execv(c_args[0], c_args.data());
    const char msg[] = "segproxy integration harness: exec failed\n";
    (void)!::write(2, msg, sizeof msg - 1);
    ::_exit(127);
  }
  ::close(log_fd);
  pid_ = pid;
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (!running()) {
      *error = "proxy " + exit_description_ + " before accepting on port " +
               std::to_string(port);
      return false;
    }
    if (port_accepts(port)) {
      // If our child failed to bind because a parallel test took the port, the accept
      // came from someone else: make sure our proxy is still alive.
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (running()) return true;
      continue;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  *error = "proxy did not accept on 127.0.0.1:" + std::to_string(port) + " within " +
           std::to_string(timeout.count()) + " ms";
  stop();
  return false;
}

bool ProxyProcess::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == 0) return true;
  if (r == pid_) exit_description_ = describe_status(status);
  pid_ = -1;
  return false;
}

namespace {

// A UBSan report in the daemon's log (the whole file: a report of an earlier process on
// the same log already failed the test) fails the running test.
void fail_on_ubsan_report(const std::string& log_path) {
  if (log_path.empty()) return;
  const std::string report = ubsan_report_in(read_file(log_path));
  if (!report.empty()) {
    ADD_FAILURE() << "segproxy reported undefined behaviour (UBSan; log " << log_path << "):\n" << report;
  }
}

}  // namespace

std::string ProxyProcess::stop() {
  if (pid_ <= 0) {
    fail_on_ubsan_report(log_path_);
    return exit_description_;
  }
  ::kill(pid_, SIGTERM);
  const auto deadline = Clock::now() + kStopGrace;
  while (Clock::now() < deadline) {
    if (!running()) {
      fail_on_ubsan_report(log_path_);
      return exit_description_;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  exit_description_ = "did not exit within " + std::to_string(kStopGrace.count()) + " s of SIGTERM; " + describe_status(status);
  pid_ = -1;
  fail_on_ubsan_report(log_path_);
  return exit_description_;
}

std::string ProxyProcess::log() const { return log_path_.empty() ? "" : read_file(log_path_); }

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

void write_file(const std::string& path, const std::string& content, unsigned mode) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
  }
  ::chmod(path.c_str(), mode);
}

std::string make_temp_dir(const std::string& parent, const std::string& prefix) {
  std::error_code ec;
  std::filesystem::create_directories(parent, ec);
  std::string tmpl = parent + "/" + prefix + "XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) return {};
  return tmpl;
}

void remove_tree(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

std::string unique_name(const std::string& prefix) {
  static std::atomic<unsigned> counter{0};
  const auto now = std::chrono::duration_cast<std::chrono::microseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  return prefix + "_" + std::to_string(::getpid()) + "_" + std::to_string(now % 100000000) +
         "_" + std::to_string(counter++);
}

}  // namespace segproxy::it
