#pragma once
// The etcd v3 JSON gateway wire format (etcd 3.4, paths under /v3/): request bodies and
// response decoding. Pure (no I/O), so it is unit-tested and fuzzed on its own.
//
// Gateway conventions (grpc-gateway, proto3 JSON): keys and values are base64 (`bytes`);
// 64-bit integers are JSON strings ("revision":"12"), plain numbers are accepted too;
// fields with their zero value are omitted (a missing "TTL" is 0, a missing event "type"
// is PUT). Streaming answers (watch, lease keepalive) wrap each message as
// {"result":{...}}; errors are {"error":"...","code":N,"message":"..."}.
// Every decoder is bounded: the body is capped by kMaxBody (JSON reader limits), counts
// of kvs/events come from the body itself.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace segproxy::etcd {

// Largest response body the client accepts (a range over the whole fleet prefix must fit).
inline constexpr std::size_t kMaxBody = 16 * 1024 * 1024;

struct Header {
  std::int64_t revision = 0;
  std::uint64_t member_id = 0;
  std::uint64_t raft_term = 0;
};

struct KeyValue {
  std::string key;
  std::string value;
  std::int64_t create_revision = 0;
  std::int64_t mod_revision = 0;
  std::int64_t version = 0;
  std::int64_t lease = 0;
  friend bool operator==(const KeyValue&, const KeyValue&) = default;
};

// A gateway error answer (also a malformed body: code -1).
struct ServerError {
  int code = -1;  // gRPC status code (5 NOT_FOUND, 11 OUT_OF_RANGE, 14 UNAVAILABLE ...)
  std::string message;
};

template <class T>
struct Decoded {
  std::optional<T> value;
  ServerError error;  // meaningful when !value
  explicit operator bool() const { return value.has_value(); }
};

// The range end that makes [prefix, end) cover every key starting with `prefix`
// (etcd's clientv3.GetPrefixRangeEnd); "\0" when no such end exists (all keys).
std::string prefix_range_end(std::string_view prefix);

// ---- KV ----
struct RangeRequest {
  std::string key;
  std::string range_end;      // empty: only `key`
  std::int64_t revision = 0;  // 0: latest
  std::int64_t limit = 0;     // 0: no limit
};
struct RangeResponse {
  Header header;
  std::vector<KeyValue> kvs;
  bool more = false;
  std::int64_t count = 0;
};
std::string encode_range(const RangeRequest& r);
Decoded<RangeResponse> decode_range(std::string_view body);

struct PutResponse {
  Header header;
};
std::string encode_put(std::string_view key, std::string_view value, std::int64_t lease = 0);
Decoded<PutResponse> decode_put(std::string_view body);

struct DeleteResponse {
  Header header;
  std::int64_t deleted = 0;
};
std::string encode_delete(std::string_view key, std::string_view range_end = {});
Decoded<DeleteResponse> decode_delete(std::string_view body);

// Compaction of the history below `revision` (physical: wait until it is applied).
std::string encode_compaction(std::int64_t revision);

// Compare-and-set: put `value` at `key` only if its mod_revision equals
// `expected_mod_revision` (0: only if the key does not exist).
struct TxnResponse {
  Header header;
  bool succeeded = false;
};
std::string encode_put_if_mod_revision(std::string_view key, std::string_view value,
                                       std::int64_t expected_mod_revision,
                                       std::int64_t lease = 0);
Decoded<TxnResponse> decode_txn(std::string_view body);

// ---- leases ----
struct LeaseResponse {
  Header header;
  std::int64_t id = 0;
  std::int64_t ttl = 0;  // keepalive: 0 means the lease no longer exists
};
std::string encode_lease_grant(std::int64_t ttl_seconds);
Decoded<LeaseResponse> decode_lease_grant(std::string_view body);
std::string encode_lease_id(std::int64_t id);  // keepalive and revoke bodies
// Keepalive answers are wrapped in {"result":...}.
Decoded<LeaseResponse> decode_lease_keepalive(std::string_view body);
Decoded<Header> decode_header_only(std::string_view body);  // revoke

// ---- maintenance ----
struct StatusResponse {
  Header header;
  std::string version;
  std::uint64_t leader = 0;
  std::int64_t raft_index = 0;
};
Decoded<StatusResponse> decode_status(std::string_view body);

// ---- watch ----
struct WatchRequest {
  std::string key;
  std::string range_end;
  std::int64_t start_revision = 0;  // 0: from now
  bool progress_notify = true;
  bool prev_kv = false;
};
std::string encode_watch_create(const WatchRequest& r);

struct WatchEvent {
  enum class Type { Put, Delete };
  Type type = Type::Put;
  KeyValue kv;
};
struct WatchResponse {
  Header header;
  std::int64_t watch_id = 0;
  bool created = false;
  bool canceled = false;
  // Non-zero: the requested start revision was compacted; the caller must resync
  // (range at the current revision, then watch from revision + 1).
  std::int64_t compact_revision = 0;
  std::string cancel_reason;
  std::vector<WatchEvent> events;
  // An empty, non-created, non-canceled message is a progress notification: the
  // member has seen everything up to header.revision.
  bool is_progress_notify() const {
    return !created && !canceled && compact_revision == 0 && events.empty();
  }
};
// One message of the watch stream ({"result":...} or {"error":...}).
Decoded<WatchResponse> decode_watch_message(std::string_view message);

// Splits a streaming body into complete JSON messages. The gateway writes one object per
// message, separated by newlines; feed() returns the complete ones and keeps the rest.
// A pending message longer than kMaxBody is an error (returns false: drop the stream).
class MessageSplitter {
 public:
  bool feed(std::string_view bytes, std::vector<std::string>& out);
  std::size_t pending() const { return buf_.size(); }

 private:
  std::string buf_;
};

}  // namespace segproxy::etcd
