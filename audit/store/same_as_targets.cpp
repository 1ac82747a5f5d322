#include "audit/store/same_as_targets.hpp"

#include "audit/store/store_connection.hpp"

namespace segproxy::audit::store {

std::optional<std::string_view> SameAsTargets::line(std::uint64_t seq) {
  auto it = lines_.find(seq);
  if (it == lines_.end()) {
    std::string why;
    auto r = exec(c_, "SELECT line FROM segproxy_audit.records WHERE instance = $1 AND seq = $2", why,
                  {instance_, std::to_string(seq)});
    ++fetched_;
    if (!r || PQntuples(r.get()) != 1) return std::nullopt;
    if (lines_.size() >= capacity_) lines_.erase(lines_.begin());  // the oldest seq
    it = lines_.emplace(seq, std::string(PQgetvalue(r.get(), 0, 0), static_cast<std::size_t>(PQgetlength(r.get(), 0, 0))))
             .first;
  }
  return std::string_view(it->second);
}

}  // namespace segproxy::audit::store
