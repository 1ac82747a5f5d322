#include "support/fixture.hpp"

#include <signal.h>

#include <iostream>

namespace segproxy::it {

std::string render_config(std::uint16_t port, const ProxyConfigOptions& opts) {
  const Env& e = env();
  const std::string billing_pw = opts.billing_password_file.empty()
                                     ? e.secret_file(opts.billing_user + ".pw")
                                     : opts.billing_password_file;
  std::string backend_tls = "{mode: " + opts.backend_tls_mode + "}";
  if (opts.backend_tls_mode == "verify-full") {
    backend_tls = "{mode: verify-full, ca: \"" + e.pki_file("ca.crt") +
                  "\", server_name: localhost}";
  }
  std::string y;
  y += "log: {level: " + opts.log_level + "}\n";
  y += "listeners:\n";
  y += "  - name: pg-main\n";
  y += "    protocol: postgres\n";
  y += "    listen: 127.0.0.1:" + std::to_string(port) + "\n";
  y += "    tls: {cert: \"" + e.pki_file("server.crt") + "\", key: \"" + e.pki_file("server.key") +
       "\", client_ca: \"" + (opts.client_ca.empty() ? e.pki_file("ca.crt") : opts.client_ca) + "\"" +
       opts.listener_tls_extra + "}\n";
  y += "    backend:\n";
  y += "      host: " + e.pghost + "\n";
  y += "      port: " + e.pgport + "\n";
  y += "      tls: " + backend_tls + "\n";
  y += opts.backend_extra;
  y += "identities:\n";
  y += "  - match: {spiffe_id: \"spiffe://example.org/ns/billing/*\"}\n";
  y += "    segment: billing\n";
  y += "  - match: {cn: \"reporting-job\"}\n";
  y += "    segment: reporting\n";
  y += "segments:\n";
  y += "  billing:\n";
  y += "    databases: [" + e.db + "]\n";
  y += "    credentials:\n";
  if (!opts.billing_credential.empty()) {
    y += "      pg-main: " + opts.billing_credential + "\n";
  } else {
    y += "      pg-main: {user: " + opts.billing_user + ", password_file: \"" + billing_pw + "\"}\n";
  }
  y += opts.billing_policy;
  y += "  reporting:\n";
  y += "    databases: [" + e.db + "]\n";
  y += "    credentials:\n";
  y += "      pg-main: {user: reporting_ro, password_file: \"" +
       e.secret_file("reporting_ro.pw") + "\"}\n";
  y += opts.reporting_policy;
  y += "limits: {handshake_timeout: " + opts.handshake_timeout + ", startup_timeout: 10s" + opts.limits_extra + "}\n";
  y += opts.extra_yaml;
  return y;
}

void ProxyTest::SetUp() {
  // Raw-socket tests write to connections the proxy may already have closed.
  ::signal(SIGPIPE, SIG_IGN);
  SEGPROXY_IT_REQUIRE_ENV();
  dir_ = make_temp_dir(env().test_dir, "it-pg-");
  ASSERT_FALSE(dir_.empty()) << "cannot create a temp dir under " << env().test_dir;
  if (auto_start()) {
    ASSERT_NO_FATAL_FAILURE(StartProxy());
  }
}

void ProxyTest::StartProxy(const ProxyConfigOptions& opts) {
  std::string last_error;
  // The free port may be taken by a parallel test between probe and bind: retry.
  for (int attempt = 0; attempt < 3; ++attempt) {
    port_ = free_port();
    ASSERT_NE(port_, 0) << "no free port";
    config_path_ = dir_ + "/segproxy.yaml";
    write_file(config_path_, render_config(port_, opts));
    if (proxy_.start(env().segproxy_bin, {"--config", config_path_}, dir_ + "/segproxy.log", port_,
                     kProxyStartTimeout, &last_error)) {
      return;
    }
  }
  FAIL() << "segproxy did not start: " << last_error << "\n--- config ---\n"
         << read_file(config_path_) << "--- segproxy log ---\n"
         << proxy_.log();
}

void ProxyTest::TearDown() {
  const bool was_running = proxy_.running();
  const std::string how = proxy_.stop();
  if (HasFailure() && !proxy_.log_path().empty()) {
    std::cerr << "--- segproxy log (" << proxy_.log_path() << "; "
              << (was_running ? "was running at teardown" : "had exited: " + how)
              << ") ---\n"
              << proxy_.log() << "--- end of segproxy log ---\n";
  }
  if (!HasFailure() && !dir_.empty()) remove_tree(dir_);
}

}  // namespace segproxy::it
