// Dynamic scoped backend credentials (issue 7, MySQL half) against the real MariaDB of
// the test environment. Two levels:
//   MyDynamicCredentials  proxy::DynamicCredentials driven directly (no proxy): the
//                         minted user has exactly the configured grants and the
//                         instance's marker role, is shared by one identity, dropped
//                         (and its connections KILLed) at TTL expiry and on revoke,
//                         leftovers are dropped by the janitor after abandon(), and a
//                         wrong admin password fails fast and clearly.
//   MyDynamicProxy        the real segproxy process: sessions run as the minted user,
//                         the server refuses what the grants do not cover, revoke drops
//                         the user, and a proxy killed with SIGKILL and restarted cleans
//                         up its leftover.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "daemon/credentials/dynamic_credentials.hpp"
#include "daemon/credentials/dynamic_my_admin.hpp"
#include "support/audit_support.hpp"
#include "support/dynamic_credentials_support.hpp"
#include "support/env.hpp"
#include "support/mysql.hpp"
#include "support/mysql_fixture.hpp"

namespace segproxy::it {
namespace {

using namespace std::chrono_literals;
using proxy::AcquireResult;
using proxy::DynamicCredentials;

constexpr const char* kBillingSpiffe = "spiffe://example.org/ns/billing/sa/api";

// A short unique tag for names (MySQL user names are at most 32 characters).
std::string short_tag() {
  static std::atomic<int> n{0};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%x%x", static_cast<unsigned>(::getpid()) & 0xfffff, n.fetch_add(1));
  return buf;
}

std::unique_ptr<sql::Connection> root_connection() {
  MyError err;
  auto c = mysql_connect(my_superuser_target(), &err);
  EXPECT_TRUE(c) << err.describe();
  return c;
}

int user_count(sql::Connection* root, const std::string& user) {
  const MyResult r = mysql_exec(root, "SELECT COUNT(*) FROM mysql.user WHERE User = '" + user + "'");
  EXPECT_TRUE(r.ok) << r.error.describe();
  return r.ok ? std::stoi(r.value()) : -1;
}

bool wait_user_gone(sql::Connection* root, const std::string& user, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (user_count(root, user) == 0) return true;
    std::this_thread::sleep_for(100ms);
  }
  return user_count(root, user) == 0;
}

// Straight to MariaDB as `user` with `password` (TLS with the CA, as the env's clients).
std::unique_ptr<sql::Connection> login_direct(const std::string& user, const std::string& password, MyError* err) {
  MyTarget t = my_direct_target("billing_rw");
  t.user = user;
  t.password = password;
  return mysql_connect(t, err);
}

// ---- service level -------------------------------------------------------------------

class MyDynamicCredentials : public ::testing::Test {
 protected:
  void SetUp() override {
    SEGPROXY_IT_REQUIRE_ENV();
    SEGPROXY_IT_REQUIRE_MYSQL_ENV();
    root_ = root_connection();
    ASSERT_TRUE(root_);
    tag_ = short_tag();
  }

  void TearDown() override {
    // The services are gone (their users dropped): drop their marker roles too.
    if (root_) {
      for (const auto& inst : {instance(), instance() + "-other", instance() + "-dead"}) {
        mysql_exec(root_.get(), "DROP ROLE IF EXISTS " + proxy::mysql_marker_role(inst));
      }
    }
  }

  std::string identity(const std::string& who) const { return "spiffe://example.org/it/my/" + tag_ + "/" + who; }
  std::string instance() const { return "it-my-" + tag_; }

  proxy::DynamicTarget target(std::chrono::milliseconds ttl, std::chrono::milliseconds renew_before,
                              const std::string& admin_password = "") const {
    proxy::DynamicTarget t;
    t.segment = "billing";
    t.listener.name = "my-main";
    t.listener.protocol = config::Protocol::Mysql;
    t.listener.backend.endpoint.host = env().myhost;
    t.listener.backend.endpoint.port = static_cast<std::uint16_t>(std::stoi(env().myport));
    t.settings.admin_user = "segproxy_admin";
    t.settings.grants = {"SELECT, INSERT ON shop.orders", "SELECT (id, sku) ON shop.order_items"};
    t.settings.ttl = ttl;
    t.settings.renew_before = renew_before;
    t.settings.name_template = "spm" + tag_ + "_{id8}";
    t.admin_password = std::make_shared<const authz::Secret>(
        admin_password.empty() ? read_secret(env().my_secret_file("segproxy_admin")) : admin_password);
    return t;
  }

