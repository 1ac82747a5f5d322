// The etcd v3 client (etcd/client) against the real three-member TLS cluster of the
// test environment: KV at revisions, watches across clients, lease expiry, compaction,
// failover when the member in use stops, and mutual TLS both ways.
#include <signal.h>

#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "etcd/client.hpp"
#include "support/env.hpp"
#include "support/etcd_cluster.hpp"
#include "support/process.hpp"

namespace segproxy::it {
namespace {

using namespace std::chrono_literals;

std::unique_ptr<etcd::Client> make_client(const etcd::ClientOptions& o) {
  auto c = etcd::Client::create(o);
  EXPECT_TRUE(c) << c.error.message;
  return c ? std::move(*c.value) : nullptr;
}

// A key prefix no other test (or earlier run) uses.
std::string test_prefix(const std::string& name) { return "/segproxy-it/" + unique_name(name) + "/"; }

// Reads watch messages until `pred` holds for one of them (bounded by `rounds` waits).
template <class Pred>
std::optional<etcd::WatchResponse> wait_for(etcd::Watch& w, Pred pred, int rounds = 60) {
  for (int i = 0; i < rounds; ++i) {
    std::optional<etcd::WatchResponse> m = w.next(500ms);
    if (m && pred(*m)) return m;
    if (!w.ok()) return m;
  }
  return std::nullopt;
}

TEST(EtcdClient, PutThenRangeSeesTheValueAndOlderRevisionsKeepTheOldOne) {
  SEGPROXY_IT_REQUIRE_ETCD();
  auto c = make_client(etcd_cluster().client_options());
  ASSERT_TRUE(c);
  const std::string prefix = test_prefix("kv");
  const std::string key = prefix + "k";
  auto first = c->put(key, "one");
  ASSERT_TRUE(first) << first.error.message;
  auto second = c->put(key, std::string("two\0bytes", 9));
  ASSERT_TRUE(second) << second.error.message;
  EXPECT_GT(second.value->header.revision, first.value->header.revision);

  auto now = c->range_prefix(prefix);
  ASSERT_TRUE(now) << now.error.message;
  ASSERT_EQ(now.value->kvs.size(), 1u);
  EXPECT_EQ(now.value->kvs[0].value, std::string("two\0bytes", 9));
  EXPECT_EQ(now.value->kvs[0].version, 2);

  etcd::RangeRequest at;
  at.key = key;
  at.revision = first.value->header.revision;
  auto old = c->range(at);
  ASSERT_TRUE(old) << old.error.message;
  ASSERT_EQ(old.value->kvs.size(), 1u);
  EXPECT_EQ(old.value->kvs[0].value, "one");

  auto del = c->remove(key);
  ASSERT_TRUE(del) << del.error.message;
  EXPECT_EQ(del.value->deleted, 1);
  auto gone = c->range(etcd::RangeRequest{key, {}, 0, 0});
  ASSERT_TRUE(gone);
  EXPECT_TRUE(gone.value->kvs.empty());
}

TEST(EtcdClient, CompareAndSetWritesOnlyAtTheExpectedRevision) {
  SEGPROXY_IT_REQUIRE_ETCD();
  auto c = make_client(etcd_cluster().client_options());
  ASSERT_TRUE(c);
  const std::string key = test_prefix("cas") + "k";
  auto create = c->put_if_mod_revision(key, "v1", 0);
  ASSERT_TRUE(create) << create.error.message;
  EXPECT_TRUE(create.value->succeeded);
  auto again = c->put_if_mod_revision(key, "v2", 0);  // exists now
  ASSERT_TRUE(again);
  EXPECT_FALSE(again.value->succeeded);
  auto got = c->range(etcd::RangeRequest{key, {}, 0, 0});
  ASSERT_TRUE(got);
  ASSERT_EQ(got.value->kvs.size(), 1u);
  EXPECT_EQ(got.value->kvs[0].value, "v1");
  auto update = c->put_if_mod_revision(key, "v3", got.value->kvs[0].mod_revision);
  ASSERT_TRUE(update);
  EXPECT_TRUE(update.value->succeeded);
}

TEST(EtcdClient, WatchSeesPutsAndDeletesMadeByAnotherClientInOrder) {
  SEGPROXY_IT_REQUIRE_ETCD();
  auto watcher = make_client(etcd_cluster().client_options());
  auto writer = make_client(etcd_cluster().client_options());
  ASSERT_TRUE(watcher && writer);
  const std::string prefix = test_prefix("watch");
  etcd::WatchRequest req;
  req.key = prefix;
  req.range_end = etcd::prefix_range_end(prefix);
  auto w = watcher->watch(req);
  ASSERT_TRUE(w) << w.error.message;
  auto created = wait_for(**w.value, [](const etcd::WatchResponse& m) { return m.created; });
  ASSERT_TRUE(created) << (*w.value)->error();

  ASSERT_TRUE(writer->put(prefix + "a", "1"));
  ASSERT_TRUE(writer->put(prefix + "b", "2"));
  ASSERT_TRUE(writer->remove(prefix + "a"));

  std::vector<std::pair<etcd::WatchEvent::Type, std::string>> seen;
  for (int i = 0; i < 60 && seen.size() < 3; ++i) {
    auto m = (*w.value)->next(500ms);
    ASSERT_TRUE((*w.value)->ok()) << (*w.value)->error();
    if (!m) continue;
    for (const auto& e : m->events) seen.emplace_back(e.type, e.kv.key);
  }
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0], std::make_pair(etcd::WatchEvent::Type::Put, prefix + "a"));
  EXPECT_EQ(seen[1], std::make_pair(etcd::WatchEvent::Type::Put, prefix + "b"));
  EXPECT_EQ(seen[2], std::make_pair(etcd::WatchEvent::Type::Delete, prefix + "a"));
}

