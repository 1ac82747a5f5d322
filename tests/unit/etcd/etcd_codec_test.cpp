// The etcd v3 JSON gateway codec (etcd/codec): request bodies, answers as etcd 3.4
// writes them (captured from the test cluster), and malformed answers refused.
#include "etcd/codec.hpp"

#include <gtest/gtest.h>

#include "etcd/https_connection.hpp"

namespace segproxy::etcd {
namespace {

TEST(EtcdCodec, RequestKeysAndValuesAreBase64AndRevisionsAreStrings) {
  RangeRequest r;
  r.key = "/segproxy/prod/";
  r.range_end = prefix_range_end(r.key);
  r.revision = 42;
  EXPECT_EQ(encode_range(r),
            R"({"key":"L3NlZ3Byb3h5L3Byb2Qv","range_end":"L3NlZ3Byb3h5L3Byb2Qw","revision":"42"})");
  EXPECT_EQ(encode_put("a", "b", 7), R"({"key":"YQ==","value":"Yg==","lease":"7"})");
  EXPECT_EQ(encode_put("a", ""), R"({"key":"YQ==","value":""})");
  EXPECT_EQ(encode_lease_grant(10), R"({"TTL":"10"})");
  EXPECT_EQ(encode_lease_id(-5), R"({"ID":"-5"})");
}

TEST(EtcdCodec, PrefixRangeEndCoversExactlyThePrefix) {
  EXPECT_EQ(prefix_range_end("abc"), "abd");
  EXPECT_EQ(prefix_range_end(std::string("a\xff", 2)), "b");
  EXPECT_EQ(prefix_range_end(std::string("\xff\xff", 2)), std::string(1, '\0'));
  EXPECT_EQ(prefix_range_end(""), std::string(1, '\0'));
}

TEST(EtcdCodec, RangeAnswerDecodesKvsWithOmittedZeroFields) {
  auto d = decode_range(
      R"({"header":{"cluster_id":"1138818068370175900","member_id":"4457615606615797504","revision":"2","raft_term":"2"},)"
      R"("kvs":[{"key":"YQ==","create_revision":"2","mod_revision":"3","version":"2","value":"MQ=="}],"count":"1"})");
  ASSERT_TRUE(d) << d.error.message;
  EXPECT_EQ(d.value->header.revision, 2);
  EXPECT_EQ(d.value->header.member_id, 4457615606615797504ULL);
  ASSERT_EQ(d.value->kvs.size(), 1u);
  EXPECT_EQ(d.value->kvs[0].key, "a");
  EXPECT_EQ(d.value->kvs[0].value, "1");
  EXPECT_EQ(d.value->kvs[0].mod_revision, 3);
  EXPECT_EQ(d.value->kvs[0].lease, 0);
  EXPECT_EQ(d.value->count, 1);
  EXPECT_FALSE(d.value->more);
}

TEST(EtcdCodec, ErrorAnswerKeepsTheGrpcCodeAndMessage) {
  auto d = decode_put(
      R"({"error":"etcdserver: requested lease not found","message":"etcdserver: requested lease not found","code":5})");
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error.code, 5);
  EXPECT_EQ(d.error.message, "etcdserver: requested lease not found");
}

TEST(EtcdCodec, MalformedAnswersAreRefusedNotGuessed) {
  EXPECT_FALSE(decode_range(R"({"kvs":[{"key":"!!notbase64"}]})"));
  EXPECT_FALSE(decode_range(R"({"header":{"revision":"12x"}})"));
  EXPECT_FALSE(decode_range(R"({"header":{"revision":"-1"}})"));
  EXPECT_FALSE(decode_range(R"({"kvs":{}})"));
  EXPECT_FALSE(decode_range(R"([1,2])"));
  EXPECT_FALSE(decode_range(R"({"header":{}} trailing)"));
  EXPECT_EQ(decode_range("not json").error.code, -1);
  EXPECT_FALSE(decode_lease_grant(R"({"ID":"0","TTL":"5"})"));
  EXPECT_FALSE(decode_watch_message(R"({"result":{"events":[{"type":"MERGE","kv":{"key":"YQ=="}}]}})"));
  EXPECT_FALSE(decode_watch_message(R"({"header":{}})"));  // not wrapped in result
}

TEST(EtcdCodec, KeepaliveWithoutTtlMeansTheLeaseIsGone) {
  auto alive = decode_lease_keepalive(
      R"({"result":{"header":{"revision":"2"},"ID":"2379204955328480519","TTL":"5"}})");
  ASSERT_TRUE(alive);
  EXPECT_EQ(alive.value->id, 2379204955328480519LL);
  EXPECT_EQ(alive.value->ttl, 5);
  auto gone = decode_lease_keepalive(R"({"result":{"header":{"revision":"2"},"ID":"123"}})");
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone.value->ttl, 0);
}

