#pragma once
// `segproxyctl status|sessions|kill|revoke|unrevoke|revocations|reload|audit-checkpoint`:
// the admin socket client (docs/admin.md). One request line, one response line.
//
//   segproxyctl status
//   segproxyctl sessions [--segment S] [--identity X]
//   segproxyctl kill SESSION_ID
//   segproxyctl revoke (--identity X | --spiffe-prefix P | --cert-serial N | --segment S)
//                      [--reason TEXT] [--ttl DURATION]
//   segproxyctl unrevoke (--identity X | --spiffe-prefix P | --cert-serial N | --segment S)
//   segproxyctl revocations
//   segproxyctl reload
//   segproxyctl audit-checkpoint
// Every command takes --socket PATH (default /run/segproxy/admin.sock) and --json (print
// the raw response line instead of the human-readable form).
// Exit codes: 0 the proxy answered ok, 1 it answered {"ok":false} (message on stderr),
// 2 no answer (cannot connect, timeout, unreadable response), 64 usage error.
#include <chrono>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/admin/admin_protocol.hpp"

namespace segproxy::proxy::ctl {

inline constexpr int kAdminExitOk = 0;
inline constexpr int kAdminExitFailed = 1;
inline constexpr int kAdminExitNoAnswer = 2;
inline constexpr int kAdminExitUsage = 64;
inline constexpr std::string_view kDefaultAdminSocket = "/run/segproxy/admin.sock";

// True for the subcommands run_admin handles.
bool is_admin_command(std::string_view word);

// `args` start with the subcommand ("status", ...). Returns the process exit code.
int run_admin(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// The usage lines of these subcommands (for segproxyctl's usage text).
std::string admin_usage();

struct AdminInvocation {
  protocols::admin::Request request;
  std::string socket_path{kDefaultAdminSocket};
  bool json = false;
};
// Parses the words; nullopt with a message in `error` on a usage error.
std::optional<AdminInvocation> parse_admin_args(const std::vector<std::string>& args, std::string& error);

// Sends `request_line` + '\n' over the Unix socket and reads one response line (without
// '\n'). Blocking, each send/receive bounded by `timeout`. nullopt + `error` when there
// is no answer.
std::optional<std::string> admin_exchange(const std::string& socket_path, std::string_view request_line,
                                          std::chrono::milliseconds timeout, std::string& error);

}  // namespace segproxy::proxy::ctl