TEST(EtcdClient, WatchFromACompactedRevisionReportsCompactionSoTheCallerResyncs) {
  SEGPROXY_IT_REQUIRE_ETCD();
  auto c = make_client(etcd_cluster().client_options());
  ASSERT_TRUE(c);
  const std::string prefix = test_prefix("compact");
  auto first = c->put(prefix + "k", "1");
  ASSERT_TRUE(first) << first.error.message;
  auto last = c->put(prefix + "k", "2");
  ASSERT_TRUE(last);
  auto compacted = c->compact(last.value->header.revision);
  ASSERT_TRUE(compacted) << compacted.error.message;

  etcd::WatchRequest req;
  req.key = prefix;
  req.range_end = etcd::prefix_range_end(prefix);
  req.start_revision = first.value->header.revision;  // below the compaction
  auto w = c->watch(req);
  ASSERT_TRUE(w) << w.error.message;
  auto m = wait_for(**w.value, [](const etcd::WatchResponse& r) { return r.compact_revision != 0; });
  ASSERT_TRUE(m) << (*w.value)->error();
  EXPECT_EQ(m->compact_revision, last.value->header.revision);
  EXPECT_FALSE((*w.value)->ok());  // the watch is over: resync
}

TEST(EtcdClient, LeaseExpiryDeletesTheKeyAndKeepaliveReportsTheLeaseGone) {
  SEGPROXY_IT_REQUIRE_ETCD();
  auto c = make_client(etcd_cluster().client_options());
  ASSERT_TRUE(c);
  const std::string prefix = test_prefix("lease");
  auto lease = c->lease_grant(1);
  ASSERT_TRUE(lease) << lease.error.message;
  auto alive = c->lease_keepalive(lease.value->id);
  ASSERT_TRUE(alive) << alive.error.message;
  EXPECT_GT(alive.value->ttl, 0);

  etcd::WatchRequest req;
  req.key = prefix;
  req.range_end = etcd::prefix_range_end(prefix);
  auto w = c->watch(req);
  ASSERT_TRUE(w) << w.error.message;
  ASSERT_TRUE(wait_for(**w.value, [](const etcd::WatchResponse& m) { return m.created; }));
  auto put = c->put(prefix + "instance", "x", lease.value->id);
  ASSERT_TRUE(put) << put.error.message;

  // No keepalive any more: etcd deletes the key when the lease expires (bounded wait).
  auto deleted = wait_for(**w.value, [](const etcd::WatchResponse& m) {
    for (const auto& e : m.events) {
      if (e.type == etcd::WatchEvent::Type::Delete) return true;
    }
    return false;
  });
  ASSERT_TRUE(deleted) << (*w.value)->error();
  auto gone = c->range_prefix(prefix);
  ASSERT_TRUE(gone);
  EXPECT_TRUE(gone.value->kvs.empty());
  auto late = c->lease_keepalive(lease.value->id);
  ASSERT_TRUE(late) << late.error.message;
  EXPECT_EQ(late.value->ttl, 0);
  auto put_on_dead = c->put(prefix + "instance", "x", lease.value->id);
  ASSERT_FALSE(put_on_dead);
  EXPECT_EQ(put_on_dead.error.kind, etcd::Error::Kind::Server);
  EXPECT_NE(put_on_dead.error.message.find("lease not found"), std::string::npos);
}

