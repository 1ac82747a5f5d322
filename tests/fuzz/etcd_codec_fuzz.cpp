// Fuzz target: the etcd JSON-gateway codec (etcd/codec) and the fleet instance record
// (fleet/instance_record), i.e. everything the proxy reads from etcd members.
// Input layout (fuzz_support.hpp): flags, four chunk sizes, then the bytes.
// Checked:
//   MessageSplitter: fed in chunks, it returns only newline-free, non-empty messages,
//   and messages + pending bytes are exactly the input without its newlines/blank lines.
//   Every decoder: a success carries no error; a decoded KeyValue's key and value
//   survive encode_put -> (base64) -> decode_range of a synthetic answer.
//   decode_instance: a decoded record re-encodes to a record that decodes equal.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "etcd/codec.hpp"
#include "fleet/instance_record.hpp"
#include "fuzz_support.hpp"

namespace {

using namespace segproxy;

void check_kvs(const std::vector<etcd::KeyValue>& kvs) {
  for (const etcd::KeyValue& kv : kvs) {
    // Re-encode the pair as a put body, lift its base64 fields into a range answer.
    const std::string put = etcd::encode_put(kv.key, kv.value);
    const std::string answer = "{\"kvs\":[" + put + "]}";
    auto back = etcd::decode_range(answer);
    FUZZ_CHECK(back.value.has_value());
    FUZZ_CHECK(back.value->kvs.size() == 1);
    FUZZ_CHECK(back.value->kvs[0].key == kv.key);
    FUZZ_CHECK(back.value->kvs[0].value == kv.value);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const fuzz::Input in = fuzz::split_input(data, size);
  const std::string_view bytes(reinterpret_cast<const char*>(in.stream.data()), in.stream.size());

  // Splitter invariants over chunked feeding.
  etcd::MessageSplitter splitter;
  std::vector<std::string> messages;
  std::size_t pos = 0;
  std::size_t turn = 0;
  bool ok = true;
  while (pos < bytes.size() && ok) {
    const std::size_t n = std::min(in.chunks[turn++ % 4], bytes.size() - pos);
    ok = splitter.feed(bytes.substr(pos, n), messages);
    pos += n;
  }
  FUZZ_CHECK(ok);  // inputs are far below the 16 MiB cap
  std::string joined;
  for (const std::string& m : messages) {
    FUZZ_CHECK(!m.empty());
    FUZZ_CHECK(m.find('\n') == std::string::npos);
    joined += m;
  }
  std::string expected;
  {
    std::string line;
    for (char c : bytes) {
      if (c == '\n') {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        expected += line;
        line.clear();
      } else {
        line += c;
      }
    }
    FUZZ_CHECK(splitter.pending() == line.size());
  }
  FUZZ_CHECK(joined == expected);

  for (const std::string& m : messages) {
    auto w = etcd::decode_watch_message(m);
    FUZZ_CHECK(w.value.has_value() || !w.error.message.empty());
    if (w) {
      FUZZ_CHECK(w.value->compact_revision >= 0);
      for (const auto& e : w.value->events) check_kvs({e.kv});
    }
  }

  auto range = etcd::decode_range(bytes);
  FUZZ_CHECK(range.value.has_value() || !range.error.message.empty());
  if (range) check_kvs(range.value->kvs);
  (void)etcd::decode_put(bytes);
  (void)etcd::decode_delete(bytes);
  (void)etcd::decode_txn(bytes);
  (void)etcd::decode_lease_grant(bytes);
  (void)etcd::decode_lease_keepalive(bytes);
  (void)etcd::decode_status(bytes);

  std::string error;
  auto rec = fleet::decode_instance(bytes, error);
  FUZZ_CHECK(rec.has_value() == error.empty());
  if (rec) {
    std::string again_error;
    auto again = fleet::decode_instance(fleet::encode_instance(*rec), again_error);
    FUZZ_CHECK(again.has_value());
    FUZZ_CHECK(*again == *rec);
  }
  return 0;
}