  std::unique_ptr<DynamicCredentials> service(proxy::DynamicTarget t, const std::string& inst = "") {
    return start_dynamic_service(std::move(t), inst.empty() ? instance() : inst, &log_, rec_);
  }

  std::vector<AcquireResult> acquire_many(DynamicCredentials& s, const std::string& key, int n) {
    return it::acquire_many(s, io_, "my-main", key, n);
  }
  AcquireResult acquire(DynamicCredentials& s, const std::string& key) { return acquire_one(s, io_, "my-main", key); }

  // Where the service posts acquisition results; a member, so it outlives the service
  // (a local of each test) and every post its worker threads make (it::acquire_many).
  proxy::asio::io_context io_;
  proxy::Logger log_{proxy::LogLevel::Info, config::LogFormat::Text};
  std::unique_ptr<sql::Connection> root_;
  std::string tag_;
  DynHookRecorder rec_;
};

TEST_F(MyDynamicCredentials, MintedUserHasExactlyTheConfiguredGrantsAndTheInstanceMarkerRole) {
  auto svc = service(target(1h, 10min));
  const AcquireResult r = acquire(*svc, identity("a"));
  ASSERT_TRUE(r.ok()) << r.error;
  const auto& c = *r.credential;
  EXPECT_EQ(c.user.rfind("spm" + tag_ + "_", 0), 0u) << c.user;
  EXPECT_EQ(c.password->reveal().size(), 64u);
  EXPECT_EQ(rec_.count("credential.create", c.user), 1);
  EXPECT_EQ(user_count(root_.get(), c.user), 1);
  const MyResult marker = mysql_exec(root_.get(), "SELECT COUNT(*) FROM mysql.roles_mapping WHERE User = '" + c.user +
                                                      "' AND Role = '" + proxy::mysql_marker_role(instance()) + "'");
  ASSERT_TRUE(marker.ok) << marker.error.describe();
  EXPECT_EQ(marker.value(), "1");

  MyError err;
  auto conn = login_direct(c.user, c.password->reveal(), &err);
  ASSERT_TRUE(conn) << err.describe();
  EXPECT_EQ(mysql_exec(conn.get(), "SELECT CURRENT_USER()").value(), c.user + "@%");
  const MyResult sel = mysql_exec(conn.get(), "SELECT COUNT(*) FROM shop.orders");
  EXPECT_TRUE(sel.ok) << sel.error.describe();
  const MyResult ins = mysql_exec(conn.get(), "INSERT INTO shop.orders (customer, amount) VALUES ('dyn', 1)");
  EXPECT_TRUE(ins.ok) << ins.error.describe();
  const MyResult upd = mysql_exec(conn.get(), "UPDATE shop.orders SET amount = 2 WHERE customer = 'dyn'");
  EXPECT_EQ(upd.error.code, 1142) << upd.error.describe();  // not granted
  const MyResult cols = mysql_exec(conn.get(), "SELECT id, sku FROM shop.order_items");
  EXPECT_TRUE(cols.ok) << cols.error.describe();  // column grant
  const MyResult price = mysql_exec(conn.get(), "SELECT price FROM shop.order_items");
  EXPECT_EQ(price.error.code, 1143) << price.error.describe();  // column not granted
  const MyResult pii = mysql_exec(conn.get(), "SELECT * FROM shop.customers_pii");
  EXPECT_EQ(pii.error.code, 1142) << pii.error.describe();
  const MyResult create = mysql_exec(conn.get(), "CREATE USER sneaky@'%'");
  EXPECT_FALSE(create.ok);
  mysql_exec(root_.get(), "DELETE FROM shop.orders WHERE customer = 'dyn'");

  // A wrong password is refused by the server.
  EXPECT_FALSE(login_direct(c.user, std::string(64, 'a'), &err));
  EXPECT_EQ(err.code, 1045) << err.describe();
}

TEST_F(MyDynamicCredentials, OneIdentitySharesOneUserMintedOnceAndAnotherIdentityGetsAnother) {
  auto svc = service(target(1h, 10min));
  const auto all = acquire_many(*svc, identity("a"), 6);
  ASSERT_EQ(all.size(), 6u);
  for (const auto& r : all) {
    ASSERT_TRUE(r.ok()) << r.error;
    EXPECT_EQ(r.credential->user, all[0].credential->user);
    EXPECT_EQ(r.credential->password->reveal(), all[0].credential->password->reveal());
  }
  EXPECT_EQ(rec_.count("credential.create"), 1);
  const AcquireResult b = acquire(*svc, identity("b"));
  ASSERT_TRUE(b.ok()) << b.error;
  EXPECT_NE(b.credential->user, all[0].credential->user);
  EXPECT_EQ(rec_.count("credential.create"), 2);
  svc->stop();  // shutdown drops every minted user
  EXPECT_EQ(user_count(root_.get(), all[0].credential->user), 0);
  EXPECT_EQ(user_count(root_.get(), b.credential->user), 0);
}

TEST_F(MyDynamicCredentials, TtlExpiryKillsTheConnectionsAndDropsTheUser) {
  auto svc = service(target(4s, 1s));
  AcquireResult r = acquire(*svc, identity("a"));
  ASSERT_TRUE(r.ok()) << r.error;
  const std::string user = r.credential->user;
  const auto password = r.credential->password;
  r.credential.reset();  // no session holds it (from now on): never renewed
  MyError err;
  auto conn = login_direct(user, password->reveal(), &err);  // a connection the drop must end
  ASSERT_TRUE(conn) << err.describe();
  ASSERT_TRUE(wait_user_gone(root_.get(), user, kGone)) << "minted user still in mysql.user";
  EXPECT_TRUE(rec_.was_closed(user));
  EXPECT_EQ(rec_.wait_count("credential.drop", user, 1), 1);
  EXPECT_EQ(rec_.count("credential.renew", user), 0);
  EXPECT_FALSE(mysql_exec(conn.get(), "SELECT 1").ok) << "connection of the dropped user survived";
  EXPECT_EQ(svc->minted_count(), 0u);
}

TEST_F(MyDynamicCredentials, LeasedUserIsRenewedKeepingItsPassword) {
  auto svc = service(target(3s, 2s));
  AcquireResult r = acquire(*svc, identity("a"));
  ASSERT_TRUE(r.ok()) << r.error;
  const std::string user = r.credential->user;
  const auto first_expiry = r.credential->expires_at;
  // Renewed (waited for: on a loaded machine the renewal's admin login can take seconds),
  // and past the first expiry the user is still there.
  EXPECT_GE(rec_.wait_count("credential.renew", user, 1), 1);
  std::this_thread::sleep_until(first_expiry + 1500ms);
  EXPECT_EQ(user_count(root_.get(), user), 1);
  EXPECT_GE(rec_.count("credential.renew", user), 1);
  AcquireResult again = acquire(*svc, identity("a"));
  ASSERT_TRUE(again.ok()) << again.error;
  EXPECT_EQ(again.credential->user, user);
  EXPECT_EQ(again.credential->password->reveal(), r.credential->password->reveal());
  EXPECT_GT(again.credential->expires_at, first_expiry);
  MyError err;
  EXPECT_TRUE(login_direct(user, again.credential->password->reveal(), &err)) << err.describe();
  r.credential.reset();
  again.credential.reset();
  EXPECT_TRUE(wait_user_gone(root_.get(), user, kGone));
}

TEST_F(MyDynamicCredentials, RevokeIdentityKillsItsConnectionsAndDropsItsUser) {
  auto svc = service(target(1h, 10min));
  const AcquireResult a = acquire(*svc, identity("a"));
  const AcquireResult b = acquire(*svc, identity("b"));
  ASSERT_TRUE(a.ok() && b.ok()) << a.error << b.error;
  MyError err;
  auto conn = login_direct(a.credential->user, a.credential->password->reveal(), &err);
  ASSERT_TRUE(conn) << err.describe();
  svc->revoke_identity(identity("a"));
  ASSERT_TRUE(wait_user_gone(root_.get(), a.credential->user, kGone));
  EXPECT_TRUE(rec_.was_closed(a.credential->user));
  EXPECT_FALSE(mysql_exec(conn.get(), "SELECT 1").ok);
  EXPECT_EQ(user_count(root_.get(), b.credential->user), 1);
  const AcquireResult again = acquire(*svc, identity("a"));
  ASSERT_TRUE(again.ok()) << again.error;
  EXPECT_EQ(again.credential->user, a.credential->user);
  EXPECT_NE(again.credential->password->reveal(), a.credential->password->reveal());
}

TEST_F(MyDynamicCredentials, JanitorRemovesLeftoversOfThisInstanceAndKeepsOtherInstancesUsers) {
  std::string own_user;
  {
    auto crashed = service(target(1h, 10min));
    const AcquireResult r = acquire(*crashed, identity("a"));
    ASSERT_TRUE(r.ok()) << r.error;
    own_user = r.credential->user;
    crashed->abandon();  // as after SIGKILL: nothing dropped
  }
  auto other = service(target(1h, 10min), instance() + "-other");
  const AcquireResult o = acquire(*other, identity("b"));
  ASSERT_TRUE(o.ok()) << o.error;
  ASSERT_EQ(user_count(root_.get(), own_user), 1);
  auto restarted = service(target(1h, 10min));  // janitor runs at start
  EXPECT_TRUE(wait_user_gone(root_.get(), own_user, kGone)) << "leftover of this instance not dropped";
  EXPECT_GE(rec_.wait_count("credential.drop", own_user, 1), 1);
  // A second leftover, then one more pass: once it is gone, the first pass (which saw the
  // other instance's user) has certainly finished (one janitor pass at a time).
  std::string second_user;
  {
    auto crashed = service(target(1h, 10min));
    const AcquireResult r = acquire(*crashed, identity("c"));
    ASSERT_TRUE(r.ok()) << r.error;
    second_user = r.credential->user;
    crashed->abandon();
  }
  restarted->request_janitor();
  EXPECT_TRUE(wait_user_gone(root_.get(), second_user, kGone)) << "second leftover not dropped";
  EXPECT_EQ(user_count(root_.get(), o.credential->user), 1) << "another instance's live user was dropped";
}

TEST_F(MyDynamicCredentials, ExpiredUserOfADeadInstanceIsDroppedByAnyInstancesJanitor) {
  // Another instance mints a short-lived user and dies (SIGKILL-like: nothing dropped)
  // and is never restarted: its expiry role tells this instance's janitor when to drop.
  std::string dead_user;
  std::string expiry_role;
  {
    auto dead = service(target(2s, 1s), instance() + "-dead");
    const AcquireResult r = acquire(*dead, identity("d"));
    ASSERT_TRUE(r.ok()) << r.error;
    dead_user = r.credential->user;
    expiry_role = proxy::mysql_expiry_role(r.credential->expires_at);
    dead->abandon();
  }
  const MyResult marked = mysql_exec(root_.get(), "SELECT COUNT(*) FROM mysql.roles_mapping WHERE User = '" +
                                                      dead_user + "' AND Role = '" + expiry_role + "'");
  ASSERT_TRUE(marked.ok) << marked.error.describe();
  EXPECT_EQ(marked.value(), "1") << "the expiry role is not granted";
  // Wait (bounded) until the dead instance's user has expired, then start this instance.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::system_clock::now().time_since_epoch() <
             std::chrono::seconds(std::stoll(expiry_role.substr(11))) + 1s &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(user_count(root_.get(), dead_user), 1) << "nobody should have dropped it yet";
  auto janitor = service(target(1h, 10min));  // janitor runs at start
  EXPECT_TRUE(wait_user_gone(root_.get(), dead_user, kGone)) << "an expired user of a dead instance was kept";
  EXPECT_GE(rec_.wait_count("credential.drop", dead_user, 1), 1);
  // Its expiry role went with it (nobody else holds it).
  const MyResult role_left =
      mysql_exec(root_.get(), "SELECT COUNT(*) FROM mysql.user WHERE User = '" + expiry_role + "' AND is_role = 'Y'");
  ASSERT_TRUE(role_left.ok) << role_left.error.describe();
  EXPECT_EQ(role_left.value(), "0");
}

TEST_F(MyDynamicCredentials, ANameTakenByAnUnmarkedUserIsRefused) {
  auto t = target(1h, 10min);
  auto svc = service(t);
  // Compute the name the service will use: mint once, drop it, then squat it.
  const AcquireResult first = acquire(*svc, identity("a"));
  ASSERT_TRUE(first.ok()) << first.error;
  const std::string user = first.credential->user;
  svc->revoke_identity(identity("a"));
  ASSERT_TRUE(wait_user_gone(root_.get(), user, kGone));
  ASSERT_TRUE(mysql_exec(root_.get(), "CREATE USER '" + user + "'@'%' IDENTIFIED BY 'squatter'").ok);
  const AcquireResult r = acquire(*svc, identity("a"));
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error.find("not made by this proxy instance"), std::string::npos) << r.error;
  EXPECT_EQ(user_count(root_.get(), user), 1);  // left alone
  mysql_exec(root_.get(), "DROP USER '" + user + "'@'%'");
}

