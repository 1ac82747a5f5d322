#pragma once
// Making the audit log fail for real, for the write-ahead failure tests (issue 14,
// docs/audit.md "The guarantee" 4 and 5), with no mock anywhere:
//  - SmallTmpfs: the audit directory on a 64 KiB tmpfs that the test fills to ENOSPC (a
//    real write failure, which permissions cannot give a test running as root);
//  - ThreadStop / audit_writer_tid: the proxy's audit writer thread stopped with ptrace,
//    so records stay pending while the proxy's I/O threads run on.
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

namespace segproxy::it {

class SmallTmpfs {
 public:
  SmallTmpfs() = default;
  SmallTmpfs(const SmallTmpfs&) = delete;
  SmallTmpfs& operator=(const SmallTmpfs&) = delete;
  ~SmallTmpfs() { unmount(); }

  // Creates `mount_point` and mounts a 64 KiB tmpfs there. false (and *why): the test
  // cannot make the log unwritable (no CAP_SYS_ADMIN) and should skip.
  bool mount(const std::string& mount_point, std::string* why) {
    std::error_code ec;
    std::filesystem::create_directories(mount_point, ec);
    if (::mount("tmpfs", mount_point.c_str(), "tmpfs", 0, "size=64k,mode=0700") != 0) {
      *why = std::strerror(errno);
      return false;
    }
    path_ = mount_point;
    return true;
  }
  // Lazy unmount (the proxy may still hold files open); idempotent.
  void unmount() {
    if (!path_.empty()) ::umount2(path_.c_str(), MNT_DETACH);
    path_.clear();
  }
  const std::string& path() const { return path_; }

  // Writes `name` one byte at a time until the file system refuses (ENOSPC): every page
  // is then taken. Returns the bytes written.
  std::size_t fill(const std::string& name = "filler") const {
    std::FILE* f = std::fopen((path_ + "/" + name).c_str(), "a");
    if (f == nullptr) return 0;
    std::setvbuf(f, nullptr, _IONBF, 0);
    std::size_t n = 0;
    while (std::fputc('f', f) != EOF) ++n;
    std::fclose(f);
    return n;
  }
  // Space again.
  void release(const std::string& name = "filler") const {
    std::error_code ec;
    std::filesystem::remove(path_ + "/" + name, ec);
  }

 private:
  std::string path_;
};

// Stops one thread of another process (ptrace) until destroyed.
class ThreadStop {
 public:
  explicit ThreadStop(pid_t tid) : tid_(tid) {
    if (::ptrace(PTRACE_SEIZE, tid_, nullptr, nullptr) != 0) return;
    if (::ptrace(PTRACE_INTERRUPT, tid_, nullptr, nullptr) != 0) return;
    int status = 0;
    stopped_ = ::waitpid(tid_, &status, __WALL) == tid_;
  }
  ~ThreadStop() { ::ptrace(PTRACE_DETACH, tid_, nullptr, nullptr); }
  ThreadStop(const ThreadStop&) = delete;
  ThreadStop& operator=(const ThreadStop&) = delete;
  bool stopped() const { return stopped_; }

 private:
  pid_t tid_;
  bool stopped_ = false;
};

// The thread id of the proxy's audit writer ("segproxy-audit"); 0 when there is none.
inline pid_t audit_writer_tid(pid_t pid) {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::ifstream comm(e.path() / "comm");
    std::string name;
    std::getline(comm, name);
    if (name == "segproxy-audit") return static_cast<pid_t>(std::stol(e.path().filename().string()));
  }
  return 0;
}

}  // namespace segproxy::it