TEST(EtcdCodec, WatchMessagesDecodePutDeleteProgressAndCompaction) {
  auto created = decode_watch_message(R"({"result":{"header":{"revision":"2"},"created":true}})");
  ASSERT_TRUE(created);
  EXPECT_TRUE(created.value->created);
  EXPECT_FALSE(created.value->is_progress_notify());

  auto put = decode_watch_message(
      R"({"result":{"header":{"revision":"3"},"events":[{"kv":{"key":"YQ==","create_revision":"3","mod_revision":"3","version":"1","value":"Yw=="}}]}})");
  ASSERT_TRUE(put);
  ASSERT_EQ(put.value->events.size(), 1u);
  EXPECT_EQ(put.value->events[0].type, WatchEvent::Type::Put);
  EXPECT_EQ(put.value->events[0].kv.value, "c");

  auto del = decode_watch_message(
      R"({"result":{"header":{"revision":"4"},"events":[{"type":"DELETE","kv":{"key":"YQ==","mod_revision":"4"}}]}})");
  ASSERT_TRUE(del);
  EXPECT_EQ(del.value->events[0].type, WatchEvent::Type::Delete);

  auto progress = decode_watch_message(R"({"result":{"header":{"revision":"9"}}})");
  ASSERT_TRUE(progress);
  EXPECT_TRUE(progress.value->is_progress_notify());
  EXPECT_EQ(progress.value->header.revision, 9);

  auto compacted = decode_watch_message(
      R"({"result":{"header":{"revision":"20"},"canceled":true,"compact_revision":"15"}})");
  ASSERT_TRUE(compacted);
  EXPECT_EQ(compacted.value->compact_revision, 15);
  EXPECT_FALSE(compacted.value->is_progress_notify());
}

TEST(EtcdCodec, WatchRequestCarriesStartRevisionAndProgressNotify) {
  WatchRequest w;
  w.key = "a";
  w.range_end = "b";
  w.start_revision = 5;
  EXPECT_EQ(encode_watch_create(w),
            R"({"create_request":{"key":"YQ==","range_end":"Yg==","start_revision":"5","progress_notify":true}})");
}

TEST(EtcdCodec, CompareAndSetComparesModRevision) {
  EXPECT_EQ(encode_put_if_mod_revision("a", "b", 0),
            R"({"compare":[{"result":"EQUAL","target":"MOD","key":"YQ==","mod_revision":"0"}],)"
            R"("success":[{"request_put":{"key":"YQ==","value":"Yg=="}}]})");
  auto t = decode_txn(R"({"header":{"revision":"5"},"succeeded":true,"responses":[{"response_put":{"header":{"revision":"5"}}}]})");
  ASSERT_TRUE(t);
  EXPECT_TRUE(t.value->succeeded);
}

TEST(EtcdCodec, SplitterReturnsWholeMessagesAcrossChunks) {
  MessageSplitter s;
  std::vector<std::string> out;
  ASSERT_TRUE(s.feed(R"({"result":{"crea)", out));
  EXPECT_TRUE(out.empty());
  ASSERT_TRUE(s.feed("ted\":true}}\n{\"result\":{}}\n{\"res", out));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0], R"({"result":{"created":true}})");
  EXPECT_EQ(out[1], R"({"result":{}})");
  EXPECT_EQ(s.pending(), 5u);
}

TEST(EtcdCodec, SplitterRefusesAMessageLongerThanTheCap) {
  MessageSplitter s;
  std::vector<std::string> out;
  std::string chunk(1024 * 1024, 'x');
  bool ok = true;
  for (int i = 0; i < 17 && ok; ++i) ok = s.feed(chunk, out);
  EXPECT_FALSE(ok);
  EXPECT_TRUE(out.empty());
}

TEST(EtcdEndpoint, OnlyHttpsEndpointsWithHostAndPortAreAccepted) {
  std::string error;
  auto ep = parse_endpoint("https://127.0.0.1:2379", error);
  ASSERT_TRUE(ep) << error;
  EXPECT_EQ(ep->host, "127.0.0.1");
  EXPECT_EQ(ep->port, "2379");
  auto v6 = parse_endpoint("https://[::1]:2379/", error);
  ASSERT_TRUE(v6) << error;
  EXPECT_EQ(v6->host, "::1");
  EXPECT_FALSE(parse_endpoint("http://127.0.0.1:2379", error));
  EXPECT_NE(error.find("https"), std::string::npos);
  EXPECT_FALSE(parse_endpoint("https://127.0.0.1", error));
  EXPECT_FALSE(parse_endpoint("https://127.0.0.1:0", error));
  EXPECT_FALSE(parse_endpoint("https://127.0.0.1:99999", error));
  EXPECT_FALSE(parse_endpoint("https://user@host:1", error));
  EXPECT_FALSE(parse_endpoint("https://:2379", error));
}

}  // namespace
}  // namespace segproxy::etcd
