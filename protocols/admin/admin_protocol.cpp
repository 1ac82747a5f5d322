// Admin requests: parse (strict), encode, and the shared value formats (durations,
// RFC 3339 times). Responses are in admin_responses.cpp.
#include <charconv>
#include <cstdio>

#include "protocols/admin/admin_protocol.hpp"

namespace segproxy::protocols::admin {
namespace {

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

constexpr SelectorKind kSelectorKinds[] = {SelectorKind::Identity, SelectorKind::SpiffePrefix,
                                           SelectorKind::CertSerial, SelectorKind::Segment};

// Reads the request object's members against the keys a command allows.
class Fields {
 public:
  explicit Fields(const json::Value& obj) : obj_(obj) {}

  // Every key must be one of `allowed` (plus "cmd").
  std::string check_keys(std::string_view cmd, std::initializer_list<std::string_view> allowed) const {
    for (const auto& m : obj_.as_object()) {
      if (m.key == "cmd") continue;
      bool ok = false;
      for (const auto a : allowed) ok = ok || a == m.key;
      if (!ok) return "unknown key \"" + m.key.substr(0, 64) + "\" for cmd \"" + std::string(cmd) + "\"";
    }
    return {};
  }

  // Optional string value with the common checks; error text set on failure.
  bool string(std::string_view key, std::optional<std::string>& out, std::string& error,
              std::size_t max = kMaxValueBytes) const {
    const json::Value* v = obj_.find(key);
    if (v == nullptr) return true;
    const std::string k(key);
    if (!v->is_string()) return fail(error, "\"" + k + "\" must be a string");
    const std::string& s = v->as_string();
    if (s.empty()) return fail(error, "\"" + k + "\" must not be empty");
    if (s.size() > max) return fail(error, "\"" + k + "\" longer than " + std::to_string(max) + " bytes");
    if (has_control_character(s)) return fail(error, "\"" + k + "\" contains a control character");
    out = s;
    return true;
  }

  bool required(std::string_view key, std::string& out, std::string& error) const {
    std::optional<std::string> v;
    if (!string(key, v, error)) return false;
    if (!v) return fail(error, "missing \"" + std::string(key) + "\"");
    out = std::move(*v);
    return true;
  }

  // Exactly one selector key.
  bool selector(Selector& out, std::string& error) const {
    int found = 0;
    for (const auto kind : kSelectorKinds) {
      std::optional<std::string> v;
      if (!string(selector_key(kind), v, error)) return false;
      if (!v) continue;
      ++found;
      out = {kind, std::move(*v)};
    }
    if (found != 1) {
      return fail(error, found == 0 ? "missing selector: one of identity, spiffe_prefix, cert_serial, segment"
                                    : "more than one selector: give exactly one of identity, spiffe_prefix, "
                                      "cert_serial, segment");
    }
    error = check_selector(out);
    return error.empty();
  }

