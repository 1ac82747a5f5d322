// etcd::PrefixMirror against the real three-member cluster: range then watch with no gap,
// changes from another client applied in order, and a full resync (including what was
// written meanwhile) when the member serving the watch stops.
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "etcd/prefix_mirror.hpp"
#include "support/env.hpp"
#include "support/etcd_cluster.hpp"
#include "support/process.hpp"

namespace segproxy::it {
namespace {

using namespace std::chrono_literals;

// Polls until `pred(mirror)` holds (bounded: 60 polls of up to 500 ms).
template <class Pred>
bool poll_until(etcd::PrefixMirror& m, Pred pred, std::string& errors) {
  for (int i = 0; i < 60; ++i) {
    etcd::PrefixMirror::Step s = m.poll(500ms);
    if (!s.ok) errors += s.error + "; ";
    if (s.ok && pred(m)) return true;
  }
  return false;
}

TEST(EtcdMirror, RangeThenWatchMirrorsPutsAndDeletesFromAnotherClient) {
  SEGPROXY_IT_REQUIRE_ETCD();
  auto reader = etcd::Client::create(etcd_cluster().client_options());
  auto writer = etcd::Client::create(etcd_cluster().client_options());
  ASSERT_TRUE(reader && writer);
  const std::string prefix = "/segproxy-it/" + unique_name("mirror") + "/";
  ASSERT_TRUE((*writer.value)->put(prefix + "before", "0"));  // present before the first sync

  etcd::PrefixMirror mirror(**reader.value, prefix);
  etcd::PrefixMirror::Step first = mirror.poll(0ms);
  ASSERT_TRUE(first.ok) << first.error;
  EXPECT_TRUE(first.resynced);
  ASSERT_EQ(mirror.state().size(), 1u);
  EXPECT_EQ(mirror.state().at(prefix + "before").value, "0");

  ASSERT_TRUE((*writer.value)->put(prefix + "a", "1"));
  ASSERT_TRUE((*writer.value)->put(prefix + "b", "2"));
  auto del = (*writer.value)->remove(prefix + "before");
  ASSERT_TRUE(del);
  std::string errors;
  ASSERT_TRUE(poll_until(mirror, [&](const etcd::PrefixMirror& m) {
    return m.revision() >= del.value->header.revision;
  }, errors)) << errors;
  EXPECT_EQ(mirror.state().size(), 2u);
  EXPECT_EQ(mirror.state().count(prefix + "before"), 0u);
  EXPECT_EQ(mirror.state().at(prefix + "b").value, "2");
}

TEST(EtcdMirror, ResyncAfterTheWatchedMemberStopsMissesNothingWrittenMeanwhile) {
  SEGPROXY_IT_REQUIRE_ETCD();
  const EtcdCluster& cluster = etcd_cluster();
  auto reader = etcd::Client::create(cluster.client_options());
  auto writer = etcd::Client::create(cluster.client_options());
  ASSERT_TRUE(reader && writer);
  const std::string prefix = "/segproxy-it/" + unique_name("resync") + "/";
  etcd::PrefixMirror mirror(**reader.value, prefix);
  ASSERT_TRUE(mirror.poll(0ms).ok);
  const int member = cluster.member_of((*reader.value)->current_endpoint());
  ASSERT_GE(member, 0);

  ASSERT_EQ(cluster.stop_member(member), "");
  auto put = (*writer.value)->put(prefix + "while-down", "x");  // the writer fails over
  std::string errors;
  const bool seen = poll_until(mirror, [&](const etcd::PrefixMirror& m) {
    return m.state().count(prefix + "while-down") == 1;
  }, errors);
  const std::string restart = cluster.start_member(member);
  ASSERT_TRUE(put) << put.error.message;
  EXPECT_TRUE(seen) << errors;
  EXPECT_GE(mirror.revision(), put.value->header.revision);
  ASSERT_EQ(restart, "");
  // Let the member rejoin before the next test (bounded).
  etcd::ClientOptions only = cluster.client_options();
  only.endpoints = {cluster.endpoints[static_cast<std::size_t>(member)]};
  auto direct = etcd::Client::create(only);
  ASSERT_TRUE(direct);
  bool back = false;
  for (int i = 0; i < 60 && !back; ++i) {
    auto r = (*direct.value)->range_prefix(prefix);
    back = r && r.value->kvs.size() == 1;
    if (!back) std::this_thread::sleep_for(500ms);
  }
  EXPECT_TRUE(back);
}

}  // namespace
}  // namespace segproxy::it
