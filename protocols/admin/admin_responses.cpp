// Admin responses: encoders (proxy side) and decoders (segproxyctl side).
// Every response is one object with "ok" first; times are RFC 3339 UTC strings,
// durations are not sent (expires_at is absolute), counters are JSON integers.
#include <limits>

#include "protocols/admin/admin_protocol.hpp"

namespace segproxy::protocols::admin {
namespace {

json::Writer ok_writer() {
  json::Writer w;
  w.begin_object().field("ok", true);
  return w;
}

void put_revocation(json::Writer& w, const RevocationInfo& r) {
  w.begin_object()
      .field("id", r.id)
      .field("kind", selector_key(r.kind))
      .field("value", r.value)
      .field("reason", r.reason)
      .field("created_at", format_time(r.created_at));
  if (r.expires_at) w.field("expires_at", format_time(*r.expires_at));
  w.field("created_by_uid", r.created_by_uid).end_object();
}

void put_strings(json::Writer& w, std::string_view key, const std::vector<std::string>& v) {
  w.key(key).begin_array();
  for (const auto& s : v) w.value(s);
  w.end_array();
}

// ---- decoding helpers ----------------------------------------------------------------

class Reader {
 public:
  Reader(const json::Value& obj, std::string_view what, std::string& error)
      : obj_(obj), what_(what), error_(error) {
    if (!obj.is_object()) fail("", "must be an object");
  }
  bool ok() const { return ok_; }

  void str(std::string_view key, std::string& out) {
    if (const auto* v = get(key)) {
      if (v->is_string()) out = v->as_string();
      else fail(key, "must be a string");
    }
  }
  void u64(std::string_view key, std::uint64_t& out) {
    if (const auto* v = get(key)) {
      if (v->is_int() && v->as_int() >= 0) out = static_cast<std::uint64_t>(v->as_int());
      else fail(key, "must be a non-negative integer");
    }
  }
  void u32(std::string_view key, std::uint32_t& out) {
    std::uint64_t v = 0;
    u64(key, v);
    if (v > std::numeric_limits<std::uint32_t>::max()) fail(key, "out of range");
    out = static_cast<std::uint32_t>(v);
  }
  void boolean(std::string_view key, bool& out) {
    if (const auto* v = get(key)) {
      if (v->is_bool()) out = v->as_bool();
      else fail(key, "must be a boolean");
    }
  }
  void time(std::string_view key, TimePoint& out) {
    std::string s;
    str(key, s);
    if (!ok_) return;
    const auto t = parse_time(s);
    if (t) out = *t;
    else fail(key, "must be an RFC 3339 UTC time");
  }
  void optional_time(std::string_view key, std::optional<TimePoint>& out) {
    if (obj_.find(key) == nullptr) return;
    TimePoint t{};
    time(key, t);
    if (ok_) out = t;
  }
  void strings(std::string_view key, std::vector<std::string>& out) {
    const auto* v = array(key);
    if (v == nullptr) return;
    for (const auto& item : v->as_array()) {
      if (!item.is_string()) return fail(key, "must be an array of strings");
      out.push_back(item.as_string());
    }
  }
  const json::Value* array(std::string_view key) {
    const auto* v = get(key);
    if (v != nullptr && !v->is_array()) {
      fail(key, "must be an array");
      return nullptr;
    }
    return v;
  }
  const json::Value* object(std::string_view key) {
    const auto* v = get(key);
    if (v != nullptr && !v->is_object()) {
      fail(key, "must be an object");
      return nullptr;
    }
    return v;
  }

 private:
  const json::Value* get(std::string_view key) {
    if (!ok_) return nullptr;
    const auto* v = obj_.find(key);
    if (v == nullptr) fail(key, "is missing");
    return v;
  }
  void fail(std::string_view key, std::string_view msg) {
    if (!ok_) return;
    ok_ = false;
    error_ = std::string(what_);
    if (!key.empty()) error_ += std::string(".") + std::string(key);
    error_ += " ";
    error_ += msg;
  }

