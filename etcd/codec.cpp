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

// The body of every decode_*: parse the answer (a plain object, or the message inside a
// streamed {"result":...}), then let `fields` fill a T. `fields` returns what was wrong
// with the answer, empty when nothing was.
enum class Answer { Object, Result };

template <class T, class Fields>
Decoded<T> decode_answer(std::string_view body, Answer shape, Fields fields) {
  Decoded<T> out;
  std::optional<json::Value> v =
      shape == Answer::Result ? parse_result(body, out) : parse_object(body, out);
  if (!v) return out;
  T r{};
  if (const std::string_view problem = fields(*v, r); !problem.empty()) {
    return fail<T>(std::string(problem));
  }
  out.value = std::move(r);
  return out;
}

void bytes_field(json::Writer& w, std::string_view name, std::string_view raw) {
  w.key(name).value(base64_encode(raw));
}

void i64_field(json::Writer& w, std::string_view name, std::int64_t v) {
  w.key(name).value(std::to_string(v));
}

// The body of every encode_*: one JSON object whose members `fill` writes.
template <class Fill>
std::string encode_object(Fill fill) {
  json::Writer w;
  w.begin_object();
  fill(w);
  w.end_object();
  return w.take();
}

// A PutRequest's members (a plain put, and a transaction's request_put).
void put_fields(json::Writer& w, std::string_view key, std::string_view value, std::int64_t lease) {
  bytes_field(w, "key", key);
  bytes_field(w, "value", value);
  if (lease != 0) i64_field(w, "lease", lease);
}

// A key range's members: key, and range_end when it is one.
void range_fields(json::Writer& w, std::string_view key, std::string_view range_end) {
  bytes_field(w, "key", key);
  if (!range_end.empty()) bytes_field(w, "range_end", range_end);
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
  return encode_object([&](json::Writer& w) {
    range_fields(w, r.key, r.range_end);
    if (r.revision > 0) i64_field(w, "revision", r.revision);
    if (r.limit > 0) i64_field(w, "limit", r.limit);
  });
}

Decoded<RangeResponse> decode_range(std::string_view body) {
  return decode_answer<RangeResponse>(
      body, Answer::Object, [](const json::Value& v, RangeResponse& r) -> std::string_view {
        if (!decode_header(v, r.header) || !get_bool(v, "more", r.more) ||
            !get_i64(v, "count", r.count)) {
          return "malformed etcd range answer";
        }
        const json::Value* kvs = v.find("kvs");
        if (kvs == nullptr) return {};
        if (!kvs->is_array()) return "malformed etcd range answer: kvs";
        r.kvs.reserve(kvs->as_array().size());
        for (const json::Value& e : kvs->as_array()) {
          KeyValue kv;
          if (!decode_kv(e, kv)) return "malformed etcd range answer: kv";
          r.kvs.push_back(std::move(kv));
        }
        return {};
      });
}

std::string encode_put(std::string_view key, std::string_view value, std::int64_t lease) {
  return encode_object([&](json::Writer& w) { put_fields(w, key, value, lease); });
}

Decoded<PutResponse> decode_put(std::string_view body) {
  return decode_answer<PutResponse>(
      body, Answer::Object, [](const json::Value& v, PutResponse& r) -> std::string_view {
        return decode_header(v, r.header) ? "" : "malformed etcd put answer";
      });
}

std::string encode_delete(std::string_view key, std::string_view range_end) {
  return encode_object([&](json::Writer& w) { range_fields(w, key, range_end); });
}

Decoded<DeleteResponse> decode_delete(std::string_view body) {
  return decode_answer<DeleteResponse>(
      body, Answer::Object, [](const json::Value& v, DeleteResponse& r) -> std::string_view {
        const bool ok = decode_header(v, r.header) && get_i64(v, "deleted", r.deleted);
        return ok ? "" : "malformed etcd delete answer";
      });
}

std::string encode_compaction(std::int64_t revision) {
  return encode_object([&](json::Writer& w) {
    i64_field(w, "revision", revision);
    w.field("physical", true);
  });
}

std::string encode_put_if_mod_revision(std::string_view key, std::string_view value,
                                       std::int64_t expected_mod_revision, std::int64_t lease) {
  return encode_object([&](json::Writer& w) {
    w.key("compare").begin_array().begin_object();
    w.field("result", "EQUAL").field("target", "MOD");
    bytes_field(w, "key", key);
    i64_field(w, "mod_revision", expected_mod_revision);
    w.end_object().end_array();
    w.key("success").begin_array().begin_object().key("request_put").begin_object();
    put_fields(w, key, value, lease);
    w.end_object().end_object().end_array();
  });
}

