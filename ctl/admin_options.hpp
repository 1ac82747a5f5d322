#pragma once
// The words of the admin commands (ctl/admin, ctl/admin_grants): options written
// "--name VALUE" or "--name=VALUE", the walk over a command's words that every command
// shares (--json, --socket PATH, unknown options, operands), and the check made before
// connecting.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ctl/admin.hpp"

namespace segproxy::proxy::ctl {

// The value of option `name` at args[i]; advances i past a separate value.
inline bool option_value(const std::vector<std::string>& args, std::size_t& i, std::string_view name,
                         std::string& value, std::string& error) {
  const std::string& a = args[i];
  if (a.size() > name.size() && a.compare(0, name.size(), name) == 0 && a[name.size()] == '=') {
    value = a.substr(name.size() + 1);
    return true;
  }
  if (i + 1 >= args.size()) {
    error = std::string(name) + " needs a value";
    return false;
  }
  value = args[++i];
  return true;
}

inline bool option_is(const std::string& a, std::string_view name) {
  return a == name || (a.size() > name.size() && a.compare(0, name.size(), name) == 0 && a[name.size()] == '=');
}

// What a command's own option handler did with args[i].
enum class Took { Nothing, Option, Error };

// Walks args[1..] (args[0] is the command): --json and --socket PATH set `inv`; every
// other word goes to `option(i)` first (Took::Option: taken, i advanced past a separate
// value; Took::Error: `error` set); one it does not take is, when it starts with '-', an
// "unknown option X for CMD", else an operand (at most `max_operands`: "unexpected
// argument X").
template <class Option>
std::optional<std::vector<std::string>> walk_admin_args(const std::vector<std::string>& args, std::size_t max_operands,
                                                        AdminInvocation& inv, Option option, std::string& error) {
  std::vector<std::string> operands;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--json") {
      inv.json = true;
      continue;
    }
    if (option_is(a, "--socket")) {
      if (!option_value(args, i, "--socket", inv.socket_path, error)) return std::nullopt;
      continue;
    }
    const Took took = option(i);
    if (took == Took::Error) return std::nullopt;
    if (took == Took::Option) continue;
    if (a.size() > 1 && a[0] == '-') {
      error = "unknown option " + a + " for " + args[0];
      return std::nullopt;
    }
    operands.push_back(a);
  }
  if (operands.size() > max_operands) {
    error = "unexpected argument " + operands.back();
    return std::nullopt;
  }
  return operands;
}

// The proxy would refuse what it cannot parse; say so before connecting (false, `error`).
inline bool request_parses(const AdminInvocation& inv, std::string& error) {
  const auto parsed = protocols::admin::parse_request(protocols::admin::encode_request(inv.request));
  if (!parsed) error = parsed.error;
  return static_cast<bool>(parsed);
}

}  // namespace segproxy::proxy::ctl
