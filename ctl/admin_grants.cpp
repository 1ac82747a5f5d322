#include "ctl/admin_grants.hpp"

#include <algorithm>

#include "authz/grants/grant.hpp"
#include "ctl/admin_options.hpp"
#include "protocols/admin/admin_grants.hpp"

namespace segproxy::proxy::ctl {
namespace {

namespace admin = protocols::admin;

std::string printable(std::string_view s) {
  std::string out;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    out.push_back(u < 0x20 || u == 0x7f ? ' ' : c);
  }
  return out;
}

void print_grants(std::ostream& out, const std::vector<admin::GrantInfo>& list) {
  std::vector<std::vector<std::string>> rows = {
      {"ID", "WHO", "TABLES", "OPS", "STATEMENTS", "EXPIRES", "UID", "REASON"}};
  for (const auto& g : list) {
    rows.push_back({printable(g.id), std::string(admin::selector_key(g.kind)) + "=" + printable(g.value),
                    printable(g.tables), printable(g.ops), g.statements.empty() ? "-" : printable(g.statements),
                    admin::format_time(g.expires_at), std::to_string(g.created_by_uid), printable(g.reason)});
  }
  std::vector<std::size_t> width(rows.front().size(), 0);
  for (const auto& r : rows) {
    for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  for (const auto& r : rows) {
    std::string line;
    for (std::size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line.append(width[i] - r[i].size() + 2, ' ');
    }
    out << line << "\n";
  }
}

void print_fleet(std::ostream& out, const std::optional<admin::FleetWrite>& f) {
  if (f) out << "written to etcd at revision " << f->revision << "\n";
}

}  // namespace

bool is_grant_command(std::string_view word) { return word == "grant" || word == "grants" || word == "ungrant"; }

std::string grant_usage() {
  return "       segproxyctl grant (--identity X | --spiffe-prefix P | --segment S) --tables T --ops O\n"
         "                         [--statements C] --ttl DURATION --reason TEXT [--socket PATH] [--json]\n"
         "       segproxyctl grants [--socket PATH] [--json]\n"
         "       segproxyctl ungrant ID [--socket PATH] [--json]\n";
}

std::optional<AdminInvocation> parse_grant_args(const std::vector<std::string>& args, std::string& error) {
  using namespace admin;
  const std::string& cmd = args.at(0);
  AdminInvocation inv;
  std::vector<std::string> positional;
  std::optional<Selector> selector;
  int selectors = 0;
  std::optional<std::string> tables, ops, statements, ttl, reason;
  static constexpr std::pair<std::string_view, SelectorKind> kSelectors[] = {
      {"--identity", SelectorKind::Identity},
      {"--spiffe-prefix", SelectorKind::SpiffePrefix},
      {"--segment", SelectorKind::Segment}};
  struct Named {
    std::string_view name;
    std::optional<std::string>* value;
  };
  const Named kValues[] = {{"--tables", &tables}, {"--ops", &ops}, {"--statements", &statements},
                           {"--ttl", &ttl},       {"--reason", &reason}};
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    std::string v;
    if (a == "--json") {
      inv.json = true;
      continue;
    }
    if (option_is(a, "--socket")) {
      if (!option_value(args, i, "--socket", inv.socket_path, error)) return std::nullopt;
      continue;
    }
    bool handled = false;
    for (const auto& [name, kind] : kSelectors) {
      if (cmd != "grant" || !option_is(a, name)) continue;
      if (!option_value(args, i, name, v, error)) return std::nullopt;
      ++selectors;
      selector = Selector{kind, v};
      handled = true;
    }
    for (const auto& n : kValues) {
      if (handled || cmd != "grant" || !option_is(a, n.name)) continue;
      if (!option_value(args, i, n.name, v, error)) return std::nullopt;
      *n.value = v;
      handled = true;
    }
    if (handled) continue;
    if (a.size() > 1 && a[0] == '-') {
      error = "unknown option " + a + " for " + cmd;
      return std::nullopt;
    }
    positional.push_back(a);
  }
  if (positional.size() > (cmd == "ungrant" ? 1u : 0u)) {
    error = "unexpected argument " + positional.back();
    return std::nullopt;
  }
  if (cmd == "grants") {
    inv.request = GrantsRequest{};
    return inv;
  }
  if (cmd == "ungrant") {
    if (positional.empty()) {
      error = "ungrant needs a grant ID (from `segproxyctl grants`)";
      return std::nullopt;
    }
    inv.request = UngrantRequest{positional.front()};
  } else {
    if (selectors != 1) {
      error = "grant needs exactly one of --identity, --spiffe-prefix, --segment";
      return std::nullopt;
    }
    if (!tables || !ops) {
      error = "grant needs --tables and --ops";
      return std::nullopt;
    }
    if (!reason || reason->empty()) {
      error = "grant needs --reason TEXT (why the door is opened: an incident, a ticket)";
      return std::nullopt;
    }
    if (!ttl) {
      error = "grant needs --ttl DURATION (e.g. 30m): a grant always closes by itself";
      return std::nullopt;
    }
    GrantRequest g{*selector, *tables, *ops, statements.value_or(""), parse_duration(*ttl), *reason};
    if (!g.ttl) {
      error = "invalid --ttl " + *ttl + ": want a number and one unit s|m|h|d (e.g. 30m)";
      return std::nullopt;
    }
    if (!authz::parse_grant_scope(g.tables, g.ops, g.statements, error)) return std::nullopt;
    inv.request = std::move(g);
  }
  // The proxy would refuse what it cannot parse; say so before connecting.
  const auto parsed = parse_request(encode_request(inv.request));
  if (!parsed) {
    error = parsed.error;
    return std::nullopt;
  }
  return inv;
}

std::optional<bool> print_grant_result(const admin::Request& req, const json::Value& body, std::ostream& out,
                                       std::ostream& err) {
  std::string error;
  bool ok = true;
  if (std::holds_alternative<admin::GrantRequest>(req)) {
    admin::GrantResult r;
    ok = admin::decode_response(body, r, error);
    if (ok) {
      out << r.grant.id << "\n";  // the id alone on the first line (scripts: ID=$(segproxyctl grant ...))
      out << "granted " << admin::selector_key(r.grant.kind) << " " << printable(r.grant.value) << ": "
          << printable(r.grant.ops) << " on " << printable(r.grant.tables)
          << (r.grant.statements.empty() ? "" : " and " + printable(r.grant.statements)) << " until "
          << admin::format_time(r.grant.expires_at) << "\n";
      print_fleet(out, r.fleet);
    }
  } else if (std::holds_alternative<admin::GrantsRequest>(req)) {
    admin::GrantsResult r;
    ok = admin::decode_response(body, r, error);
    if (ok && r.grants.empty()) out << "no grants\n";
    else if (ok) print_grants(out, r.grants);
  } else if (std::holds_alternative<admin::UngrantRequest>(req)) {
    admin::UngrantResult r;
    ok = admin::decode_response(body, r, error);
    if (ok) {
      out << "removed grant " << printable(r.removed.id) << "\n";
      print_fleet(out, r.fleet);
    }
  } else {
    return std::nullopt;
  }
  if (!ok) err << "segproxyctl: unexpected response from the proxy: " << error << "\n";
  return ok;
}

}  // namespace segproxy::proxy::ctl
