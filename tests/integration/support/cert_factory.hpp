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

// A minimal `openssl ca` database in `ca_dir` for the CA (ca_crt, ca_key): what
// make_crl and make_server_cert_valid_between use (index, serial, CRL number, config).
inline std::string openssl_ca_setup(const std::string& ca_dir) {
  return "mkdir -p '" + ca_dir + "'; cd '" + ca_dir + "'; [ -f index.txt ] || : > index.txt; " +
         "[ -f crlnumber ] || echo 1000 > crlnumber; [ -f serial ] || echo 1000 > serial; " +
         "printf '[ca]\\ndefault_ca = d\\n[d]\\ndatabase = " + ca_dir + "/index.txt\\ncrlnumber = " + ca_dir +
         "/crlnumber\\nserial = " + ca_dir + "/serial\\nnew_certs_dir = " + ca_dir +
         "\\ndefault_md = sha256\\npolicy = p\\n[p]\\ncommonName = supplied\\n' > ca.cnf; ";
}

// Writes a CRL of the CA (ca_crt, ca_key) listing nothing, with nextUpdate `days` from
// now, to `crl_path` (a gtest failure is added when openssl fails).
inline void make_crl(const std::string& ca_dir, const std::string& ca_crt, const std::string& ca_key,
                     const std::string& crl_path, int days) {
  const std::string script = "set -e; " + openssl_ca_setup(ca_dir) + "openssl ca -batch -config ca.cnf -keyfile '" +
                             ca_key + "' -cert '" + ca_crt + "' -gencrl -crldays " + std::to_string(days) +
                             " -out '" + crl_path + "' 2>&1";
  const ProcResult r = run_process({"sh", "-c", script}, std::chrono::seconds(30));
  EXPECT_EQ(r.exit_code, 0) << r.describe();
}

// Writes <ca_dir>/<name>.key and <ca_dir>/<name>.crt: CN=localhost, issued by (ca_crt,
// ca_key), valid from `start` to `end` (openssl ca dates, e.g. "20200101000000Z"), so
// tests get certificates that are expired or not yet valid. Returns the certificate path.
inline std::string make_server_cert_valid_between(const std::string& ca_dir, const std::string& name,
                                                  const std::string& ca_crt, const std::string& ca_key,
                                                  const std::string& start, const std::string& end) {
  const std::string base = ca_dir + "/" + name;
  const std::string script =
      "set -e; " + openssl_ca_setup(ca_dir) + "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes " +
      "-keyout '" + base + ".key' -subj /CN=localhost -out '" + base + ".csr' 2>&1; " +
      "openssl ca -batch -notext -config ca.cnf -keyfile '" + ca_key + "' -cert '" + ca_crt + "' -startdate " + start +
      " -enddate " + end + " -in '" + base + ".csr' -out '" + base + ".crt' 2>&1";
  const ProcResult r = run_process({"sh", "-c", script}, std::chrono::seconds(30));
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  return base + ".crt";
}

}  // namespace segproxy::it
