#pragma once
// Shared helpers for the config unit tests: a temp directory with the files a config
// references, and a valid full config whose line numbers the error tables rely on.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "config/loader.hpp"

namespace segproxy::config::test {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "segproxy-cfg-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string str() const { return path_.string(); }
  // Creates `rel` (and its directories) with `content`; returns the absolute path.
  std::string write(const std::string& rel, const std::string& content = "x\n") const {
    const auto p = path_ / rel;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
    return p.string();
  }

 private:
  std::filesystem::path path_;
};

// Line numbers matter: the error tables point at them.
inline const char* kValidConfig =
    "threads: 2\n"                                                         // 1
    "log: {level: info, format: json}\n"                                   // 2
    "limits:\n"                                                            // 3
    "  max_startup_packet: 10000\n"                                        // 4
    "  max_message_size: 64MiB\n"                                          // 5
    "  max_connections: 100\n"                                             // 6
    "  handshake_timeout: 10s\n"                                           // 7
    "  startup_timeout: 500ms\n"                                           // 8
    "  backend_connect_timeout: 5m\n"                                      // 9
    "  idle_timeout: 0\n"                                                  // 10
    "listeners:\n"                                                         // 11
    "  - name: pg-main\n"                                                  // 12
    "    protocol: postgres\n"                                             // 13
    "    listen: 127.0.0.1:6432\n"                                         // 14
    "    tls: {cert: certs/server.crt, key: certs/server.key, client_ca: certs/ca.crt, "
    "min_version: \"1.3\"}\n"                                              // 15
    "    backend:\n"                                                       // 16
    "      host: 127.0.0.1\n"                                              // 17
    "      port: 5432\n"                                                   // 18
    "      tls: {mode: verify-full, ca: certs/backend-ca.crt, server_name: db.internal}\n"  // 19
    "  - name: my-main\n"                                                  // 20
    "    protocol: mysql\n"                                                // 21
    "    listen: \"[::1]:3307\"\n"                                         // 22
    "    tls: {cert: certs/server.crt, key: certs/server.key, client_ca: certs/ca.crt}\n"  // 23
    "    backend: {host: db.internal, port: 3306}\n"                       // 24
    "identities:\n"                                                        // 25
    "  - match: {spiffe_id: \"spiffe://example.org/ns/billing/*\"}\n"      // 26
    "    segment: billing\n"                                               // 27
    "  - match: {cn: \"ops-*\", ou: Operations}\n"                         // 28
    "    segment: ops\n"                                                   // 29
    "segments:\n"                                                          // 30
    "  billing:\n"                                                         // 31
    "    databases: [shop]\n"                                              // 32
    "    credentials:\n"                                                   // 33
    "      pg-main: {user: billing_rw, password_file: secrets/billing_rw.pw}\n"  // 34
    "      my-main: {user: billing_my, password_env: SEGPROXY_TEST_MY_PW}\n"     // 35
    "  ops:\n"                                                             // 36
    "    databases: [shop, metrics]\n"                                     // 37
    "    credentials:\n"                                                   // 38
    "      pg-main: {user: ops_ro, password_file: secrets/ops_ro.pw}\n";   // 39

// Creates every file kValidConfig references under `dir`.
inline void write_referenced_files(const TempDir& dir) {
  for (const char* f : {"certs/server.crt", "certs/server.key", "certs/ca.crt",
                        "certs/backend-ca.crt"}) {
    dir.write(f, "-----BEGIN PLACEHOLDER-----\n");
  }
  dir.write("secrets/billing_rw.pw", "s3cret-billing\n");
  dir.write("secrets/ops_ro.pw", "s3cret-ops\n");
}

// kValidConfig with each `from` replaced (first occurrence) by `to`.
inline std::string edited(const std::vector<std::pair<std::string, std::string>>& edits) {
  std::string s = kValidConfig;
  for (const auto& [from, to] : edits) {
    const auto pos = s.find(from);
    if (pos == std::string::npos) {
      ADD_FAILURE() << "test edit not found in base config: " << from;
      continue;
    }
    s.replace(pos, from.size(), to);
  }
  return s;
}

inline std::string dump(const LoadResult& r) {
  std::string out;
  for (const auto& e : r.errors) out += "  " + e.to_string() + "\n";
  return out.empty() ? "  (no errors)\n" : out;
}

}  // namespace segproxy::config::test
