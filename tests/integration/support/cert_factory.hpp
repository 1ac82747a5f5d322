#pragma once
// Extra client certificates for identity tests, made with the openssl CLI: an EC P-256
// key and a certificate issued by (issuer_crt, issuer_key) with `subject` (openssl -subj
// syntax, e.g. "/CN=a/CN=b") and `ext` lines (openssl x509 -extfile syntax).
#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "support/process.hpp"

namespace segproxy::it {

inline constexpr const char* kClientLeafExt =
    "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n";

// Writes <dir>/<name>.key and <dir>/<name>.crt; returns the certificate path (a gtest
// failure is added when openssl fails).
inline std::string make_client_cert(const std::string& dir, const std::string& name, const std::string& subject,
                                    const std::string& ext, const std::string& issuer_crt,
                                    const std::string& issuer_key) {
  const std::string base = dir + "/" + name;
  write_file(base + ".ext", ext);
  const std::string script =
      "set -e; openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out '" + base + ".key' 2>&1; "
      "openssl req -new -sha256 -key '" + base + ".key' -subj '" + subject + "' -out '" + base +
      ".csr' 2>&1; openssl x509 -req -sha256 -days 2 -in '" + base + ".csr' -CA '" + issuer_crt + "' -CAkey '" +
      issuer_key + "' -set_serial 0x$(openssl rand -hex 8) -extfile '" + base + ".ext' -out '" + base +
      ".crt' 2>&1";
  const ProcResult r = run_process({"sh", "-c", script}, std::chrono::seconds(30));
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  return base + ".crt";
}

}  // namespace segproxy::it
