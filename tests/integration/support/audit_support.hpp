#pragma once
// Helpers for the audit-log integration tests (pg_audit_test.cpp, pg_audit_pgbench_test.cpp):
// the `audit:` YAML section, reading (and verifying) a log directory with the audit
// library's own reader, and the certificate fingerprint the proxy records.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "audit/record.hpp"
#include "audit/record_join.hpp"
#include "audit/verifier.hpp"
#include "support/policy_support.hpp"

namespace segproxy::it {

// `audit: {dir: "<dir>"<, extra>}` as one top-level YAML line (for ProxyConfigOptions::extra_yaml).
// `extra` is a flow-map fragment such as "statement_text: full, durability: fsync_each".
inline std::string audit_yaml(const std::string& dir, const std::string& extra = "") {
  return "audit: {dir: \"" + dir + "\"" + (extra.empty() ? "" : ", " + extra) + "}\n";
}

struct AuditLog {
  audit::VerifyResult result;               // final (includes the checkpoint-file check)
  std::vector<audit::AuditRecord> records;  // every record read before the first problem
  std::string describe() const {            // for assertion messages
    std::string s = result.summary() + "\n";
    for (const auto& r : records) {
      s += std::to_string(r.seq) + " " + r.event;
      if (!r.decision.empty()) s += " " + r.decision;
      if (!r.statement.empty()) s += " [" + r.statement.substr(0, 120) + "]";
      if (!r.reason.empty()) s += " reason=" + r.reason;
      if (!r.detail.empty()) s += " detail=" + r.detail;
      s += "\n";
    }
    return s;
  }
};

// Reads the log with the verifying streaming reader (the same checks as audit::verify()),
// as self-contained records: the session fields of session.open and the statement fields
// of same_as joined back in (what `segproxyctl audit export` gives; docs/audit.md).
inline AuditLog read_audit_log(const std::string& dir) {
  AuditLog log;
  audit::LogReader reader(dir, audit::VerifyOptions{});
  audit::RecordJoiner joiner;
  const audit::RecordJoiner::Lookup lookup = [&reader](std::uint64_t seq) { return reader.line_of(seq); };
  audit::AuditRecord r;
  std::string_view line;
  while (reader.next(r, line)) {
    joiner.join(r, lookup);
    log.records.push_back(r);
  }
  log.result = reader.result();
  return log;
}

inline std::vector<audit::AuditRecord> records_where(const AuditLog& log,
                                                     const std::function<bool(const audit::AuditRecord&)>& pred) {
  std::vector<audit::AuditRecord> out;
  for (const auto& r : log.records) {
    if (pred(r)) out.push_back(r);
  }
  return out;
}

// Polls the (live) log until a record matches or the timeout passes. The default is
// generous on purpose (a loaded 2-core CI machine, sanitizer builds): a record that does
// appear ends the wait at once, so only a failing test pays for it.
inline bool wait_for_record(const std::string& dir, const std::function<bool(const audit::AuditRecord&)>& pred,
                            std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const AuditLog log = read_audit_log(dir);
    for (const auto& r : log.records) {
      if (pred(r)) return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

// Lower-case hex SHA-256 of a PEM certificate's DER encoding (what the proxy records as
// cert_sha256). Empty on error.
inline std::string cert_sha256_hex(const std::string& pem_path) {
  std::FILE* f = std::fopen(pem_path.c_str(), "r");
  if (f == nullptr) return "";
  X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  if (cert == nullptr) return "";
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  std::string out;
  if (X509_digest(cert, EVP_sha256(), md, &len) == 1) {
    static const char* digits = "0123456789abcdef";
    for (unsigned int i = 0; i < len; ++i) {
      out += digits[md[i] >> 4];
      out += digits[md[i] & 0xf];
    }
  }
  X509_free(cert);
  return out;
}

// The concatenated bytes of every regular file below `dir` (for "never appears" checks).
inline std::string all_file_bytes(const std::string& dir) {
  std::string all;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file()) all += read_file(it->path().string());
  }
  return all;
}

// A secret file's value without the trailing newline.
inline std::string read_secret(const std::string& path) {
  std::string s = read_file(path);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

}  // namespace segproxy::it
