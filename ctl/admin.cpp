#include "ctl/admin.hpp"
#include "ctl/admin_grants.hpp"
#include "ctl/admin_options.hpp"
#include "ctl/admin_output.hpp"

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace segproxy::proxy::ctl {
namespace {

namespace admin = protocols::admin;

constexpr std::string_view kCommands[] = {"status",      "sessions",    "kill",   "revoke",           "unrevoke",
                                          "revocations", "reload",      "audit-checkpoint", "grant", "grants",
                                          "ungrant"};
constexpr std::chrono::milliseconds kTimeout{60'000};  // a reload may take a while

std::string human_duration(std::uint64_t s) {
  const std::uint64_t d = s / 86400, h = s % 86400 / 3600, m = s % 3600 / 60, sec = s % 60;
  std::string out;
  if (d) out += std::to_string(d) + "d ";
  if (d || h) out += std::to_string(h) + "h ";
  if (d || h || m) out += std::to_string(m) + "m ";
  return out + std::to_string(sec) + "s";
}

std::string expiry(const admin::RevocationInfo& r) {
  return r.expires_at ? admin::format_time(*r.expires_at) : std::string("never");
}

void print_status(std::ostream& out, const admin::StatusInfo& s) {
  std::vector<std::vector<std::string>> rows = {
      {"version", printable(s.version)},
      {"uptime", human_duration(s.uptime_seconds)},
      {"config", printable(s.config_path) + " (version " + printable(s.config_version) + ")"},
      {"sessions", std::to_string(s.sessions_active) + " active"},
  };
  for (const auto& [segment, n] : s.sessions_by_segment) rows.push_back({"  " + printable(segment), std::to_string(n)});
  rows.push_back({"revocations", std::to_string(s.revocations_active) + " active"});
  for (const auto& l : s.listeners) {
    rows.push_back({"listener", printable(l.name) + " " + printable(l.protocol) + " " + printable(l.address)});
  }
  print_table(out, rows);
}

void print_sessions(std::ostream& out, const admin::SessionsResult& r) {
  if (r.sessions.empty()) {
    out << "no sessions\n";
    return;
  }
  std::vector<std::vector<std::string>> rows = {
      {"ID", "IDENTITY", "SEGMENT", "CLIENT", "DATABASE", "BACKEND_USER", "STARTED", "BYTES_IN", "BYTES_OUT",
       "STATEMENT"}};
  for (const auto& s : r.sessions) {
    std::string stmt = printable(s.current_statement);
    if (stmt.size() > 80) stmt = stmt.substr(0, 77) + "...";
    rows.push_back({printable(s.id), printable(s.identity), printable(s.segment), printable(s.client_addr),
                    printable(s.database), printable(s.backend_user), admin::format_time(s.started),
                    std::to_string(s.bytes_in), std::to_string(s.bytes_out), stmt});
  }
  print_table(out, rows);
}

void print_revocations(std::ostream& out, const std::vector<admin::RevocationInfo>& list) {
  std::vector<std::vector<std::string>> rows = {{"ID", "KIND", "VALUE", "EXPIRES", "CREATED", "UID", "REASON"}};
  for (const auto& r : list) {
    rows.push_back({printable(r.id), std::string(admin::selector_key(r.kind)), printable(r.value), expiry(r),
                    admin::format_time(r.created_at), std::to_string(r.created_by_uid), printable(r.reason)});
  }
  print_table(out, rows);
}

// Human-readable output of an ok response; false when the body does not decode.
bool print_ok(const admin::Request& req, const admin::Envelope& env, std::ostream& out, std::ostream& err) {
  using namespace admin;
  if (auto printed = print_grant_result(req, env.body, out, err)) return *printed;  // grant, grants, ungrant
  if (std::holds_alternative<StatusRequest>(req)) {
    StatusInfo s;
    if (!decode_answer(env.body, s, err)) return false;
    print_status(out, s);
  } else if (std::holds_alternative<SessionsRequest>(req)) {
    SessionsResult s;
    if (!decode_answer(env.body, s, err)) return false;
    print_sessions(out, s);
  } else if (std::holds_alternative<KillRequest>(req)) {
    KillResult k;
    if (!decode_answer(env.body, k, err)) return false;
    out << "session " << printable(k.session_id) << ": terminating\n";
  } else if (std::holds_alternative<RevokeRequest>(req)) {
    RevokeResult r;
    if (!decode_answer(env.body, r, err)) return false;
    out << "revoked " << selector_key(r.revocation.kind) << " " << printable(r.revocation.value) << " (id "
        << printable(r.revocation.id) << ", expires " << expiry(r.revocation) << ")";
    if (!r.revocation.reason.empty()) out << ": " << printable(r.revocation.reason);
    out << "\n" << r.sessions_terminated << " live session(s) terminated\n";
    print_fleet_write(out, r.fleet);
  } else if (std::holds_alternative<UnrevokeRequest>(req)) {
    UnrevokeResult u;
    if (!decode_answer(env.body, u, err)) return false;
    if (u.removed.empty()) {
      out << "no matching revocation\n";
    } else {
      out << "removed " << u.removed.size() << " revocation(s)\n";
      print_revocations(out, u.removed);
    }
    print_fleet_write(out, u.fleet);
  } else if (std::holds_alternative<RevocationsRequest>(req)) {
    RevocationsResult r;
    if (!decode_answer(env.body, r, err)) return false;
    if (r.revocations.empty()) out << "no revocations\n";
    else print_revocations(out, r.revocations);
  } else if (std::holds_alternative<ReloadRequest>(req)) {
    ReloadResult r;
    if (!decode_answer(env.body, r, err)) return false;
    out << "configuration reloaded: " << printable(r.old_hash) << " -> " << printable(r.new_hash) << "\n";
    for (const auto& m : r.restart_required) out << "restart required: " << printable(m) << "\n";
  } else {
    CheckpointResult c;
    if (!decode_answer(env.body, c, err)) return false;
    out << "checkpoint written at seq " << c.seq << ", head " << printable(c.head_hash) << "\n";
  }
  return true;
}

}  // namespace

bool is_admin_command(std::string_view word) {
  return std::find(std::begin(kCommands), std::end(kCommands), word) != std::end(kCommands);
}

std::string admin_usage() {
  return "       segproxyctl status [--socket PATH] [--json]\n"
         "       segproxyctl sessions [--segment S] [--identity X] [--socket PATH] [--json]\n"
         "       segproxyctl kill SESSION_ID [--socket PATH] [--json]\n"
         "       segproxyctl revoke (--identity X | --spiffe-prefix P | --cert-serial N | --segment S)\n"
         "                          [--reason TEXT] [--ttl DURATION] [--force] [--socket PATH] [--json]\n"
         "       segproxyctl unrevoke (--identity X | --spiffe-prefix P | --cert-serial N | --segment S)\n"
         "                            [--socket PATH] [--json]\n"
         "       segproxyctl revocations | reload | audit-checkpoint [--socket PATH] [--json]\n" +
         grant_usage();
}

std::optional<AdminInvocation> parse_admin_args(const std::vector<std::string>& args, std::string& error) {
  using namespace admin;
  if (args.empty() || !is_admin_command(args[0])) {
    error = "unknown admin command";
    return std::nullopt;
  }
  const std::string& cmd = args[0];
  if (is_grant_command(cmd)) return parse_grant_args(args, error);
  AdminInvocation inv;
  std::optional<Selector> selector;
  int selectors = 0;
  std::optional<std::string> segment_filter, identity_filter, reason, ttl;
  bool force = false;
  static constexpr std::pair<std::string_view, SelectorKind> kSelectorOptions[] = {
      {"--identity", SelectorKind::Identity},
      {"--spiffe-prefix", SelectorKind::SpiffePrefix},
      {"--cert-serial", SelectorKind::CertSerial},
      {"--segment", SelectorKind::Segment}};
  const bool takes_selector = cmd == "revoke" || cmd == "unrevoke";
  const auto option = [&](std::size_t& i) -> Took {
    const std::string& a = args[i];
    std::string v;
    if (cmd == "revoke" && a == "--force") {  // record even if it matches no identity seen
      force = true;
      return Took::Option;
    }
    for (const auto& [name, kind] : kSelectorOptions) {
      if (!option_is(a, name)) continue;
      if (!option_value(args, i, name, v, error)) return Took::Error;
      if (takes_selector) {
        ++selectors;
        selector = Selector{kind, v};
      } else if (cmd == "sessions" && kind == SelectorKind::Segment) {
        segment_filter = v;
      } else if (cmd == "sessions" && kind == SelectorKind::Identity) {
        identity_filter = v;
      } else {
        error = std::string(name) + " is not an option of " + cmd;
        return Took::Error;
      }
      return Took::Option;
    }
    if (cmd == "revoke" && (option_is(a, "--reason") || option_is(a, "--ttl"))) {
      const bool is_reason = option_is(a, "--reason");
      if (!option_value(args, i, is_reason ? "--reason" : "--ttl", v, error)) return Took::Error;
      (is_reason ? reason : ttl) = v;
      return Took::Option;
    }
    return Took::Nothing;
  };
  const auto positional = walk_admin_args(args, cmd == "kill" ? 1 : 0, inv, option, error);
  if (!positional) return std::nullopt;
  if (cmd == "kill" && positional->empty()) {
    error = "kill needs a SESSION_ID";
    return std::nullopt;
  }
  if (takes_selector && selectors != 1) {
    error = cmd + " needs exactly one of --identity, --spiffe-prefix, --cert-serial, --segment";
    return std::nullopt;
  }
  if (selector) {
    error = check_selector(*selector);
    if (!error.empty()) return std::nullopt;
  }
  if (cmd == "status") inv.request = StatusRequest{};
  else if (cmd == "sessions") inv.request = SessionsRequest{segment_filter, identity_filter};
  else if (cmd == "kill") inv.request = KillRequest{positional->front()};
  else if (cmd == "unrevoke") inv.request = UnrevokeRequest{*selector};
  else if (cmd == "revocations") inv.request = RevocationsRequest{};
  else if (cmd == "reload") inv.request = ReloadRequest{};
  else if (cmd == "audit-checkpoint") inv.request = AuditCheckpointRequest{};
  else {
    RevokeRequest r{*selector, reason.value_or(""), std::nullopt, force};
    if (ttl) {
      r.ttl = parse_duration(*ttl);
      if (!r.ttl) {
        error = "invalid --ttl " + *ttl + ": want a number and one unit s|m|h|d (e.g. 90m), at most 365d";
        return std::nullopt;
      }
    }
    inv.request = std::move(r);
  }
  if (!request_parses(inv, error)) return std::nullopt;
  return inv;
}

std::optional<std::string> admin_exchange(const std::string& socket_path, std::string_view request_line,
                                          std::chrono::milliseconds timeout, std::string& error) {
  sockaddr_un addr{};
  if (socket_path.empty() || socket_path.size() >= sizeof addr.sun_path) {
    error = "admin socket path is empty or too long: " + socket_path;
    return std::nullopt;
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = std::string("socket: ") + std::strerror(errno);
    return std::nullopt;
  }
  struct FdGuard {
    int fd;
    ~FdGuard() { ::close(fd); }
  } guard{fd};
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>(timeout.count() % 1000 * 1000);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    const int e = errno;
    error = "cannot connect to the admin socket " + socket_path + ": " + std::strerror(e);
    if (e == ENOENT || e == ECONNREFUSED) error += " (is segproxy running with admin.socket set? try --socket PATH)";
    if (e == EACCES) error += " (run as a user listed in admin.allowed_uids)";
    return std::nullopt;
  }
  std::string line(request_line);
  line.push_back('\n');
  std::string_view rest = line;
  std::string send_error;
  while (!rest.empty()) {
    const ssize_t n = ::send(fd, rest.data(), rest.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      // The proxy may have answered and closed already (a refused uid): read that answer.
      send_error = std::string("cannot send the request: ") + std::strerror(errno);
      break;
    }
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
  std::string response;
  char buf[65536];
  for (;;) {
    const auto nl = response.find('\n');
    if (nl != std::string::npos) {
      response.resize(nl);
      return response;
    }
    if (response.size() > admin::kMaxResponseLine) {
      error = "response longer than " + std::to_string(admin::kMaxResponseLine) + " bytes";
      return std::nullopt;
    }
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 && !send_error.empty()) {
      error = send_error;
      return std::nullopt;
    }
    if (n < 0) {
      const bool timed_out = errno == EAGAIN || errno == EWOULDBLOCK;
      error = timed_out ? "no answer from the proxy within " + std::to_string(timeout.count() / 1000) + " s"
                        : std::string("cannot read the response: ") + std::strerror(errno);
      return std::nullopt;
    }
    if (n == 0) {
      error = "the proxy closed the connection without a complete answer";
      return std::nullopt;
    }
    response.append(buf, static_cast<std::size_t>(n));
  }
}

int run_admin(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::string error;
  const auto inv = parse_admin_args(args, error);
  if (!inv) {
    err << "segproxyctl: " << error << "\nusage:\n" << admin_usage();
    return kAdminExitUsage;
  }
  const std::string request = admin::encode_request(inv->request);
  const auto response = admin_exchange(inv->socket_path, request, kTimeout, error);
  if (!response) {
    err << "segproxyctl: " << error << "\n";
    return kAdminExitNoAnswer;
  }
  const auto env = admin::decode_envelope(*response, error);
  if (inv->json) out << *response << "\n";
  if (!env) {
    err << "segproxyctl: unreadable response from the proxy: " << error << "\n";
    return kAdminExitNoAnswer;
  }
  if (!env->ok) {
    if (!inv->json) {
      err << "segproxyctl: " << printable(env->error) << "\n";
      admin::ReloadResult reload;
      std::string ignored;
      if (std::holds_alternative<admin::ReloadRequest>(inv->request) &&
          admin::decode_response(env->body, reload, ignored)) {
        for (const auto& e : reload.errors) err << "  " << printable(e) << "\n";
      }
    }
    return kAdminExitFailed;
  }
  if (inv->json) return kAdminExitOk;
  return print_ok(inv->request, *env, out, err) ? kAdminExitOk : kAdminExitNoAnswer;
}

}  // namespace segproxy::proxy::ctl
