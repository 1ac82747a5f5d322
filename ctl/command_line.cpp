#include "ctl/command_line.hpp"

#include <algorithm>
#include <array>
#include <sstream>
#include <utility>

#include "ctl/admin.hpp"
#include "ctl/audit.hpp"
#include "ctl/policy.hpp"

namespace segproxy::proxy::ctl {
namespace {

// Global options: name and whether it takes a value.
constexpr std::array<std::pair<std::string_view, bool>, 3> kGlobalOptions = {
    {{"--socket", true}, {"--json", false}, {"--config", true}}};

constexpr std::string_view kExitCodes =
    "exit codes:\n"
    "  0   success (the proxy answered ok; policy explain: allowed; audit verify: intact)\n"
    "  1   the proxy answered with an error; policy explain: denied; policy test: a case\n"
    "      differed; audit verify: tampered, bad signature or truncated\n"
    "  2   no answer from the proxy (cannot connect, timeout, unreadable answer), invalid\n"
    "      configuration, I/O error; usage errors of policy and audit\n"
    "  3   audit verify: intact except a torn last record\n"
    "  64  usage error (segproxyctl itself and the admin commands)\n";

constexpr std::string_view kGlobalHelp =
    "global options (before or after the command):\n"
    "  --socket PATH   admin socket (default /run/segproxy/admin.sock); admin commands\n"
    "  --json          print the raw JSON answer; admin commands, policy explain, audit verify\n"
    "  --config FILE   proxy configuration; policy explain, policy test, config check\n";

struct AdminHelp {
  std::string_view command;
  std::string_view usage;
  std::string_view what;
};
constexpr std::array<AdminHelp, 11> kAdminHelp = {{
    {"status", "segproxyctl status [--socket PATH] [--json]",
     "Version, uptime, configuration version, sessions per segment, revocations, listeners."},
    {"sessions", "segproxyctl sessions [--segment S] [--identity X] [--socket PATH] [--json]",
     "Live sessions, optionally only of one segment or identity."},
    {"kill", "segproxyctl kill SESSION_ID [--socket PATH] [--json]",
     "End one session (SESSION_ID from `segproxyctl sessions`)."},
    {"revoke",
     "segproxyctl revoke (--identity X | --spiffe-prefix P | --cert-serial N | --segment S)\n"
     "                   [--reason TEXT] [--ttl DURATION] [--force] [--socket PATH] [--json]",
     "Refuse new sessions of the selected identities and end their live sessions.\n"
     "DURATION: a number and one unit s|m|h|d (90m), at most 365d; default: no expiry.\n"
     "--force: record the revocation even if it matches no identity seen since start."},
    {"unrevoke",
     "segproxyctl unrevoke (--identity X | --spiffe-prefix P | --cert-serial N | --segment S)\n"
     "                     [--socket PATH] [--json]",
     "Remove every revocation with that selector."},
    {"revocations", "segproxyctl revocations [--socket PATH] [--json]", "List the revocations in force."},
    {"reload", "segproxyctl reload [--socket PATH] [--json]",
     "Reload the configuration (like SIGHUP); refused as a whole if it does not load or\n"
     "changes something that needs a restart."},
    {"audit-checkpoint", "segproxyctl audit-checkpoint [--socket PATH] [--json]",
     "Write a signed audit checkpoint now."},
    {"grant",
     "segproxyctl grant (--identity X | --spiffe-prefix P | --segment S) --tables T --ops O\n"
     "                  [--statements C] --ttl DURATION --reason TEXT [--socket PATH] [--json]",
     "Break-glass: allow the matching identities O on tables T (and statement classes C)\n"
     "for DURATION (at most admin.max_grant_ttl, default 4h). Prints the grant id.\n"
     "T, O, C: comma-separated, written like a rule's tables / allow and `statements`."},
    {"grants", "segproxyctl grants [--socket PATH] [--json]", "List the emergency grants in force."},
    {"ungrant", "segproxyctl ungrant ID [--socket PATH] [--json]", "Remove an emergency grant now."},
}};

std::optional<std::pair<std::string_view, bool>> global_option(std::string_view word, bool& inline_value) {
  for (const auto& opt : kGlobalOptions) {
    if (word == opt.first) {
      inline_value = false;
      return opt;
    }
    if (opt.second && word.size() > opt.first.size() && word.substr(0, opt.first.size()) == opt.first &&
        word[opt.first.size()] == '=') {
      inline_value = true;
      return opt;
    }
  }
  return std::nullopt;
}

std::string captured_help(int (*run)(const std::vector<std::string>&, std::ostream&, std::ostream&)) {
  std::ostringstream out, err;
  run({"--help"}, out, err);
  return out.str();
}

}  // namespace

std::size_t command_word_count(const std::vector<std::string>& args) {
  if (args.empty()) return 0;
  const std::string& first = args[0];
  const bool has_sub = first == "policy" || first == "audit" || first == "config";
  if (has_sub && args.size() > 1 && !args[1].empty() && args[1][0] != '-') return 2;
  return 1;
}

std::optional<std::vector<std::string>> hoist_global_options(const std::vector<std::string>& args,
                                                             std::string& error) {
  std::vector<std::string> globals;
  std::size_t i = 0;
  while (i < args.size() && args[i].size() > 1 && args[i][0] == '-') {
    const std::string& word = args[i];
    if (word == "--help" || word == "-h" || word == "--version") break;  // handled by the caller
    bool inline_value = false;
    const auto opt = global_option(word, inline_value);
    if (!opt) {
      error = "unknown global option " + word + " (global options: --socket PATH, --json, --config FILE)";
      return std::nullopt;
    }
    globals.push_back(word);
    if (opt->second && !inline_value) {
      if (i + 1 >= args.size()) {
        error = std::string(opt->first) + " needs a value";
        return std::nullopt;
      }
      globals.push_back(args[++i]);
    }
    ++i;
  }
  std::vector<std::string> rest(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
  if (globals.empty()) return rest;
  if (rest.empty()) {
    error = "no command after the global options";
    return std::nullopt;
  }
  const auto at = rest.begin() + static_cast<std::ptrdiff_t>(command_word_count(rest));
  rest.insert(at, globals.begin(), globals.end());
  return rest;
}

bool asks_for_help(const std::vector<std::string>& args) {
  return std::any_of(args.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(1, args.size())), args.end(),
                     [](const std::string& a) { return a == "--help" || a == "-h"; });
}

std::optional<std::string> command_help(std::string_view command) {
  for (const auto& h : kAdminHelp) {
    if (h.command != command) continue;
    return "usage: " + std::string(h.usage) + "\n\n" + std::string(h.what) + "\n\n" + std::string(kGlobalHelp) +
           "exit codes: 0 the proxy answered ok, 1 it answered with an error (message on\n"
           "stderr), 2 no answer (cannot connect, timeout after 60 s), 64 usage error.\n";
  }
  if (command == "policy") return captured_help(run_policy);
  if (command == "audit") return captured_help(run_audit);
  if (command == "config") {
    return "usage: segproxyctl config check FILE\n"
           "       segproxyctl config check --config FILE\n\n"
           "Validate a configuration as the daemon would load it (same as segproxy --check-config).\n"
           "exit codes: 0 valid, 2 invalid (file:line errors on stderr), 64 usage error.\n";
  }
  if (command == "fleet") {
    return "usage: segproxyctl fleet --config FILE [--json]\n\n"
           "List the instances registered in etcd by the config's control_plane (docs/fleet.md),\n"
           "flagging a configuration hash that differs from the majority.\n"
           "exit codes: 0 listed, 1 etcd unreachable or answered an error, 2 invalid configuration,\n"
           "64 usage error.\n";
  }
  if (command == "version") return std::string("usage: segproxyctl version\n\nPrint the version.\n");
  if (command == "help") {
    return "usage: segproxyctl help [COMMAND]\n       segproxyctl COMMAND --help\n\n"
           "Print the help of one command, or the list of commands.\n";
  }
  return std::nullopt;
}

std::string general_usage() {
  return "usage: segproxyctl [--socket PATH] [--json] [--config FILE] COMMAND [ARGS]\n"
         "       segproxyctl help [COMMAND] | COMMAND --help\n"
         "       segproxyctl version\n"
         "       segproxyctl config check FILE\n"
         "       segproxyctl policy explain --config FILE --identity ID --database DB [--at RFC3339] [--json] SQL\n"
         "       segproxyctl policy test --config FILE [--at RFC3339] [--verbose] CASES.tsv\n"
         "       segproxyctl audit verify DIR [--pubkey FILE] [--checkpoints FILE] [--json]\n"
         "       segproxyctl audit export DIR [--format jsonl|csv|ocsf|raw] [filters...]  (audit --help)\n"
         "       segproxyctl audit keygen --out FILE\n"
         "       segproxyctl fleet --config FILE [--json]   (instances registered in etcd)\n" +
         admin_usage() + "\n" + std::string(kGlobalHelp) + std::string(kExitCodes);
}

}  // namespace segproxy::proxy::ctl