 private:
  static bool fail(std::string& error, std::string msg) {
    error = std::move(msg);
    return false;
  }
  const json::Value& obj_;
};

ParsedRequest failed(std::string error) {
  ParsedRequest r;
  r.error = std::move(error);
  return r;
}

ParsedRequest parse_object(const json::Value& root) {
  const json::Value* cmdv = root.find("cmd");
  if (cmdv == nullptr) return failed("missing \"cmd\"");
  if (!cmdv->is_string()) return failed("\"cmd\" must be a string");
  const std::string& cmd = cmdv->as_string();
  const Fields f(root);
  std::string error;
  const auto simple = [&](auto req) -> ParsedRequest {
    error = f.check_keys(cmd, {});
    if (!error.empty()) return failed(error);
    ParsedRequest r;
    r.request = Request{req};
    return r;
  };
  if (cmd == "status") return simple(StatusRequest{});
  if (cmd == "revocations") return simple(RevocationsRequest{});
  if (cmd == "reload") return simple(ReloadRequest{});
  if (cmd == "audit-checkpoint") return simple(AuditCheckpointRequest{});
  if (cmd == "grants") return simple(GrantsRequest{});
  if (cmd == "ungrant") {
    error = f.check_keys(cmd, {"id"});
    UngrantRequest u;
    if (!error.empty() || !f.required("id", u.id, error)) return failed(error);
    ParsedRequest r;
    r.request = Request{std::move(u)};
    return r;
  }
  if (cmd == "grant") {
    error = f.check_keys(cmd, {"identity", "spiffe_prefix", "segment", "tables", "ops", "statements", "ttl", "reason"});
    GrantRequest g;
    std::optional<std::string> statements, ttl, reason;
    if (!error.empty() || !f.selector(g.selector, error) || !f.required("tables", g.tables, error) ||
        !f.required("ops", g.ops, error) || !f.string("statements", statements, error) ||
        !f.string("ttl", ttl, error) || !f.string("reason", reason, error, kMaxReasonBytes)) {
      return failed(error);
    }
    if (statements) g.statements = std::move(*statements);
    if (reason) g.reason = std::move(*reason);
    if (ttl) {
      g.ttl = parse_duration(*ttl);
      if (!g.ttl) return failed("invalid \"ttl\": want a number and one unit s|m|h|d (e.g. 30m)");
    }
    ParsedRequest r;
    r.request = Request{std::move(g)};
    return r;
  }
  if (cmd == "sessions") {
    error = f.check_keys(cmd, {"segment", "identity"});
    SessionsRequest s;
    if (!error.empty() || !f.string("segment", s.segment, error) || !f.string("identity", s.identity, error)) {
      return failed(error);
    }
    ParsedRequest r;
    r.request = Request{std::move(s)};
    return r;
  }
  if (cmd == "kill") {
    error = f.check_keys(cmd, {"session_id"});
    KillRequest k;
    if (!error.empty() || !f.required("session_id", k.session_id, error)) return failed(error);
    ParsedRequest r;
    r.request = Request{std::move(k)};
    return r;
  }
  if (cmd == "unrevoke") {
    error = f.check_keys(cmd, {"identity", "spiffe_prefix", "cert_serial", "segment"});
    UnrevokeRequest u;
    if (!error.empty() || !f.selector(u.selector, error)) return failed(error);
    ParsedRequest r;
    r.request = Request{std::move(u)};
    return r;
  }
  if (cmd == "revoke") {
    error = f.check_keys(cmd, {"identity", "spiffe_prefix", "cert_serial", "segment", "reason", "ttl", "force"});
    RevokeRequest rv;
    std::optional<std::string> reason, ttl;
    if (!error.empty() || !f.selector(rv.selector, error) || !f.string("reason", reason, error, kMaxReasonBytes) ||
        !f.string("ttl", ttl, error)) {
      return failed(error);
    }
    if (const json::Value* force = root.find("force")) {
      if (!force->is_bool()) return failed("\"force\" must be true or false");
      rv.force = force->as_bool();
    }
    if (reason) rv.reason = std::move(*reason);
    if (ttl) {
      rv.ttl = parse_duration(*ttl);
      if (!rv.ttl) return failed("invalid \"ttl\": want a number and one unit s|m|h|d (e.g. 90m), at most 365d");
    }
    ParsedRequest r;
    r.request = Request{std::move(rv)};
    return r;
  }
  return failed("unknown cmd \"" + cmd.substr(0, 64) + "\"");
}

void put_selector(json::Writer& w, const Selector& s) { w.field(selector_key(s.kind), s.value); }

}  // namespace

std::string_view selector_key(SelectorKind k) {
  switch (k) {
    case SelectorKind::Identity: return "identity";
    case SelectorKind::SpiffePrefix: return "spiffe_prefix";
    case SelectorKind::CertSerial: return "cert_serial";
    case SelectorKind::Segment: return "segment";
  }
  return "identity";
}

std::optional<SelectorKind> selector_from_key(std::string_view key) {
  for (const auto kind : kSelectorKinds) {
    if (selector_key(kind) == key) return kind;
  }
  return std::nullopt;
}

std::string_view command_name(const Request& r) {
  return std::visit(Overloaded{
                        [](const StatusRequest&) { return std::string_view("status"); },
                        [](const SessionsRequest&) { return std::string_view("sessions"); },
                        [](const KillRequest&) { return std::string_view("kill"); },
                        [](const RevokeRequest&) { return std::string_view("revoke"); },
                        [](const UnrevokeRequest&) { return std::string_view("unrevoke"); },
                        [](const RevocationsRequest&) { return std::string_view("revocations"); },
                        [](const ReloadRequest&) { return std::string_view("reload"); },
                        [](const AuditCheckpointRequest&) { return std::string_view("audit-checkpoint"); },
                        [](const GrantRequest&) { return std::string_view("grant"); },
                        [](const GrantsRequest&) { return std::string_view("grants"); },
                        [](const UngrantRequest&) { return std::string_view("ungrant"); },
                    },
                    r);
}

std::string check_selector(const Selector& s) {
  const SelectorValueRule rule = s.kind == SelectorKind::SpiffePrefix ? SelectorValueRule::SpiffePrefix
                                 : s.kind == SelectorKind::CertSerial ? SelectorValueRule::CertSerial
                                                                      : SelectorValueRule::Name;
  return check_selector_value(selector_key(s.kind), rule, s.value);
}

ParsedRequest parse_request(std::string_view line) {
  if (line.size() > kMaxRequestLine) {
    return failed("request longer than " + std::to_string(kMaxRequestLine) + " bytes");
  }
  json::Limits limits;
  limits.max_bytes = kMaxRequestLine;
  limits.max_depth = 4;  // requests are flat objects
  const auto parsed = json::parse(line, limits);
  if (!parsed) return failed("invalid JSON at byte " + std::to_string(parsed.error_offset) + ": " + parsed.error);
  if (!parsed.value->is_object()) return failed("request must be a JSON object");
  return parse_object(*parsed.value);
}

std::string encode_request(const Request& r) {
  json::Writer w;
  w.begin_object().field("cmd", command_name(r));
  std::visit(Overloaded{
                 [&](const SessionsRequest& s) {
                   if (s.segment) w.field("segment", *s.segment);
                   if (s.identity) w.field("identity", *s.identity);
                 },
                 [&](const KillRequest& k) { w.field("session_id", k.session_id); },
                 [&](const RevokeRequest& rv) {
                   put_selector(w, rv.selector);
                   if (!rv.reason.empty()) w.field("reason", rv.reason);
                   if (rv.ttl) w.field("ttl", format_duration(*rv.ttl));
                   if (rv.force) w.field("force", true);
                 },
                 [&](const UnrevokeRequest& u) { put_selector(w, u.selector); },
                 [&](const GrantRequest& g) {
                   put_selector(w, g.selector);
                   w.field("tables", g.tables).field("ops", g.ops);
                   if (!g.statements.empty()) w.field("statements", g.statements);
                   if (g.ttl) w.field("ttl", format_duration(*g.ttl));
                   if (!g.reason.empty()) w.field("reason", g.reason);
                 },
                 [&](const UngrantRequest& u) { w.field("id", u.id); },
                 [](const auto&) {},
             },
             r);
  w.end_object();
  return w.take();
}

std::optional<std::chrono::seconds> parse_duration(std::string_view s) {
  if (s.size() < 2 || s.size() > 12) return std::nullopt;
  const char unit = s.back();
  const std::string_view num = s.substr(0, s.size() - 1);
  if (num.front() < '1' || num.front() > '9') return std::nullopt;  // no sign, no leading zero
  std::int64_t n = 0;
  const auto [ptr, ec] = std::from_chars(num.data(), num.data() + num.size(), n);
  if (ec != std::errc() || ptr != num.data() + num.size()) return std::nullopt;
  std::int64_t mult = 0;
  switch (unit) {
    case 's': mult = 1; break;
    case 'm': mult = 60; break;
    case 'h': mult = 3600; break;
    case 'd': mult = 86400; break;
    default: return std::nullopt;
  }
  if (n > kMaxTtl.count() / mult) return std::nullopt;
  return std::chrono::seconds(n * mult);
}

std::string format_duration(std::chrono::seconds d) {
  const std::int64_t s = d.count();
  if (s > 0 && s % 86400 == 0) return std::to_string(s / 86400) + "d";
  if (s > 0 && s % 3600 == 0) return std::to_string(s / 3600) + "h";
  if (s > 0 && s % 60 == 0) return std::to_string(s / 60) + "m";
  return std::to_string(s) + "s";
}

}  // namespace segproxy::protocols::admin
