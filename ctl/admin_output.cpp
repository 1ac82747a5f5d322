#include "ctl/admin_output.hpp"

#include <algorithm>

namespace segproxy::proxy::ctl {

std::string printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    out.push_back(u < 0x20 || u == 0x7f ? (c == '\n' || c == '\t' ? ' ' : '?') : c);
  }
  return out;
}

void print_table(std::ostream& out, const std::vector<std::vector<std::string>>& rows) {
  if (rows.empty()) return;
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
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << "\n";
  }
}

void print_fleet_write(std::ostream& out, const std::optional<protocols::admin::FleetWrite>& f) {
  if (!f) return;
  if (f->queued) out << "etcd unreachable: applied on this instance, queued for the fleet\n";
  else out << "written to etcd at revision " << f->revision << "\n";
}

}  // namespace segproxy::proxy::ctl
