#include "authz/grants/grant_list.hpp"

#include <algorithm>

namespace segproxy::authz {

std::string new_grant_id(const std::vector<Grant>& existing) { return new_list_id(existing, 'g'); }

GrantList::GrantList(std::filesystem::path file)
    : PersistedList(std::move(file), {encode_grant_line, decode_grant_file}) {}

GrantList::Update GrantList::add(Grant g) {
  return change([&g](const std::vector<Grant>& cur, std::vector<Grant>& added,
                     std::string& error) -> std::optional<std::vector<Grant>> {
    if (std::any_of(cur.begin(), cur.end(), [&](const Grant& o) { return o.id == g.id; })) {
      error = "a grant with id " + g.id + " exists already";
      return std::nullopt;
    }
    std::vector<Grant> next(cur);
    next.push_back(g);
    added.push_back(std::move(g));
    return next;
  });
}

GrantList::Update GrantList::remove(const std::string& id) {
  return remove_where([&id](const Grant& g) { return g.id == id; });
}

std::vector<Grant> GrantList::matching(const ClientIdentity& id, std::string_view segment, GrantTime now) const {
  std::vector<Grant> out;
  const auto cur = snapshot();
  for (const auto& g : *cur) {
    if (g.active_at(now) && grant_matches(g, id, segment)) out.push_back(g);
  }
  return out;
}

}  // namespace segproxy::authz
