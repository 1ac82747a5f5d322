#pragma once
// The few file-system calls the writer makes, behind an interface so tests can inject
// ENOSPC / EIO without a real full disk. Calls follow POSIX: -1 and errno on failure.
#include <sys/types.h>

#include <chrono>
#include <string>

namespace segproxy::audit {

class FileOps {
 public:
  virtual ~FileOps() = default;
  virtual int open(const std::string& path, int flags, mode_t mode) = 0;
  virtual ssize_t write(int fd, const void* data, std::size_t n) = 0;
  virtual ssize_t pwrite(int fd, const void* data, std::size_t n, off_t offset) = 0;
  virtual int fdatasync(int fd) = 0;
  virtual int fsync(int fd) = 0;
  virtual int ftruncate(int fd, off_t size) = 0;
  virtual int close(int fd) = 0;
  virtual int chmod(const std::string& path, mode_t mode) = 0;
};

class PosixFileOps : public FileOps {
 public:
  int open(const std::string& path, int flags, mode_t mode) override;
  ssize_t write(int fd, const void* data, std::size_t n) override;
  ssize_t pwrite(int fd, const void* data, std::size_t n, off_t offset) override;
  int fdatasync(int fd) override;
  int fsync(int fd) override;
  int ftruncate(int fd, off_t size) override;
  int close(int fd) override;
  int chmod(const std::string& path, mode_t mode) override;
};

// Wall time for `ts`, rotation and checkpoint cadence; injected so tests control it.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::system_clock::time_point now() const = 0;
};

class SystemClock : public Clock {
 public:
  std::chrono::system_clock::time_point now() const override {
    return std::chrono::system_clock::now();
  }
};

}  // namespace segproxy::audit
