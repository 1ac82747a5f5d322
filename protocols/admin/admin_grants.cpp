// Emergency-grant responses (admin_grants.hpp).
#include "protocols/admin/admin_grants.hpp"

namespace segproxy::protocols::admin {
namespace {

void put_grant(json::Writer& w, const GrantInfo& g) {
  w.begin_object()
      .field("id", g.id)
      .field("kind", selector_key(g.kind))
      .field("value", g.value)
      .field("tables", g.tables)
      .field("ops", g.ops)
      .field("statements", g.statements)
      .field("reason", g.reason)
      .field("created_at", format_time(g.created_at))
      .field("expires_at", format_time(g.expires_at))
      .field("created_by_uid", g.created_by_uid)
      .end_object();
}

void put_fleet(json::Writer& w, const std::optional<FleetWrite>& f) {
  if (!f) return;
  w.key("fleet").begin_object().field("revision", f->revision).field("queued", f->queued).end_object();
}

bool fail(std::string& error, std::string msg) {
  error = std::move(msg);
  return false;
}

bool read_string(const json::Value& obj, std::string_view key, std::string& out, std::string& error) {
  const json::Value* v = obj.find(key);
  if (v == nullptr || !v->is_string()) return fail(error, "grant." + std::string(key) + " must be a string");
  out = v->as_string();
  return true;
}

bool read_grant(const json::Value& v, GrantInfo& out, std::string& error) {
  if (!v.is_object()) return fail(error, "grant must be an object");
  std::string kind, created, expires;
  if (!read_string(v, "id", out.id, error) || !read_string(v, "kind", kind, error) ||
      !read_string(v, "value", out.value, error) || !read_string(v, "tables", out.tables, error) ||
      !read_string(v, "ops", out.ops, error) || !read_string(v, "statements", out.statements, error) ||
      !read_string(v, "reason", out.reason, error) || !read_string(v, "created_at", created, error) ||
      !read_string(v, "expires_at", expires, error)) {
    return false;
  }
  const auto k = selector_from_key(kind);
  if (!k) return fail(error, "grant.kind is unknown: " + kind.substr(0, 64));
  out.kind = *k;
  const auto c = parse_time(created), e = parse_time(expires);
  if (!c || !e) return fail(error, "grant.created_at / expires_at must be RFC 3339 UTC times");
  out.created_at = *c;
  out.expires_at = *e;
  const json::Value* uid = v.find("created_by_uid");
  if (uid == nullptr || !uid->is_int() || uid->as_int() < 0 || uid->as_int() > 0xFFFFFFFFLL) {
    return fail(error, "grant.created_by_uid must be a uid");
  }
  out.created_by_uid = static_cast<std::uint32_t>(uid->as_int());
  return true;
}

bool read_fleet(const json::Value& body, std::optional<FleetWrite>& out, std::string& error) {
  const json::Value* f = body.find("fleet");
  if (f == nullptr) return true;
  const json::Value* rev = f->is_object() ? f->find("revision") : nullptr;
  const json::Value* queued = f->is_object() ? f->find("queued") : nullptr;
  if (rev == nullptr || !rev->is_int() || rev->as_int() < 0 || queued == nullptr || !queued->is_bool()) {
    return fail(error, "fleet must hold revision and queued");
  }
  out = FleetWrite{static_cast<std::uint64_t>(rev->as_int()), queued->as_bool()};
  return true;
}

json::Writer ok_writer() {
  json::Writer w;
  w.begin_object().field("ok", true);
  return w;
}

}  // namespace

std::string encode_response(const GrantResult& r) {
  auto w = ok_writer();
  w.key("grant");
  put_grant(w, r.grant);
  put_fleet(w, r.fleet);
  w.end_object();
  return w.take();
}

std::string encode_response(const GrantsResult& r) {
  auto w = ok_writer();
  w.key("grants").begin_array();
  for (const auto& g : r.grants) put_grant(w, g);
  w.end_array().end_object();
  return w.take();
}

std::string encode_response(const UngrantResult& r) {
  auto w = ok_writer();
  w.key("removed");
  put_grant(w, r.removed);
  put_fleet(w, r.fleet);
  w.end_object();
  return w.take();
}

bool decode_response(const json::Value& body, GrantResult& out, std::string& error) {
  const json::Value* g = body.find("grant");
  if (g == nullptr) return fail(error, "response.grant is missing");
  return read_grant(*g, out.grant, error) && read_fleet(body, out.fleet, error);
}

bool decode_response(const json::Value& body, GrantsResult& out, std::string& error) {
  const json::Value* arr = body.find("grants");
  if (arr == nullptr || !arr->is_array()) return fail(error, "response.grants must be an array");
  for (const auto& item : arr->as_array()) {
    GrantInfo g;
    if (!read_grant(item, g, error)) return false;
    out.grants.push_back(std::move(g));
  }
  return true;
}

bool decode_response(const json::Value& body, UngrantResult& out, std::string& error) {
  const json::Value* g = body.find("removed");
  if (g == nullptr) return fail(error, "response.removed is missing");
  return read_grant(*g, out.removed, error) && read_fleet(body, out.fleet, error);
}

}  // namespace segproxy::protocols::admin