TEST(EtcdClient, CallsFailOverToAnotherMemberWhenTheMemberInUseStops) {
  SEGPROXY_IT_REQUIRE_ETCD();
  const EtcdCluster& cluster = etcd_cluster();
  auto c = make_client(cluster.client_options());
  ASSERT_TRUE(c);
  const std::string key = test_prefix("failover") + "k";
  ASSERT_TRUE(c->put(key, "before"));
  const std::string used = c->current_endpoint();
  const int member = cluster.member_of(used);
  ASSERT_GE(member, 0) << used;

  ASSERT_EQ(cluster.stop_member(member), "");
  auto after = c->put(key, "after");
  const std::string restart = cluster.start_member(member);
  ASSERT_TRUE(after) << after.error.message;
  EXPECT_NE(c->current_endpoint(), used);
  auto got = c->range(etcd::RangeRequest{key, {}, 0, 0});
  ASSERT_TRUE(got) << got.error.message;
  ASSERT_EQ(got.value->kvs.size(), 1u);
  EXPECT_EQ(got.value->kvs[0].value, "after");
  ASSERT_EQ(restart, "");

  // The restarted member rejoins and serves again (bounded wait), for the next tests.
  etcd::ClientOptions only = cluster.client_options();
  only.endpoints = {used};
  auto direct = make_client(only);
  ASSERT_TRUE(direct);
  bool back = false;
  for (int i = 0; i < 60 && !back; ++i) {
    auto r = direct->range(etcd::RangeRequest{key, {}, 0, 0});
    back = r && r.value->kvs.size() == 1 && r.value->kvs[0].value == "after";
    if (!back) std::this_thread::sleep_for(500ms);
  }
  EXPECT_TRUE(back) << "member " << used << " did not rejoin";
}

TEST(EtcdClient, CallsFailOverWhenTheMemberInUseHangsPastTheRequestTimeout) {
  SEGPROXY_IT_REQUIRE_ETCD();
  const EtcdCluster& cluster = etcd_cluster();
  etcd::ClientOptions o = cluster.client_options();
  o.request_timeout = 1500ms;
  auto c = make_client(o);
  ASSERT_TRUE(c);
  const std::string key = test_prefix("frozen") + "k";
  ASSERT_TRUE(c->put(key, "before"));
  const std::string used = c->current_endpoint();
  const int member = cluster.member_of(used);
  ASSERT_GE(member, 0) << used;

  ASSERT_EQ(cluster.signal_member(member, SIGSTOP), "");  // accepts nothing, answers nothing
  auto after = c->put(key, "after");
  const std::string resumed = cluster.signal_member(member, SIGCONT);
  ASSERT_TRUE(after) << after.error.message;
  EXPECT_NE(c->current_endpoint(), used);
  ASSERT_EQ(resumed, "");
}

TEST(EtcdClient, AllMembersDownIsAnErrorWithinTheTimeoutNotAHang) {
  SEGPROXY_IT_REQUIRE_ETCD();
  etcd::ClientOptions o = etcd_cluster().client_options();
  o.endpoints = {"https://127.0.0.1:" + std::to_string(free_port()),
                 "https://127.0.0.1:" + std::to_string(free_port())};
  auto c = make_client(o);
  ASSERT_TRUE(c);
  auto r = c->put("/segproxy-it/nowhere", "x");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error.kind, etcd::Error::Kind::Unavailable);
  EXPECT_NE(r.error.message.find(o.endpoints[1]), std::string::npos) << r.error.message;
}

TEST(EtcdClient, ClientCertificateFromAnotherCaIsRefusedByEtcd) {
  SEGPROXY_IT_REQUIRE_ENV();
  SEGPROXY_IT_REQUIRE_ETCD();
  etcd::ClientOptions o = etcd_cluster().client_options();
  o.tls.cert = env().pki_file("client-spiffe.crt");  // the proxy's demo CA, not etcd's
  o.tls.key = env().pki_file("client-spiffe.key");
  auto c = make_client(o);
  ASSERT_TRUE(c);
  auto r = c->range(etcd::RangeRequest{"/segproxy-it/x", {}, 0, 0});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error.kind, etcd::Error::Kind::Unavailable) << r.error.message;
}

TEST(EtcdClient, MemberCertificateNotSignedByTheConfiguredCaIsRefused) {
  SEGPROXY_IT_REQUIRE_ENV();
  SEGPROXY_IT_REQUIRE_ETCD();
  etcd::ClientOptions o = etcd_cluster().client_options();
  o.tls.ca = env().pki_file("ca.crt");  // trusts the proxy's demo CA only
  auto c = make_client(o);
  ASSERT_TRUE(c);
  auto r = c->range(etcd::RangeRequest{"/segproxy-it/x", {}, 0, 0});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error.kind, etcd::Error::Kind::Unavailable);
  EXPECT_NE(r.error.message.find("certificate verify failed"), std::string::npos) << r.error.message;
}

TEST(EtcdClient, MissingTlsFilesAreAConfigurationError) {
  etcd::ClientOptions o;
  o.endpoints = {"https://127.0.0.1:2379"};
  o.tls = {"/nonexistent/ca.crt", "/nonexistent/c.crt", "/nonexistent/c.key"};
  auto c = etcd::Client::create(o);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error.kind, etcd::Error::Kind::Config);
  o.endpoints = {"http://127.0.0.1:2379"};
  auto plain = etcd::Client::create(o);
  ASSERT_FALSE(plain);
  EXPECT_NE(plain.error.message.find("https"), std::string::npos);
}

}  // namespace
}  // namespace segproxy::it