Decoded<TxnResponse> decode_txn(std::string_view body) {
  return decode_answer<TxnResponse>(
      body, Answer::Object, [](const json::Value& v, TxnResponse& r) -> std::string_view {
        const bool ok = decode_header(v, r.header) && get_bool(v, "succeeded", r.succeeded);
        return ok ? "" : "malformed etcd txn answer";
      });
}

std::string encode_lease_grant(std::int64_t ttl_seconds) {
  return encode_object([&](json::Writer& w) { i64_field(w, "TTL", ttl_seconds); });
}

namespace {
bool decode_lease_fields(const json::Value& v, LeaseResponse& r) {
  return decode_header(v, r.header) && get_i64(v, "ID", r.id) && get_i64(v, "TTL", r.ttl);
}
}  // namespace

Decoded<LeaseResponse> decode_lease_grant(std::string_view body) {
  return decode_answer<LeaseResponse>(
      body, Answer::Object, [](const json::Value& v, LeaseResponse& r) -> std::string_view {
        const bool ok = decode_lease_fields(v, r) && r.id != 0 && r.ttl > 0;
        return ok ? "" : "malformed etcd lease grant answer";
      });
}

std::string encode_lease_id(std::int64_t id) {
  return encode_object([&](json::Writer& w) { i64_field(w, "ID", id); });
}

Decoded<LeaseResponse> decode_lease_keepalive(std::string_view body) {
  return decode_answer<LeaseResponse>(
      body, Answer::Result, [](const json::Value& v, LeaseResponse& r) -> std::string_view {
        return decode_lease_fields(v, r) ? "" : "malformed etcd keepalive answer";
      });
}

Decoded<Header> decode_header_only(std::string_view body) {
  return decode_answer<Header>(body, Answer::Object,
                               [](const json::Value& v, Header& h) -> std::string_view {
                                 return decode_header(v, h) ? "" : "malformed etcd answer: header";
                               });
}

Decoded<StatusResponse> decode_status(std::string_view body) {
  return decode_answer<StatusResponse>(
      body, Answer::Object, [](const json::Value& v, StatusResponse& r) -> std::string_view {
        const bool ok = decode_header(v, r.header) && get_string(v, "version", r.version) &&
                        get_u64(v, "leader", r.leader) && get_i64(v, "raftIndex", r.raft_index);
        return ok ? "" : "malformed etcd status answer";
      });
}

std::string encode_watch_create(const WatchRequest& r) {
  return encode_object([&](json::Writer& w) {
    w.key("create_request").begin_object();
    range_fields(w, r.key, r.range_end);
    if (r.start_revision > 0) i64_field(w, "start_revision", r.start_revision);
    if (r.progress_notify) w.field("progress_notify", true);
    if (r.prev_kv) w.field("prev_kv", true);
    w.end_object();
  });
}

Decoded<WatchResponse> decode_watch_message(std::string_view message) {
  return decode_answer<WatchResponse>(
      message, Answer::Result, [](const json::Value& v, WatchResponse& r) -> std::string_view {
        if (!decode_header(v, r.header) || !get_i64(v, "watch_id", r.watch_id) ||
            !get_bool(v, "created", r.created) || !get_bool(v, "canceled", r.canceled) ||
            !get_i64(v, "compact_revision", r.compact_revision) ||
            !get_string(v, "cancel_reason", r.cancel_reason) || r.compact_revision < 0) {
          return "malformed etcd watch message";
        }
        const json::Value* evs = v.find("events");
        if (evs == nullptr) return {};
        if (!evs->is_array()) return "malformed etcd watch message: events";
        r.events.reserve(evs->as_array().size());
        for (const json::Value& e : evs->as_array()) {
          if (!e.is_object()) return "malformed etcd watch event";
          WatchEvent ev;
          std::string type;
          if (!get_string(e, "type", type)) return "malformed etcd watch event";
          if (type.empty() || type == "PUT") {
            ev.type = WatchEvent::Type::Put;
          } else if (type == "DELETE") {
            ev.type = WatchEvent::Type::Delete;
          } else {
            return "unknown etcd watch event type";
          }
          const json::Value* kv = e.find("kv");
          if (kv == nullptr || !decode_kv(*kv, ev.kv)) return "malformed etcd watch event: kv";
          r.events.push_back(std::move(ev));
        }
        return {};
      });
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
