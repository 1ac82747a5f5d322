#pragma once
// `segproxyctl grant | grants | ungrant`: emergency grants over the admin socket
// (docs/admin.md "Break-glass grants").
//
//   segproxyctl grant (--identity X | --spiffe-prefix P | --segment S) --tables T --ops O
//                     [--statements C] --ttl DURATION --reason TEXT
//   segproxyctl grants
//   segproxyctl ungrant ID
// T, O, C: comma-separated, written like a policy rule's tables / allow and a segment's
// statements (checked here with the same words before anything is sent).
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "ctl/admin.hpp"

namespace segproxy::proxy::ctl {

bool is_grant_command(std::string_view word);
std::optional<AdminInvocation> parse_grant_args(const std::vector<std::string>& args, std::string& error);
// The human-readable answer of a grant command; nullopt when `req` is not one.
std::optional<bool> print_grant_result(const protocols::admin::Request& req, const json::Value& body,
                                       std::ostream& out, std::ostream& err);
std::string grant_usage();

}  // namespace segproxy::proxy::ctl
