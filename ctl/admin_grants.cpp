#include "ctl/admin_grants.hpp"

#include "authz/grants/grant.hpp"
#include "ctl/admin_options.hpp"
#include "ctl/admin_output.hpp"
#include "protocols/admin/admin_grants.hpp"

namespace segproxy::proxy::ctl {
namespace {

namespace admin = protocols::admin;

void print_grants(std::ostream& out, const std::vector<admin::GrantInfo>& list) {
  std::vector<std::vector<std::string>> rows = {
      {"ID", "WHO", "TABLES", "OPS", "STATEMENTS", "EXPIRES", "UID", "REASON"}};
  for (const auto& g : list) {
    rows.push_back({printable(g.id), std::string(admin::selector_key(g.kind)) + "=" + printable(g.value),
                    printable(g.tables), printable(g.ops), g.statements.empty() ? "-" : printable(g.statements),
                    admin::format_time(g.expires_at), std::to_string(g.created_by_uid), printable(g.reason)});
  }
  print_table(out, rows);
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
  const auto option = [&](std::size_t& i) -> Took {
    if (cmd != "grant") return Took::Nothing;  // grants and ungrant take no options of their own
    std::string v;
    for (const auto& [name, kind] : kSelectors) {
      if (!option_is(args[i], name)) continue;
      if (!option_value(args, i, name, v, error)) return Took::Error;
      ++selectors;
      selector = Selector{kind, v};
      return Took::Option;
    }
    for (const auto& n : kValues) {
      if (!option_is(args[i], n.name)) continue;
      if (!option_value(args, i, n.name, v, error)) return Took::Error;
      *n.value = v;
      return Took::Option;
    }
    return Took::Nothing;
  };
  const auto positional = walk_admin_args(args, cmd == "ungrant" ? 1 : 0, inv, option, error);
  if (!positional) return std::nullopt;
  if (cmd == "grants") {
    inv.request = GrantsRequest{};
    return inv;
  }
  if (cmd == "ungrant") {
    if (positional->empty()) {
      error = "ungrant needs a grant ID (from `segproxyctl grants`)";
      return std::nullopt;
    }
    inv.request = UngrantRequest{positional->front()};
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
  if (!request_parses(inv, error)) return std::nullopt;
  return inv;
}

std::optional<bool> print_grant_result(const admin::Request& req, const json::Value& body, std::ostream& out,
                                       std::ostream& err) {
  if (std::holds_alternative<admin::GrantRequest>(req)) {
    admin::GrantResult r;
    if (!decode_answer(body, r, err)) return false;
    out << r.grant.id << "\n";  // the id alone on the first line (scripts: ID=$(segproxyctl grant ...))
    out << "granted " << admin::selector_key(r.grant.kind) << " " << printable(r.grant.value) << ": "
        << printable(r.grant.ops) << " on " << printable(r.grant.tables)
        << (r.grant.statements.empty() ? "" : " and " + printable(r.grant.statements)) << " until "
        << admin::format_time(r.grant.expires_at) << "\n";
    print_fleet_write(out, r.fleet);
  } else if (std::holds_alternative<admin::GrantsRequest>(req)) {
    admin::GrantsResult r;
    if (!decode_answer(body, r, err)) return false;
    if (r.grants.empty()) out << "no grants\n";
    else print_grants(out, r.grants);
  } else if (std::holds_alternative<admin::UngrantRequest>(req)) {
    admin::UngrantResult r;
    if (!decode_answer(body, r, err)) return false;
    out << "removed grant " << printable(r.removed.id) << "\n";
    print_fleet_write(out, r.fleet);
  } else {
    return std::nullopt;
  }
  return true;
}

}  // namespace segproxy::proxy::ctl
