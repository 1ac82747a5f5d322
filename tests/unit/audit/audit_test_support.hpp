#pragma once
// Shared helpers for the audit tests: temp dirs, a manual clock, injectable I/O faults.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "audit/file_ops.hpp"
#include "audit/file_sink.hpp"
#include "audit/log_files.hpp"
#include "audit/record_codec.hpp"

namespace segproxy::audit::test {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "segproxy-audit-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& s) const { return path_ / s; }

 private:
  fs::path path_;
};

class ManualClock : public Clock {
 public:
  ManualClock() : now_(std::chrono::sys_days{std::chrono::year{2026} / 11 / 22}) {}
  std::chrono::system_clock::time_point now() const override {
    std::lock_guard lk(mu_);
    return now_;
  }
  void advance(std::chrono::system_clock::duration d) {
    std::lock_guard lk(mu_);
    now_ += d;
  }

 private:
  mutable std::mutex mu_;
  std::chrono::system_clock::time_point now_;
};

// PosixFileOps with switchable failures of write / fdatasync (errno = fail_errno).
class FaultyFileOps : public PosixFileOps {
 public:
  std::atomic<int> write_errno{0};
  std::atomic<int> sync_errno{0};
  std::atomic<int> writes{0};
  ssize_t write(int fd, const void* data, std::size_t n) override {
    ++writes;
    if (int e = write_errno.load()) {
      // Simulate a partial write first, as a full disk does.
      if (n > 1) PosixFileOps::write(fd, data, n / 2);
      errno = e;
      return -1;
    }
    return PosixFileOps::write(fd, data, n);
  }
  int fdatasync(int fd) override {
    if (int e = sync_errno.load()) {
      errno = e;
      return -1;
    }
    return PosixFileOps::fdatasync(fd);
  }
};

inline std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void spit(const fs::path& p, const std::string& data) {
  if (fs::exists(p)) fs::permissions(p, fs::perms::owner_write, fs::perm_options::add);
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << data;
}

inline std::vector<std::string> lines_of(const std::string& data) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < data.size()) {
    std::size_t nl = data.find('\n', pos);
    if (nl == std::string::npos) nl = data.size();
    out.push_back(data.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return out;
}

inline std::string join_lines(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += l + "\n";
  return s;
}

inline std::vector<fs::path> log_paths(const fs::path& dir) {
  std::string err;
  std::vector<fs::path> out;
  for (const auto& f : list_log_files(dir, err)) out.push_back(f.path);
  return out;
}

// Every record of the log directory, decoded (a line that does not decode fails the test).
inline std::vector<AuditRecord> all_records(const fs::path& dir) {
  std::vector<AuditRecord> out;
  for (const auto& p : log_paths(dir)) {
    std::string data = slurp(p);
    data.resize(without_zero_tail(data));  // the live segment's preallocated zeros
    for (const auto& l : lines_of(data)) {
      std::string err;
      auto r = decode_record(l, err);
      EXPECT_TRUE(r) << err;
      if (r) out.push_back(*r);
    }
  }
  return out;
}

inline AuditRecord statement_record(int i, std::string segment = "billing") {
  AuditRecord r;
  r.event = "statement.decision";
  r.session_id = "s" + std::to_string(i % 7);
  r.listener = "pg";
  r.protocol = "postgresql";
  r.client_addr = "10.0.0.1:5" + std::to_string(1000 + i % 100);
  r.spiffe_id = "spiffe://example.org/ns/billing/api";
  r.cn = "api";
  r.segment = std::move(segment);
  r.database = "shop";
  r.backend_user = "billing_ro";
  r.statement = "select * from orders where id = " + std::to_string(i);
  r.fingerprint = "fp" + std::to_string(i % 3);
  r.tables = {{"public.orders", "select"}};
  r.decision = "allow";
  r.rule_id = "r1";
  return r;
}

inline AuditConfig base_config(const fs::path& dir) {
  AuditConfig c;
  c.dir = dir;
  c.instance = "proxy-a";
  c.retry_every = std::chrono::milliseconds(0);
  return c;
}

}  // namespace segproxy::audit::test
