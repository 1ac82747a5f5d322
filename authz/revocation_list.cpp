#include "authz/revocation_list.hpp"

#include <algorithm>

#include "json/json.hpp"
#include "protocols/common/selector_value.hpp"
#include "protocols/common/time_text.hpp"

namespace segproxy::authz {
namespace {

namespace json = segproxy::json;

// Lower-case hex with ':' removed, for certificate fingerprints.
std::string normalize_fingerprint(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    if (c == ':') continue;
    out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  }
  return out;
}

std::optional<Revocation> decode_line(std::string_view line, std::string& error) {
  const auto v = decode_line_object(
      line, {"id", "kind", "value", "reason", "created_at", "expires_at", "created_by_uid"}, error);
  if (!v) return std::nullopt;
  auto id = id_member(*v, error);
  const auto kind = id ? word_member(*v, "kind", revocation_kind_from_string, error) : std::nullopt;
  auto strings = kind ? string_members<2>(*v, {"value", "reason"}, error) : std::nullopt;
  const auto created = strings ? time_member(*v, "created_at", error) : std::nullopt;
  if (!created) return std::nullopt;
  auto& [value, reason] = *strings;
  Revocation r;
  r.id = std::move(*id);
  r.kind = *kind;
  auto normalised = normalize_revocation_value(r.kind, value, error);
  if (!normalised) return std::nullopt;
  r.value = std::move(*normalised);
  r.reason = std::move(reason);
  r.created_at = *created;
  if (v->find("expires_at") != nullptr) {
    r.expires_at = time_member(*v, "expires_at", error);
    if (!r.expires_at) return std::nullopt;
  }
  const auto uid = uid_member(*v, error);
  if (!uid) return std::nullopt;
  r.created_by_uid = *uid;
  return r;
}

}  // namespace

std::string_view to_string(RevocationKind k) {
  switch (k) {
    case RevocationKind::Identity: return "identity";
    case RevocationKind::SpiffePrefix: return "spiffe_prefix";
    case RevocationKind::CertSerial: return "cert_serial";
    case RevocationKind::Segment: return "segment";
  }
  return "identity";
}

std::optional<RevocationKind> revocation_kind_from_string(std::string_view s) {
  for (const auto k : {RevocationKind::Identity, RevocationKind::SpiffePrefix, RevocationKind::CertSerial,
                       RevocationKind::Segment}) {
    if (to_string(k) == s) return k;
  }
  return std::nullopt;
}

std::string normalize_serial(std::string_view s) {
  std::string out;
  for (const char c : s) {
    if (c == ':') continue;
    const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!hex) return {};
    if (out.empty() && c == '0') continue;  // leading zero
    out.push_back(c >= 'a' && c <= 'f' ? static_cast<char>(c - 'a' + 'A') : c);
  }
  if (out.empty()) {
    const bool any_digit = std::any_of(s.begin(), s.end(), [](char c) { return c != ':'; });
    return any_digit ? "0" : "";
  }
  return out;
}

bool spiffe_prefix_matches(std::string_view prefix, std::string_view spiffe_id) {
  if (prefix.substr(0, 9) != "spiffe://" || spiffe_id.size() < prefix.size()) return false;
  if (spiffe_id.substr(0, prefix.size()) != prefix) return false;
  if (spiffe_id.size() == prefix.size() || prefix.back() == '/') return true;
  return spiffe_id[prefix.size()] == '/';
}

bool identity_matches(std::string_view selector, const ClientIdentity& id) {
  if (selector.empty()) return false;
  if (!id.spiffe_id.empty() && selector == id.spiffe_id) return true;
  if (!id.cn.empty() && selector == id.cn) return true;
  // The forms ClientIdentity::display() shows (sessions, logs): "CN=<cn>" (the "CN="
  // in any case, the name exactly) and "sha256:<at least 16 hex digits>" (a prefix of
  // the fingerprint, as shown).
  if (selector.size() > 3 && (selector[0] == 'C' || selector[0] == 'c') && (selector[1] == 'N' || selector[1] == 'n') &&
      selector[2] == '=') {
    if (!id.cn.empty() && selector.substr(3) == id.cn) return true;
  }
  if (id.sha256_hex.empty()) return false;
  if (selector.substr(0, 7) == "sha256:") {
    const std::string shown = normalize_fingerprint(selector.substr(7));
    const std::string full = normalize_fingerprint(id.sha256_hex);
    const bool hex = std::all_of(shown.begin(), shown.end(), [](char c) {
      return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
    });
    return hex && shown.size() >= 16 && shown.size() <= full.size() && full.compare(0, shown.size(), shown) == 0;
  }
  return normalize_fingerprint(selector) == normalize_fingerprint(id.sha256_hex);
}

