#pragma once
// The fixtures of the write-ahead audit tests in a real PostgreSQL session
// (pg_wal_test.cpp, pg_wal_disk_full_test.cpp): a proxy with the orders policy over two
// fresh tables and its audit log in the test directory; WalDiskFull puts the log on a
// small tmpfs the test fills up.
#include <gtest/gtest.h>

#include <string>

#include "support/audit_failure.hpp"
#include "support/audit_support.hpp"

namespace segproxy::it {

using audit::AuditRecord;

class WalTest : public PolicyTest {
 protected:
  void SetUp() override {
    PolicyTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    audit_dir_ = dir_ + "/audit";
    probe_ = unique_name("it_wal_probe");
    pii_ = unique_name("it_wal_pii");
    ASSERT_NO_FATAL_FAILURE(CreateTable(probe_, 0));
    ASSERT_NO_FATAL_FAILURE(CreateTable(pii_, 0));
  }

  void Start(const std::string& audit_extra) {
    ProxyConfigOptions opts;
    opts.billing_policy = orders_policy(probe_, pii_);
    opts.extra_yaml = audit_yaml(audit_dir_, audit_extra);
    ASSERT_NO_FATAL_FAILURE(StartProxy(opts));
  }

  std::string Insert(long id, const char* kind) const {
    return "INSERT INTO " + probe_ + " VALUES (" + std::to_string(id) + ", '" + kind + "')";
  }

  std::string audit_dir_;
  std::string probe_;
  std::string pii_;
};

// Records whose (full) statement text is `text`.
inline std::size_t count_statement(const AuditLog& log, const std::string& text) {
  return records_where(log, [&](const AuditRecord& r) {
           return r.event == "statement.decision" && r.decision == "allow" && r.statement == text;
         }).size();
}

// The audit directory lives on a small tmpfs the test fills up (ENOSPC).
class WalDiskFull : public WalTest {
 protected:
  void SetUp() override {
    WalTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    std::string why;
    if (!disk_.mount(dir_ + "/walfs", &why)) {
      GTEST_SKIP() << "cannot mount a tmpfs (" << why << "): no way to make the audit log unwritable";
    }
    audit_dir_ = disk_.path() + "/log";
  }
  void TearDown() override {
    proxy_.stop();
    disk_.unmount();
    WalTest::TearDown();
  }
  void Fill() { ASSERT_GT(disk_.fill(), 0u); }
  SmallTmpfs disk_;
};

// True once the proxy's log has a line naming `event`.
inline bool proxy_logged(const ProxyProcess& proxy, const std::string& event) {
  return read_file(proxy.log_path()).find(event) != std::string::npos;
}

}  // namespace segproxy::it