TEST_F(MyDynamicCredentials, WrongAdminPasswordIsAClearErrorWithinTheConnectTimeout) {
  auto svc = service(target(1h, 10min, "definitely-not-the-password"));
  const auto start = std::chrono::steady_clock::now();
  const AcquireResult r = acquire(*svc, identity("a"));
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error.find("Access denied"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("segproxy_admin"), std::string::npos) << r.error;
  EXPECT_EQ(r.error.find("definitely-not-the-password"), std::string::npos);
  EXPECT_LT(took, 5s);
  EXPECT_GE(rec_.admin_failures.load(), 1);
}

TEST_F(MyDynamicCredentials, UnreachableBackendIsAClearErrorWithoutHanging) {
  auto t = target(1h, 10min);
  t.listener.backend.endpoint.port = 1;
  auto svc = service(std::move(t));
  const auto start = std::chrono::steady_clock::now();
  const AcquireResult r = acquire(*svc, identity("a"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error.find("admin connection to"), std::string::npos) << r.error;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

// ---- the real segproxy process --------------------------------------------------------

class MyDynamicProxy : public MysqlProxyTest {
 protected:
  bool auto_start() const override { return false; }

  void SetUp() override {
    MysqlProxyTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    root_ = root_connection();
    ASSERT_TRUE(root_);
    tag_ = short_tag();
    audit_dir_ = dir_ + "/audit";
    socket_ = dir_ + "/admin.sock";
  }

  void TearDown() override {
    MysqlProxyTest::TearDown();  // stops the proxy: it drops its users
    if (root_) mysql_exec(root_.get(), "DROP ROLE IF EXISTS " + proxy::mysql_marker_role("it-myp-" + tag_));
  }

  std::string prefix() const { return "spp" + tag_ + "_"; }

  // billing's credential on my-main becomes dynamic; own audit instance, admin socket.
  std::string config_yaml(std::uint16_t port, const std::string& admin_password_file) const {
    MysqlProxyOptions opts;
    opts.log_level = "info";
    opts.extra_yaml = audit_yaml(audit_dir_, "instance: \"it-myp-" + tag_ + "\"");
    opts.extra_yaml += "admin: {socket: \"" + socket_ + "\"}\n";
    std::string y = render_mysql_config(port, opts);
    const std::string fixed = "      my-main: {user: billing_rw, password_file: \"" +
                              env().my_secret_file("billing_rw") + "\"}\n";
    const auto at = y.find(fixed);
    EXPECT_NE(at, std::string::npos) << y;
    if (at == std::string::npos) return y;
    y.replace(at, fixed.size(),
              "      my-main: {dynamic: {admin: {user: segproxy_admin, password_file: \"" + admin_password_file +
                  "\"}, grants: [\"SELECT, INSERT ON shop.orders\"], ttl: 1h, name_template: \"" + prefix() +
                  "{id8}\"}}\n");
    return y;
  }

  void StartDynamic(const std::string& admin_password_file = "") {
    const std::string pw = admin_password_file.empty() ? env().my_secret_file("segproxy_admin") : admin_password_file;
    std::string last_error;
    for (int attempt = 0; attempt < 3; ++attempt) {
      if (port_ == 0 || attempt > 0) port_ = free_port();
      config_path_ = dir_ + "/segproxy.yaml";
      write_file(config_path_, config_yaml(port_, pw));
      if (proxy_.start(env().segproxy_bin, {"--config", config_path_}, dir_ + "/segproxy.log", port_, kProxyStartTimeout,
                       &last_error)) {
        return;
      }
    }
    FAIL() << "segproxy did not start: " << last_error << "\n" << proxy_.log();
  }

  ProcResult ctl(std::vector<std::string> args) const {
    std::vector<std::string> argv{env().segproxyctl_bin};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("--socket");
    argv.push_back(socket_);
    return run_process(argv, 30s);
  }

  int minted_users() {
    const MyResult r = mysql_exec(root_.get(), "SELECT COUNT(*) FROM mysql.user WHERE LEFT(User, " +
                                                   std::to_string(prefix().size()) + ") = '" + prefix() + "'");
    EXPECT_TRUE(r.ok) << r.error.describe();
    return r.ok ? std::stoi(r.value()) : -1;
  }

  std::unique_ptr<sql::Connection> root_;
  std::string tag_;
  std::string audit_dir_;
  std::string socket_;
};

TEST_F(MyDynamicProxy, SessionsRunAsOneMintedUserWithOnlyItsGrantsAndRevokeDropsIt) {
  ASSERT_NO_FATAL_FAILURE(StartDynamic());
  MyError err;
  auto a = Connect(ClientCert::Spiffe, &err);
  ASSERT_TRUE(a) << err.describe();
  const MyResult who = mysql_exec(a.get(), "SELECT CURRENT_USER()");
  ASSERT_TRUE(who.ok) << who.error.describe();
  EXPECT_EQ(who.value().rfind(prefix(), 0), 0u) << who.value();
  const std::string user = who.value().substr(0, who.value().find('@'));
  auto b = Connect(ClientCert::Spiffe, &err);
  ASSERT_TRUE(b) << err.describe();
  EXPECT_EQ(mysql_exec(b.get(), "SELECT CURRENT_USER()").value(), who.value());  // shared
  EXPECT_EQ(user_count(root_.get(), user), 1);

  EXPECT_TRUE(mysql_exec(a.get(), "SELECT COUNT(*) FROM orders").ok);
  // The proxy's policy allows everything here: the server refuses what is not granted.
  const MyResult pii = mysql_exec(a.get(), "SELECT * FROM customers_pii");
  EXPECT_EQ(pii.error.code, 1142) << pii.error.describe();
  EXPECT_NE(pii.error.message.find(user), std::string::npos) << pii.error.describe();

  ASSERT_EQ(ctl({"revoke", "--identity", kBillingSpiffe, "--reason", "rotate"}).exit_code, 0);
  EXPECT_TRUE(wait_user_gone(root_.get(), user, kGone)) << "the minted user outlived the revocation";
  EXPECT_FALSE(mysql_exec(a.get(), "SELECT 1").ok);
  EXPECT_FALSE(mysql_exec(b.get(), "SELECT 1").ok);
  EXPECT_TRUE(wait_for_record(audit_dir_, [&](const audit::AuditRecord& rec) {
    return rec.event == "credential.drop" && rec.backend_user == user;
  })) << read_audit_log(audit_dir_).describe();
  EXPECT_TRUE(wait_for_record(audit_dir_, [&](const audit::AuditRecord& rec) {
    return rec.event == "credential.create" && rec.backend_user == user;
  }));
}

TEST_F(MyDynamicProxy, ProxyKilledWithSigkillAndRestartedDropsItsLeftoverUser) {
  ASSERT_NO_FATAL_FAILURE(StartDynamic());
  std::string user;
  {
    MyError err;
    auto a = Connect(ClientCert::Spiffe, &err);
    ASSERT_TRUE(a) << err.describe();
    const MyResult who = mysql_exec(a.get(), "SELECT CURRENT_USER()");
    ASSERT_TRUE(who.ok) << who.error.describe();
    user = who.value().substr(0, who.value().find('@'));
    ASSERT_EQ(user.rfind(prefix(), 0), 0u) << user;
    ASSERT_EQ(::kill(proxy_.pid(), SIGKILL), 0);
    proxy_.stop();  // reaps it
  }
  EXPECT_EQ(user_count(root_.get(), user), 1) << "nothing could drop it: the proxy was killed";
  ASSERT_NO_FATAL_FAILURE(StartDynamic());  // same instance: its janitor runs at start
  EXPECT_TRUE(wait_user_gone(root_.get(), user, kGone)) << "leftover of the killed proxy not dropped";
  EXPECT_EQ(minted_users(), 0);
  // And the restarted proxy mints a fresh one for the same identity.
  MyError err;
  auto again = Connect(ClientCert::Spiffe, &err);
  ASSERT_TRUE(again) << err.describe();
  EXPECT_EQ(mysql_exec(again.get(), "SELECT CURRENT_USER()").value(), user + "@%");
}

TEST_F(MyDynamicProxy, WrongAdminPasswordRefusesTheSessionWithErr1045Quickly) {
  const std::string bad = dir_ + "/bad-admin.pw";
  write_file(bad, "definitely-not-the-password");
  ASSERT_NO_FATAL_FAILURE(StartDynamic(bad));
  MyError err;
  const auto start = std::chrono::steady_clock::now();
  auto conn = Connect(ClientCert::Spiffe, &err);
  EXPECT_FALSE(conn);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  EXPECT_EQ(err.code, 1045) << err.describe();
  EXPECT_NE(err.message.find("could not obtain a backend credential"), std::string::npos) << err.describe();
  EXPECT_EQ(err.message.find("definitely-not-the-password"), std::string::npos);
  EXPECT_EQ(minted_users(), 0);
}

}  // namespace
}  // namespace segproxy::it