bool matches(const Revocation& r, const ClientIdentity& id, std::string_view segment) {
  switch (r.kind) {
    case RevocationKind::Identity: return identity_matches(r.value, id);
    case RevocationKind::SpiffePrefix: return !id.spiffe_id.empty() && spiffe_prefix_matches(r.value, id.spiffe_id);
    case RevocationKind::CertSerial: {
      if (id.serial_hex.empty()) return false;
      return normalize_serial(id.serial_hex) == normalize_serial(r.value);
    }
    case RevocationKind::Segment: return !segment.empty() && segment == r.value;
  }
  return false;
}

std::optional<std::string> normalize_revocation_value(RevocationKind kind, std::string_view value,
                                                      std::string& error) {
  const protocols::SelectorValueRule rule = kind == RevocationKind::SpiffePrefix ? protocols::SelectorValueRule::SpiffePrefix
                                            : kind == RevocationKind::CertSerial ? protocols::SelectorValueRule::CertSerial
                                                                                 : protocols::SelectorValueRule::Name;
  error = protocols::check_selector_value(to_string(kind), rule, value);
  if (!error.empty()) return std::nullopt;
  if (kind == RevocationKind::CertSerial) return normalize_serial(value);
  return std::string(value);
}

std::string encode_revocation_line(const Revocation& r) {
  json::Writer w;
  w.begin_object()
      .field("id", r.id)
      .field("kind", to_string(r.kind))
      .field("value", r.value)
      .field("reason", r.reason)
      .field("created_at", protocols::format_time(r.created_at));
  if (r.expires_at) w.field("expires_at", protocols::format_time(*r.expires_at));
  w.field("created_by_uid", r.created_by_uid).end_object();
  return w.take();
}

std::optional<std::vector<Revocation>> decode_revocation_file(std::string_view text, std::string& error) {
  return decode_list_file<Revocation>(text, decode_line, error);
}

// ---- RevocationList ------------------------------------------------------------------

RevocationList::RevocationList(std::filesystem::path file)
    : PersistedList(std::move(file), {encode_revocation_line, decode_revocation_file}) {}

RevocationList::Update RevocationList::add(RevocationKind kind, std::string_view value, std::string reason,
                                           std::optional<std::chrono::seconds> ttl, std::uint32_t created_by_uid,
                                           TimePoint now) {
  return change([&](const std::vector<Revocation>& cur, std::vector<Revocation>& added,
                    std::string& error) -> std::optional<std::vector<Revocation>> {
    auto normalised = normalize_revocation_value(kind, value, error);
    if (!normalised) return std::nullopt;
    std::vector<Revocation> next;
    for (const auto& r : cur) {
      if (!(r.kind == kind && r.value == *normalised)) next.push_back(r);
    }
    Revocation r;
    r.id = new_list_id(cur, 'n');
    r.kind = kind;
    r.value = std::move(*normalised);
    r.reason = std::move(reason);
    r.created_at = std::chrono::floor<std::chrono::seconds>(now);  // the file keeps whole seconds
    if (ttl) r.expires_at = r.created_at + *ttl;
    r.created_by_uid = created_by_uid;
    next.push_back(r);
    added.push_back(std::move(r));
    return next;
  });
}

RevocationList::Update RevocationList::remove(RevocationKind kind, std::string_view value) {
  std::string error;
  auto normalised = normalize_revocation_value(kind, value, error);
  if (!normalised) {
    Update u;
    u.error = std::move(error);
    u.snapshot = snapshot();
    return u;
  }
  return remove_where([&](const Revocation& r) { return r.kind == kind && r.value == *normalised; });
}

std::optional<Revocation> RevocationList::find_match(const ClientIdentity& id, std::string_view segment,
                                                     TimePoint now) const {
  const auto cur = snapshot();
  for (const auto& r : *cur) {
    if (r.active_at(now) && matches(r, id, segment)) return r;
  }
  return std::nullopt;
}

}  // namespace segproxy::authz
