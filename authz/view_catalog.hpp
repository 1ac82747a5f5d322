#pragma once
// Which relations each view reads (directly), as learned from the backend catalog
// (pg_rewrite / pg_depend, see daemon/catalog/view_loader) or pinned in a segment's config, and
// the names of the database's functions callable in attribute notation (`o.f` = f(o)).
// Pure data plus the recursive expansion the policy engine uses: a view counts as every
// relation it reads, and a view may read views. Immutable once built and shared by
// shared_ptr<const ViewCatalog> between threads.
#include <compare>
#include <cstddef>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace segproxy::authz {

struct RelationName {
  std::string schema;
  std::string name;
  auto operator<=>(const RelationName&) const = default;
  bool operator==(const RelationName&) const = default;
  std::string display() const { return schema + "." + name; }
};

class ViewCatalog {
 public:
  // One catalog row: view_schema.view_name reads ref_schema.ref_name.
  struct Row {
    std::string view_schema;
    std::string view_name;
    std::string ref_schema;
    std::string ref_name;
  };
  // Views nested deeper than this (or cyclic) are not expanded: the caller denies.
  static constexpr std::size_t kMaxDepth = 32;

  ViewCatalog() = default;
  static ViewCatalog from_rows(const std::vector<Row>& rows);

  // Builders. add: view reads ref (duplicates and self-references are ignored).
  // set_reads: replaces everything known about the view (an empty list = reads nothing).
  void add(const RelationName& view, const RelationName& ref);
  void set_reads(const RelationName& view, std::vector<RelationName> refs);
  // Union with another catalog (a view's reads become the union of both; the
  // attribute-notation function names too).
  void merge(const ViewCatalog& other);

  // Functions PostgreSQL may call in attribute notation (`x.f` or `(expr).f` = f(x)):
  // those callable with one argument of a row type (pg_proc, see daemon/catalog/view_loader),
  // by name (the notation never qualifies them). The classifier reports such a column
  // reference as a call (sql::ClassifierOptions::attribute_functions).
  using NameSet = std::set<std::string, std::less<>>;
  void add_attribute_function(std::string_view name) { attribute_functions_.emplace(name); }
  const NameSet& attribute_functions() const { return attribute_functions_; }

  bool operator==(const ViewCatalog&) const = default;

  // Direct reads of `view`; nullptr when it is not a known view.
  const std::vector<RelationName>* reads(const RelationName& view) const;
  bool contains(const RelationName& view) const { return reads(view) != nullptr; }
  std::size_t size() const { return views_.size(); }
  bool empty() const { return views_.empty(); }
  const std::map<RelationName, std::vector<RelationName>>& views() const { return views_; }

  struct Expansion {
    bool ok = true;
    // Every relation read directly or through nested views, in discovery order (views
    // and base relations alike, without `view` itself, without duplicates).
    std::vector<RelationName> relations;
    std::string error;  // when !ok: "cyclic" / "nested deeper than 32 levels", names the path
  };
  // Direct reads of a relation, or false when it is not a view. `out` is appended to.
  using ReadsFn = std::function<bool(const RelationName& view, std::vector<RelationName>& out)>;
  // Recursive expansion over any lookup (e.g. segment pins layered over a catalog).
  static Expansion expand(const RelationName& view, const ReadsFn& reads,
                          std::size_t max_depth = kMaxDepth);
  // Expansion over this catalog alone.
  Expansion expand(const RelationName& view, std::size_t max_depth = kMaxDepth) const;

 private:
  std::map<RelationName, std::vector<RelationName>> views_;
  NameSet attribute_functions_;
};

}  // namespace segproxy::authz
