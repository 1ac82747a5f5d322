#include "etcd/codec.hpp"

#include <charconv>

#include "json/json.hpp"
#include "protocols/pg/scram_client.hpp"  // base64 (shared helper)

namespace segproxy::etcd {
namespace {

using protocols::pg::base64_decode;
using protocols::pg::base64_encode;

json::Limits body_limits() {
  json::Limits l;
  l.max_depth = 12;
  l.max_bytes = kMaxBody;
  l.max_string = kMaxBody;
  return l;
}

template <class T>
Decoded<T> fail(std::string message, int code = -1) {
  Decoded<T> d;
  d.error.code = code;
  d.error.message = std::move(message);
  return d;
}

// proto3 JSON int64/uint64: a string of digits or a plain number; missing: 0.
bool get_i64(const json::Value& obj, std::string_view name, std::int64_t& out) {
  out = 0;
  const json::Value* v = obj.find(name);
  if (v == nullptr || v->is_null()) return true;
  if (v->is_int()) {
    out = v->as_int();
    return true;
  }
  if (!v->is_string()) return false;
  const std::string& s = v->as_string();
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

bool get_u64(const json::Value& obj, std::string_view name, std::uint64_t& out) {
  out = 0;
  const json::Value* v = obj.find(name);
  if (v == nullptr || v->is_null()) return true;
  if (v->is_int()) {
    if (v->as_int() < 0) return false;
    out = static_cast<std::uint64_t>(v->as_int());
    return true;
  }
  if (!v->is_string()) return false;
  const std::string& s = v->as_string();
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

bool get_bool(const json::Value& obj, std::string_view name, bool& out) {
  out = false;
  const json::Value* v = obj.find(name);
  if (v == nullptr || v->is_null()) return true;
  if (!v->is_bool()) return false;
  out = v->as_bool();
  return true;
}

bool get_string(const json::Value& obj, std::string_view name, std::string& out) {
  out.clear();
  const json::Value* v = obj.find(name);
  if (v == nullptr || v->is_null()) return true;
  if (!v->is_string()) return false;
  out = v->as_string();
  return true;
}

bool get_bytes(const json::Value& obj, std::string_view name, std::string& out) {
  std::string text;
  if (!get_string(obj, name, text)) return false;
  out.clear();
  return text.empty() || base64_decode(text, out);
}

bool decode_header(const json::Value& obj, Header& h) {
  h = {};
  const json::Value* v = obj.find("header");
  if (v == nullptr) return true;
  if (!v->is_object()) return false;
  return get_i64(*v, "revision", h.revision) && get_u64(*v, "member_id", h.member_id) &&
         get_u64(*v, "raft_term", h.raft_term) && h.revision >= 0;
}

bool decode_kv(const json::Value& v, KeyValue& kv) {
  if (!v.is_object()) return false;
  return get_bytes(v, "key", kv.key) && get_bytes(v, "value", kv.value) &&
         get_i64(v, "create_revision", kv.create_revision) &&
         get_i64(v, "mod_revision", kv.mod_revision) && get_i64(v, "version", kv.version) &&
         get_i64(v, "lease", kv.lease);
}

// Parses the body; an {"error":...} answer or a non-object becomes the error.
template <class T>
std::optional<json::Value> parse_object(std::string_view body, Decoded<T>& out) {
  json::ParseResult p = json::parse(body, body_limits());
  if (!p) {
    out = fail<T>("malformed etcd answer: " + p.error);
    return std::nullopt;
  }
  if (!p.value->is_object()) {
    out = fail<T>("malformed etcd answer: not an object");
    return std::nullopt;
  }
  if (const json::Value* e = p.value->find("error"); e != nullptr) {
    std::int64_t code = -1;
    std::string message;
    if (!get_i64(*p.value, "code", code)) code = -1;
    if (!get_string(*p.value, "message", message) || message.empty()) {
      if (e->is_string()) message = e->as_string();
    }
    if (message.empty()) message = "etcd error";
    out = fail<T>(std::move(message), static_cast<int>(code));
    return std::nullopt;
  }
  return std::move(*p.value);
}

// Streaming answers: the message inside {"result":...}.
template <class T>
std::optional<json::Value> parse_result(std::string_view body, Decoded<T>& out) {
  std::optional<json::Value> v = parse_object(body, out);
  if (!v) return std::nullopt;
  const json::Value* r = v->find("result");
  if (r == nullptr || !r->is_object()) {
    out = fail<T>("malformed etcd answer: no result");
    return std::nullopt;
  }
  return *r;
}

void bytes_field(json::Writer& w, std::string_view name, std::string_view raw) {
  w.key(name).value(base64_encode(raw));
}

void i64_field(json::Writer& w, std::string_view name, std::int64_t v) {
  w.key(name).value(std::to_string(v));
}

}  // namespace

std::string prefix_range_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto& c = reinterpret_cast<unsigned char&>(end.back());
    if (c < 0xff) {
      ++c;
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

std::string encode_range(const RangeRequest& r) {
  json::Writer w;
  w.begin_object();
  bytes_field(w, "key", r.key);
  if (!r.range_end.empty()) bytes_field(w, "range_end", r.range_end);
  if (r.revision > 0) i64_field(w, "revision", r.revision);
  if (r.limit > 0) i64_field(w, "limit", r.limit);
  w.end_object();
  return w.take();
}

Decoded<RangeResponse> decode_range(std::string_view body) {
  Decoded<RangeResponse> out;
  std::optional<json::Value> v = parse_object(body, out);
  if (!v) return out;
  RangeResponse r;
  if (!decode_header(*v, r.header) || !get_bool(*v, "more", r.more) ||
      !get_i64(*v, "count", r.count)) {
    return fail<RangeResponse>("malformed etcd range answer");
  }
  if (const json::Value* kvs = v->find("kvs"); kvs != nullptr) {
    if (!kvs->is_array()) return fail<RangeResponse>("malformed etcd range answer: kvs");
    r.kvs.reserve(kvs->as_array().size());
    for (const json::Value& e : kvs->as_array()) {
      KeyValue kv;
      if (!decode_kv(e, kv)) return fail<RangeResponse>("malformed etcd range answer: kv");
      r.kvs.push_back(std::move(kv));
    }
  }
  out.value = std::move(r);
  return out;
}

std::string encode_put(std::string_view key, std::string_view value, std::int64_t lease) {
  json::Writer w;
  w.begin_object();
  bytes_field(w, "key", key);
  bytes_field(w, "value", value);
  if (lease != 0) i64_field(w, "lease", lease);
  w.end_object();
  return w.take();
}

Decoded<PutResponse> decode_put(std::string_view body) {
  Decoded<PutResponse> out;
  std::optional<json::Value> v = parse_object(body, out);
  if (!v) return out;
  PutResponse r;
  if (!decode_header(*v, r.header)) return fail<PutResponse>("malformed etcd put answer");
  out.value = r;
  return out;
}

std::string encode_delete(std::string_view key, std::string_view range_end) {
  json::Writer w;
  w.begin_object();
  bytes_field(w, "key", key);
  if (!range_end.empty()) bytes_field(w, "range_end", range_end);
  w.end_object();
  return w.take();
}

Decoded<DeleteResponse> decode_delete(std::string_view body) {
  Decoded<DeleteResponse> out;
  std::optional<json::Value> v = parse_object(body, out);
  if (!v) return out;
  DeleteResponse r;
  if (!decode_header(*v, r.header) || !get_i64(*v, "deleted", r.deleted)) {
    return fail<DeleteResponse>("malformed etcd delete answer");
  }
  out.value = r;
  return out;
}

std::string encode_compaction(std::int64_t revision) {
  json::Writer w;
  w.begin_object();
  i64_field(w, "revision", revision);
  w.field("physical", true);
  w.end_object();
  return w.take();
}

std::string encode_put_if_mod_revision(std::string_view key, std::string_view value,
                                       std::int64_t expected_mod_revision, std::int64_t lease) {
  json::Writer w;
  w.begin_object();
  w.key("compare").begin_array().begin_object();
  w.field("result", "EQUAL").field("target", "MOD");
  bytes_field(w, "key", key);
  i64_field(w, "mod_revision", expected_mod_revision);
  w.end_object().end_array();
  w.key("success").begin_array().begin_object().key("request_put").begin_object();
  bytes_field(w, "key", key);
  bytes_field(w, "value", value);
  if (lease != 0) i64_field(w, "lease", lease);
  w.end_object().end_object().end_array();
  w.end_object();
  return w.take();
}

Decoded<TxnResponse> decode_txn(std::string_view body) {
  Decoded<TxnResponse> out;
  std::optional<json::Value> v = parse_object(body, out);
  if (!v) return out;
  TxnResponse r;
  if (!decode_header(*v, r.header) || !get_bool(*v, "succeeded", r.succeeded)) {
    return fail<TxnResponse>("malformed etcd txn answer");
  }
  out.value = r;
  return out;
}

std::string encode_lease_grant(std::int64_t ttl_seconds) {
  json::Writer w;
  w.begin_object();
  i64_field(w, "TTL", ttl_seconds);
  w.end_object();
  return w.take();
}

namespace {
bool decode_lease_fields(const json::Value& v, LeaseResponse& r) {
  return decode_header(v, r.header) && get_i64(v, "ID", r.id) && get_i64(v, "TTL", r.ttl);
}
}  // namespace

Decoded<LeaseResponse> decode_lease_grant(std::string_view body) {
  Decoded<LeaseResponse> out;
  std::optional<json::Value> v = parse_object(body, out);
  if (!v) return out;
  LeaseResponse r;
  if (!decode_lease_fields(*v, r) || r.id == 0 || r.ttl <= 0) {
    return fail<LeaseResponse>("malformed etcd lease grant answer");
  }
  out.value = r;
  return out;
}

std::string encode_lease_id(std::int64_t id) {
  json::Writer w;
  w.begin_object();
  i64_field(w, "ID", id);
  w.end_object();
  return w.take();
}

Decoded<LeaseResponse> decode_lease_keepalive(std::string_view body) {
  Decoded<LeaseResponse> out;
  std::optional<json::Value> v = parse_result(body, out);
  if (!v) return out;
  LeaseResponse r;
  if (!decode_lease_fields(*v, r)) return fail<LeaseResponse>("malformed etcd keepalive answer");
  out.value = r;
  return out;
}

Decoded<Header> decode_header_only(std::string_view body) {
  Decoded<Header> out;
  std::optional<json::Value> v = parse_object(body, out);
  if (!v) return out;
  Header h;
  if (!decode_header(*v, h)) return fail<Header>("malformed etcd answer: header");
  out.value = h;
  return out;
}

Decoded<StatusResponse> decode_status(std::string_view body) {
  Decoded<StatusResponse> out;
  std::optional<json::Value> v = parse_object(body, out);
  if (!v) return out;
  StatusResponse r;
  if (!decode_header(*v, r.header) || !get_string(*v, "version", r.version) ||
      !get_u64(*v, "leader", r.leader) || !get_i64(*v, "raftIndex", r.raft_index)) {
    return fail<StatusResponse>("malformed etcd status answer");
  }
  out.value = std::move(r);
  return out;
}

std::string encode_watch_create(const WatchRequest& r) {
  json::Writer w;
  w.begin_object().key("create_request").begin_object();
  bytes_field(w, "key", r.key);
  if (!r.range_end.empty()) bytes_field(w, "range_end", r.range_end);
  if (r.start_revision > 0) i64_field(w, "start_revision", r.start_revision);
  if (r.progress_notify) w.field("progress_notify", true);
  if (r.prev_kv) w.field("prev_kv", true);
  w.end_object().end_object();
  return w.take();
}

Decoded<WatchResponse> decode_watch_message(std::string_view message) {
  Decoded<WatchResponse> out;
  std::optional<json::Value> v = parse_result(message, out);
  if (!v) return out;
  WatchResponse r;
  if (!decode_header(*v, r.header) || !get_i64(*v, "watch_id", r.watch_id) ||
      !get_bool(*v, "created", r.created) || !get_bool(*v, "canceled", r.canceled) ||
      !get_i64(*v, "compact_revision", r.compact_revision) ||
      !get_string(*v, "cancel_reason", r.cancel_reason) || r.compact_revision < 0) {
    return fail<WatchResponse>("malformed etcd watch message");
  }
  if (const json::Value* evs = v->find("events"); evs != nullptr) {
    if (!evs->is_array()) return fail<WatchResponse>("malformed etcd watch message: events");
    r.events.reserve(evs->as_array().size());
    for (const json::Value& e : evs->as_array()) {
      if (!e.is_object()) return fail<WatchResponse>("malformed etcd watch event");
      WatchEvent ev;
      std::string type;
      if (!get_string(e, "type", type)) return fail<WatchResponse>("malformed etcd watch event");
      if (type.empty() || type == "PUT") {
        ev.type = WatchEvent::Type::Put;
      } else if (type == "DELETE") {
        ev.type = WatchEvent::Type::Delete;
      } else {
        return fail<WatchResponse>("unknown etcd watch event type");
      }
      const json::Value* kv = e.find("kv");
      if (kv == nullptr || !decode_kv(*kv, ev.kv)) {
        return fail<WatchResponse>("malformed etcd watch event: kv");
      }
      r.events.push_back(std::move(ev));
    }
  }
  out.value = std::move(r);
  return out;
}

bool MessageSplitter::feed(std::string_view bytes, std::vector<std::string>& out) {
  std::size_t start = 0;
  std::size_t limit_check = buf_.size();
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (bytes[i] != '\n') continue;
    if (limit_check + (i - start) > kMaxBody) return false;
    buf_.append(bytes.substr(start, i - start));
    // Skip blank separators (and a trailing '\r').
    if (!buf_.empty() && buf_.back() == '\r') buf_.pop_back();
    if (!buf_.empty()) out.push_back(std::move(buf_));
    buf_.clear();
    limit_check = 0;
    start = i + 1;
  }
  if (buf_.size() + (bytes.size() - start) > kMaxBody) return false;
  buf_.append(bytes.substr(start));
  return true;
}

}  // namespace segproxy::etcd
