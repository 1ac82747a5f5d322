// View -> relations it reads, and the recursive expansion with cycle and depth guards.
#include "authz/view_catalog.hpp"

#include <algorithm>
#include <set>

namespace segproxy::authz {

ViewCatalog ViewCatalog::from_rows(const std::vector<Row>& rows) {
  ViewCatalog c;
  for (const Row& r : rows) {
    c.add(RelationName{r.view_schema, r.view_name}, RelationName{r.ref_schema, r.ref_name});
  }
  return c;
}

void ViewCatalog::add(const RelationName& view, const RelationName& ref) {
  auto& refs = views_[view];
  if (ref == view) return;  // a view's rule depends on the view itself: not a read
  if (std::find(refs.begin(), refs.end(), ref) == refs.end()) refs.push_back(ref);
}

void ViewCatalog::set_reads(const RelationName& view, std::vector<RelationName> refs) {
  std::vector<RelationName> unique;
  for (auto& r : refs) {
    if (r == view || std::find(unique.begin(), unique.end(), r) != unique.end()) continue;
    unique.push_back(std::move(r));
  }
  views_[view] = std::move(unique);
}

void ViewCatalog::merge(const ViewCatalog& other) {
  attribute_functions_.insert(other.attribute_functions_.begin(), other.attribute_functions_.end());
  for (const auto& [view, refs] : other.views_) {
    auto& mine = views_[view];
    for (const auto& r : refs) {
      if (std::find(mine.begin(), mine.end(), r) == mine.end()) mine.push_back(r);
    }
  }
}

const std::vector<RelationName>* ViewCatalog::reads(const RelationName& view) const {
  const auto it = views_.find(view);
  return it == views_.end() ? nullptr : &it->second;
}

namespace {

struct Walker {
  const ViewCatalog::ReadsFn& reads;
  std::size_t max_depth;
  std::vector<RelationName> path;  // views being expanded, outermost first
  std::set<RelationName> done;     // views fully expanded (diamonds are not cycles)
  std::set<RelationName> seen;     // relations already in the result
  ViewCatalog::Expansion result;

  std::string path_text(const RelationName& last) const {
    std::string s;
    for (const auto& p : path) s += p.display() + " -> ";
    return s + last.display();
  }

  void visit(const RelationName& view) {
    if (!result.ok) return;
    std::vector<RelationName> direct;
    if (!reads(view, direct)) return;  // not a view: a leaf
    if (done.count(view) != 0) return;
    if (std::find(path.begin(), path.end(), view) != path.end()) {
      result.ok = false;
      result.error = "view " + path.front().display() + " is cyclic (" + path_text(view) + ")";
      return;
    }
    if (path.size() >= max_depth) {
      result.ok = false;
      result.error = "view " + path.front().display() + " is nested deeper than " +
                     std::to_string(max_depth) + " levels";
      return;
    }
    path.push_back(view);
    for (const RelationName& r : direct) {
      if (r == view) continue;
      if (seen.insert(r).second) result.relations.push_back(r);
      visit(r);
      if (!result.ok) return;
    }
    path.pop_back();
    done.insert(view);
  }
};

}  // namespace

ViewCatalog::Expansion ViewCatalog::expand(const RelationName& view, const ReadsFn& reads,
                                           std::size_t max_depth) {
  Walker w{reads, max_depth, {}, {}, {view}, {}};
  w.visit(view);
  if (!w.result.ok) w.result.relations.clear();
  return std::move(w.result);
}

ViewCatalog::Expansion ViewCatalog::expand(const RelationName& view, std::size_t max_depth) const {
  return expand(
      view,
      [this](const RelationName& v, std::vector<RelationName>& out) {
        const auto* r = reads(v);
        if (r == nullptr) return false;
        out.insert(out.end(), r->begin(), r->end());
        return true;
      },
      max_depth);
}

}  // namespace segproxy::authz
