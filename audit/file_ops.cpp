#include "audit/file_ops.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace segproxy::audit {

int PosixFileOps::open(const std::string& path, int flags, mode_t mode) {
  return ::open(path.c_str(), flags | O_CLOEXEC, mode);
}
ssize_t PosixFileOps::write(int fd, const void* data, std::size_t n) {
  return ::write(fd, data, n);
}
ssize_t PosixFileOps::pwrite(int fd, const void* data, std::size_t n, off_t offset) {
  return ::pwrite(fd, data, n, offset);
}
int PosixFileOps::fdatasync(int fd) { return ::fdatasync(fd); }
int PosixFileOps::fsync(int fd) { return ::fsync(fd); }
int PosixFileOps::ftruncate(int fd, off_t size) { return ::ftruncate(fd, size); }
int PosixFileOps::close(int fd) { return ::close(fd); }
int PosixFileOps::chmod(const std::string& path, mode_t mode) {
  return ::chmod(path.c_str(), mode);
}

}  // namespace segproxy::audit
