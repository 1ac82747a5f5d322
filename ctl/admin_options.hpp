#pragma once
// Option words of the admin commands (ctl/admin, ctl/admin_grants): "--name VALUE" or
// "--name=VALUE".
#include <string>
#include <string_view>
#include <vector>

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

}  // namespace segproxy::proxy::ctl