  const json::Value& obj_;
  std::string_view what_;
  std::string& error_;
  bool ok_ = true;
};

bool read_revocation(const json::Value& v, RevocationInfo& out, std::string& error) {
  Reader rd(v, "revocation", error);
  std::string kind;
  rd.str("id", out.id);
  rd.str("kind", kind);
  rd.str("value", out.value);
  rd.str("reason", out.reason);
  rd.time("created_at", out.created_at);
  rd.optional_time("expires_at", out.expires_at);
  rd.u32("created_by_uid", out.created_by_uid);
  if (!rd.ok()) return false;
  const auto k = selector_from_key(kind);
  if (!k) {
    error = "revocation.kind is unknown: " + kind.substr(0, 64);
    return false;
  }
  out.kind = *k;
  return true;
}

bool read_revocations(Reader& rd, std::string_view key, std::vector<RevocationInfo>& out, std::string& error) {
  const auto* arr = rd.array(key);
  if (!rd.ok()) return false;
  for (const auto& item : arr->as_array()) {
    RevocationInfo r;
    if (!read_revocation(item, r, error)) return false;
    out.push_back(std::move(r));
  }
  return true;
}

}  // namespace

// ---- encoders ------------------------------------------------------------------------

std::string encode_error(std::string_view message) {
  json::Writer w;
  w.begin_object().field("ok", false).field("error", message).end_object();
  return w.take();
}

std::string encode_response(const StatusInfo& s) {
  auto w = ok_writer();
  w.field("version", s.version)
      .field("uptime_seconds", s.uptime_seconds)
      .field("config_version", s.config_version)
      .field("config_path", s.config_path)
      .field("sessions_active", s.sessions_active);
  w.key("sessions_by_segment").begin_object();
  for (const auto& [segment, n] : s.sessions_by_segment) w.field(segment, n);
  w.end_object();
  w.field("revocations_active", s.revocations_active);
  w.key("listeners").begin_array();
  for (const auto& l : s.listeners) {
    w.begin_object().field("name", l.name).field("protocol", l.protocol).field("address", l.address).end_object();
  }
  w.end_array().end_object();
  return w.take();
}

std::string encode_response(const SessionsResult& r) {
  auto w = ok_writer();
  w.key("sessions").begin_array();
  for (const auto& s : r.sessions) {
    w.begin_object()
        .field("id", s.id)
        .field("identity", s.identity)
        .field("spiffe_id", s.spiffe_id)
        .field("cn", s.cn)
        .field("segment", s.segment)
        .field("listener", s.listener)
        .field("protocol", s.protocol)
        .field("client_addr", s.client_addr)
        .field("database", s.database)
        .field("backend_user", s.backend_user)
        .field("started", format_time(s.started))
        .field("current_statement", s.current_statement)
        .field("bytes_in", s.bytes_in)
        .field("bytes_out", s.bytes_out)
        .end_object();
  }
  w.end_array().end_object();
  return w.take();
}

std::string encode_response(const KillResult& k) {
  auto w = ok_writer();
  w.field("session_id", k.session_id).end_object();
  return w.take();
}

namespace {
void put_fleet(json::Writer& w, const std::optional<FleetWrite>& f) {
  if (!f) return;
  w.key("fleet").begin_object().field("revision", f->revision).field("queued", f->queued).end_object();
}
// Optional "fleet" object (a proxy without a control plane sends none).
bool read_fleet(const json::Value& body, std::optional<FleetWrite>& out, std::string& error) {
  const json::Value* f = body.find("fleet");
  if (f == nullptr) return true;
  Reader rd(*f, "fleet", error);
  FleetWrite w;
  rd.u64("revision", w.revision);
  rd.boolean("queued", w.queued);
  if (!rd.ok()) return false;
  out = w;
  return true;
}
}  // namespace

std::string encode_response(const RevokeResult& r) {
  auto w = ok_writer();
  w.key("revocation");
  put_revocation(w, r.revocation);
  w.field("sessions_terminated", r.sessions_terminated);
  put_fleet(w, r.fleet);
  w.end_object();
  return w.take();
}

std::string encode_response(const UnrevokeResult& r) {
  auto w = ok_writer();
  w.key("removed").begin_array();
  for (const auto& rv : r.removed) put_revocation(w, rv);
  w.end_array();
  put_fleet(w, r.fleet);
  w.end_object();
  return w.take();
}

std::string encode_response(const RevocationsResult& r) {
  auto w = ok_writer();
  w.key("revocations").begin_array();
  for (const auto& rv : r.revocations) put_revocation(w, rv);
  w.end_array().end_object();
  return w.take();
}

std::string encode_response(const ReloadResult& r) {
  json::Writer w;
  w.begin_object().field("ok", r.ok);
  if (!r.ok) {
    w.field("error", r.errors.empty() ? std::string("configuration rejected")
                                      : "configuration rejected: " + r.errors.front());
  }
  w.field("old_hash", r.old_hash).field("new_hash", r.new_hash);
  put_strings(w, "errors", r.errors);
  put_strings(w, "restart_required", r.restart_required);
  w.end_object();
  return w.take();
}

std::string encode_response(const CheckpointResult& c) {
  auto w = ok_writer();
  w.field("seq", c.seq).field("head_hash", c.head_hash).end_object();
  return w.take();
}

// ---- decoders ------------------------------------------------------------------------

std::optional<Envelope> decode_envelope(std::string_view line, std::string& error) {
  json::Limits limits;
  limits.max_bytes = kMaxResponseLine;
  limits.max_string = kMaxResponseLine;
  auto parsed = json::parse(line, limits);
  if (!parsed) {
    error = "invalid JSON response at byte " + std::to_string(parsed.error_offset) + ": " + parsed.error;
    return std::nullopt;
  }
  Envelope env;
  Reader rd(*parsed.value, "response", error);
  rd.boolean("ok", env.ok);
  if (rd.ok() && !env.ok) rd.str("error", env.error);
  if (!rd.ok()) return std::nullopt;
  env.body = std::move(*parsed.value);
  return env;
}

bool decode_response(const json::Value& body, StatusInfo& out, std::string& error) {
  Reader rd(body, "status", error);
  rd.str("version", out.version);
  rd.u64("uptime_seconds", out.uptime_seconds);
  rd.str("config_version", out.config_version);
  rd.str("config_path", out.config_path);
  rd.u64("sessions_active", out.sessions_active);
  rd.u64("revocations_active", out.revocations_active);
  const auto* by_segment = rd.object("sessions_by_segment");
  const auto* listeners = rd.array("listeners");
  if (!rd.ok()) return false;
  for (const auto& m : by_segment->as_object()) {
    if (!m.value.is_int() || m.value.as_int() < 0) {
      error = "status.sessions_by_segment values must be non-negative integers";
      return false;
    }
    out.sessions_by_segment.emplace_back(m.key, static_cast<std::uint64_t>(m.value.as_int()));
  }
  for (const auto& item : listeners->as_array()) {
    ListenerInfo l;
    Reader lr(item, "listener", error);
    lr.str("name", l.name);
    lr.str("protocol", l.protocol);
    lr.str("address", l.address);
    if (!lr.ok()) return false;
    out.listeners.push_back(std::move(l));
  }
  return true;
}

bool decode_response(const json::Value& body, SessionsResult& out, std::string& error) {
  Reader rd(body, "response", error);
  const auto* arr = rd.array("sessions");
  if (!rd.ok()) return false;
  for (const auto& item : arr->as_array()) {
    SessionInfo s;
    Reader sr(item, "session", error);
    sr.str("id", s.id);
    sr.str("identity", s.identity);
    sr.str("spiffe_id", s.spiffe_id);
    sr.str("cn", s.cn);
    sr.str("segment", s.segment);
    sr.str("listener", s.listener);
    sr.str("protocol", s.protocol);
    sr.str("client_addr", s.client_addr);
    sr.str("database", s.database);
    sr.str("backend_user", s.backend_user);
    sr.time("started", s.started);
    sr.str("current_statement", s.current_statement);
    sr.u64("bytes_in", s.bytes_in);
    sr.u64("bytes_out", s.bytes_out);
    if (!sr.ok()) return false;
    out.sessions.push_back(std::move(s));
  }
  return true;
}

bool decode_response(const json::Value& body, KillResult& out, std::string& error) {
  Reader rd(body, "response", error);
  rd.str("session_id", out.session_id);
  return rd.ok();
}

bool decode_response(const json::Value& body, RevokeResult& out, std::string& error) {
  Reader rd(body, "response", error);
  rd.u64("sessions_terminated", out.sessions_terminated);
  const auto* rv = rd.object("revocation");
  if (!rd.ok()) return false;
  return read_revocation(*rv, out.revocation, error) && read_fleet(body, out.fleet, error);
}

bool decode_response(const json::Value& body, UnrevokeResult& out, std::string& error) {
  Reader rd(body, "response", error);
  return read_revocations(rd, "removed", out.removed, error) && read_fleet(body, out.fleet, error);
}

bool decode_response(const json::Value& body, RevocationsResult& out, std::string& error) {
  Reader rd(body, "response", error);
  return read_revocations(rd, "revocations", out.revocations, error);
}

bool decode_response(const json::Value& body, ReloadResult& out, std::string& error) {
  Reader rd(body, "response", error);
  rd.boolean("ok", out.ok);
  rd.str("old_hash", out.old_hash);
  rd.str("new_hash", out.new_hash);
  rd.strings("errors", out.errors);
  rd.strings("restart_required", out.restart_required);
  return rd.ok();
}

bool decode_response(const json::Value& body, CheckpointResult& out, std::string& error) {
  Reader rd(body, "response", error);
  rd.u64("seq", out.seq);
  rd.str("head_hash", out.head_hash);
  return rd.ok();
}

}  // namespace segproxy::protocols::admin
