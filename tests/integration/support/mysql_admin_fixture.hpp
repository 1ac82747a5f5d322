#pragma once
// The MySQL counterpart of support/admin_fixture.hpp: a `protocol: mysql` proxy with an
// admin socket and an audit log, segproxyctl run against it, and its config rewritten
// in place for reload tests.
#include <string>
#include <utility>
#include <vector>

#include "support/audit_support.hpp"
#include "support/ctl.hpp"
#include "support/mysql_fixture.hpp"
#include "support/process.hpp"

namespace segproxy::it {

class MysqlAdminTest : public MysqlProxyTest {
 protected:
  bool auto_start() const override { return false; }

  // A proxy with admin socket and audit log (log level info); `opts.extra_yaml` gets both
  // appended. Use as ASSERT_NO_FATAL_FAILURE(StartAdminProxy(opts)).
  void StartAdminProxy(MysqlProxyOptions opts) {
    audit_dir_ = dir_ + "/audit";
    socket_ = dir_ + "/admin.sock";
    opts.log_level = "info";
    opts.extra_yaml += admin_yaml();
    ASSERT_NO_FATAL_FAILURE(StartProxy(opts));
  }

  // The audit and admin-socket YAML StartAdminProxy appended, for a rewritten config.
  std::string admin_yaml() const {
    return audit_yaml(audit_dir_) + "admin: {socket: \"" + socket_ + "\"}\n";
  }

  // Rewrites the running proxy's config with `opts` (plus admin_yaml(), log level info);
  // takes effect at the next reload.
  void RewriteConfig(MysqlProxyOptions opts) const {
    opts.log_level = "info";
    opts.extra_yaml += admin_yaml();
    write_file(config_path_, render_mysql_config(port_, opts));
  }

  ProcResult ctl(std::vector<std::string> args) const { return run_ctl(socket_, std::move(args)); }

  std::string audit_dir_;
  std::string socket_;
};

}  // namespace segproxy::it
