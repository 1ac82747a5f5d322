#include "daemon/control/fleet_state.hpp"

#include <fstream>

#include "audit/hash_chain.hpp"
#include "authz/persisted_list.hpp"  // write_file_atomically
#include "json/json.hpp"

namespace segproxy::proxy {
namespace {

constexpr std::size_t kMaxStateBytes = 16 * 1024 * 1024;
constexpr std::size_t kMaxPending = 100000;

}  // namespace

std::string revocations_prefix(std::string_view prefix) { return std::string(prefix) + "/revocations/"; }

std::string revocation_key(std::string_view prefix, authz::RevocationKind kind, std::string_view value) {
  return revocations_prefix(prefix) + std::string(authz::to_string(kind)) + "/" + audit::sha256_hex(value);
}

std::string encode_fleet_revocation(const authz::Revocation& r) { return authz::encode_revocation_line(r); }

std::optional<authz::Revocation> decode_fleet_revocation(std::string_view value, std::string& error) {
  if (value.empty() || value.size() > 64 * 1024 || value.find('\n') != std::string_view::npos) {
    error = "not a single revocation line";
    return std::nullopt;
  }
  auto list = authz::decode_revocation_file(std::string(value) + "\n", error);
  if (!list || list->size() != 1) {
    if (error.empty()) error = "not a single revocation";
    return std::nullopt;
  }
  return std::move(list->front());
}

void apply_op(std::vector<authz::Revocation>& set, const FleetOp& op) {
  const auto& r = op.revocation;
  std::erase_if(set, [&](const authz::Revocation& x) { return x.kind == r.kind && x.value == r.value; });
  if (op.type == FleetOp::Type::Put) set.push_back(r);
}

std::string encode_state_file(const FleetStateFile& s) {
  json::Writer w;
  w.begin_object().field("revision", s.revision).field("confirmed_at", s.confirmed_at);
  w.key("pending").begin_array();
  for (const auto& op : s.pending) {
    w.begin_object();
    if (op.type == FleetOp::Type::Put) {
      w.field("op", "put").field("revocation", encode_fleet_revocation(op.revocation));
    } else {
      w.field("op", "delete")
          .field("kind", authz::to_string(op.revocation.kind))
          .field("value", op.revocation.value);
    }
    w.end_object();
  }
  w.end_array().end_object();
  std::string out = w.take();
  out.push_back('\n');
  return out;
}

std::optional<FleetStateFile> decode_state_file(std::string_view text, std::string& error) {
  if (text.size() > kMaxStateBytes) {
    error = "larger than " + std::to_string(kMaxStateBytes) + " bytes";
    return std::nullopt;
  }
  json::Limits limits;
  limits.max_bytes = kMaxStateBytes;
  const auto parsed = json::parse(text, limits);
  if (!parsed) {
    error = "invalid JSON at byte " + std::to_string(parsed.error_offset) + ": " + parsed.error;
    return std::nullopt;
  }
  const json::Value& v = *parsed.value;
  const json::Value* rev = v.is_object() ? v.find("revision") : nullptr;
  const json::Value* conf = v.is_object() ? v.find("confirmed_at") : nullptr;
  const json::Value* pending = v.is_object() ? v.find("pending") : nullptr;
  if (rev == nullptr || !rev->is_int() || rev->as_int() < 0 || conf == nullptr || !conf->is_int() ||
      conf->as_int() < 0 || pending == nullptr || !pending->is_array() || pending->as_array().size() > kMaxPending) {
    error = "expected {\"revision\":N,\"confirmed_at\":N,\"pending\":[...]}";
    return std::nullopt;
  }
  FleetStateFile s;
  s.revision = rev->as_int();
  s.confirmed_at = conf->as_int();
  for (const json::Value& p : pending->as_array()) {
    const json::Value* op = p.is_object() ? p.find("op") : nullptr;
    if (op == nullptr || !op->is_string()) {
      error = "pending entry without \"op\"";
      return std::nullopt;
    }
    FleetOp o;
    if (op->as_string() == "put") {
      const json::Value* r = p.find("revocation");
      if (r == nullptr || !r->is_string()) {
        error = "pending put without \"revocation\"";
        return std::nullopt;
      }
      auto rv = decode_fleet_revocation(r->as_string(), error);
      if (!rv) return std::nullopt;
      o.revocation = std::move(*rv);
    } else if (op->as_string() == "delete") {
      o.type = FleetOp::Type::Delete;
      const json::Value* k = p.find("kind");
      const json::Value* val = p.find("value");
      const auto kind = k && k->is_string() ? authz::revocation_kind_from_string(k->as_string()) : std::nullopt;
      if (!kind || val == nullptr || !val->is_string()) {
        error = "pending delete needs \"kind\" and \"value\"";
        return std::nullopt;
      }
      o.revocation.kind = *kind;
      auto norm = authz::normalize_revocation_value(*kind, val->as_string(), error);
      if (!norm) return std::nullopt;
      o.revocation.value = std::move(*norm);
    } else {
      error = "unknown op \"" + op->as_string().substr(0, 32) + "\"";
      return std::nullopt;
    }
    s.pending.push_back(std::move(o));
  }
  return s;
}

std::optional<FleetStateFile> load_state_file(const std::string& path, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec) && !ec) return FleetStateFile{};
    error = path + ": cannot read";
    return std::nullopt;
  }
  std::string text(kMaxStateBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  std::string why;
  auto s = decode_state_file(text, why);
  if (!s) error = path + ": " + why;
  return s;
}

bool save_state_file(const std::string& path, const FleetStateFile& s, std::string& error) {
  return authz::write_file_atomically(path, encode_state_file(s), error);
}

}  // namespace segproxy::proxy
