#pragma once
// The human-readable output of the admin commands (ctl/admin, ctl/admin_grants): text
// from the proxy made safe for a terminal, aligned tables, the control plane's answer,
// and the one message for an answer that does not decode.
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/admin/admin_protocol.hpp"

namespace segproxy::proxy::ctl {

// Text from the proxy is shown on a terminal: control characters (escape sequences
// from a certificate CN, newlines in a statement) are replaced ('\n' and '\t' by a
// space, the others by '?').
std::string printable(std::string_view s);

// Columns separated by two spaces; the last column is not padded.
void print_table(std::ostream& out, const std::vector<std::vector<std::string>>& rows);

// The control plane's answer to a write (docs/fleet.md); nothing without a control plane.
void print_fleet_write(std::ostream& out, const std::optional<protocols::admin::FleetWrite>& f);

// Decodes an ok answer's body into `r`; false (the message on `err`) when it does not.
template <class Result>
bool decode_answer(const json::Value& body, Result& r, std::ostream& err) {
  std::string error;
  if (decode_response(body, r, error)) return true;  // protocols::admin, found through Result
  err << "segproxyctl: unexpected response from the proxy: " << error << "\n";
  return false;
}

}  // namespace segproxy::proxy::ctl
