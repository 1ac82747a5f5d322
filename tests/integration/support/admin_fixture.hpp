#pragma once
// The admin-socket fixture of the integration tests: a proxy with admin socket, metrics
// endpoint and audit log, and segproxyctl run against it.
#include <string>
#include <utility>
#include <vector>

#include "support/audit_support.hpp"
#include "support/ctl.hpp"
#include "support/fixture.hpp"
#include "support/process.hpp"

namespace segproxy::it {

class AdminTest : public ProxyTest {
 protected:
  bool auto_start() const override { return false; }

  // A proxy with admin socket, metrics endpoint and audit log; `yaml` is appended.
  void StartAdminProxy(ProxyConfigOptions opts = {}, const std::string& admin_extra = "") {
    socket_ = dir_ + "/admin.sock";
    audit_dir_ = dir_ + "/audit";
    metrics_port_ = free_port();
    opts.log_level = "info";
    opts.extra_yaml += "admin: {socket: \"" + socket_ + "\", revocations_file: \"" + dir_ +
                       "/revocations.json\"" + admin_extra + "}\n";
    opts.extra_yaml += "metrics: {listen: \"127.0.0.1:" + std::to_string(metrics_port_) + "\"}\n";
    opts.extra_yaml += audit_yaml(audit_dir_);
    opts_ = opts;
    ASSERT_NO_FATAL_FAILURE(StartProxy(opts));
  }

  ProcResult ctl(std::vector<std::string> args) const { return run_ctl(socket_, std::move(args)); }

  // Rewrites the running proxy's config file with `opts`.
  void RewriteConfig(const ProxyConfigOptions& opts) { write_file(config_path_, render_config(port_, opts)); }

  std::string socket_;
  std::string audit_dir_;
  std::uint16_t metrics_port_ = 0;
  ProxyConfigOptions opts_;
};

}  // namespace segproxy::it
