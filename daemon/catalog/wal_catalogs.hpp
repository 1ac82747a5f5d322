#pragma once
// The write-ahead catalogs of one Runtime (issue 14, docs/audit.md "The catalog the
// classes trust"): one slot per (listener, database) that a WalCatalogLoader fills
// (daemon/catalog/pg_wal_catalog_loader, mysql_wal_catalog_loader), read by sessions
// once per statement through a Reader. The slots are fixed when the Runtime is built
// (configure), so reading takes no lock; a Reader resolves its slot once and copies the
// slot's view (an atomic shared_ptr load) only when the slot's stamp moved, so a
// statement costs one atomic integer load. A failed or partial load
// publishes nothing: the slot keeps its last good catalog or none (then nothing is
// contained and no relation read is proven).
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "authz/wal/wal_catalog.hpp"
#include "config/config.hpp"

namespace segproxy::proxy {

// What a session reads per statement. Its ClassContext is
//   ctx.catalog = view.catalog.get();  ctx.catalog_current = view.current_after(last_ddl);
// where `last_ddl` is the steady_clock time at which the session saw its last DDL take
// effect (PostgreSQL: ReadyForQuery 'I' after it; MySQL: its response), or a
// default-constructed time_point when it ran none.
struct WalCatalogView {
  std::shared_ptr<const authz::wal::WalCatalog> catalog;  // null: none loaded
  // Counts the catalogs published into this slot (0: none yet); carried across reloads.
  std::uint64_t generation = 0;
  // When the load that produced it began (steady_clock, before its first query): the
  // catalog shows every DDL committed before this instant.
  std::chrono::steady_clock::time_point loaded_at{};

  bool current_after(std::chrono::steady_clock::time_point last_ddl) const {
    return catalog != nullptr && loaded_at > last_ddl;
  }
};

class WalCatalogs {
 public:
  WalCatalogs() = default;
  WalCatalogs(const WalCatalogs&) = delete;
  WalCatalogs& operator=(const WalCatalogs&) = delete;

  // One slot per listener with backend.metadata and per database of the segments that
  // hold a credential for it. Call once, before the Runtime is shared.
  void configure(const config::Config& cfg);

  // The catalog of (listener index into Runtime::listeners, database as the client named
  // it at startup / USE). Thread-safe, lock-free; an unknown slot: no catalog.
  WalCatalogView current(std::size_t listener, std::string_view database) const;

  // Replaces the slot's catalog (thread-safe; unknown slots are ignored). False when
  // there is no such slot.
  // Logically const (the Runtime is shared as const), like PolicyEngine::set_views.
  bool publish(std::size_t listener, const std::string& database,
               std::shared_ptr<const authz::wal::WalCatalog> catalog,
               std::chrono::steady_clock::time_point loaded_at) const;

  // At reload: takes over the previous generation's catalogs of every slot both have,
  // for the listeners `same_backend(listener)` accepts (a catalog describes a backend,
  // not a configuration).
  // Call before this generation's loaders start (a carried catalog never replaces a newer one).
  void carry_from(const WalCatalogs& previous, const std::function<bool(std::size_t listener)>& same_backend) const;

  // Slots, for the loaders: (listener, databases).
  std::vector<std::pair<std::size_t, std::vector<std::string>>> slots() const;

  class Reader;

 private:
  struct Slot {
    mutable std::atomic<std::shared_ptr<const WalCatalogView>> view;
    // Bumped after every store into `view` (publish, carry_from): a Reader copies the view
    // again only when it moved.
    mutable std::atomic<std::uint64_t> stamp{0};
  };
  const Slot* find(std::size_t listener, std::string_view database) const;
  std::vector<std::map<std::string, std::unique_ptr<Slot>, std::less<>>> slots_;  // by listener index
};

// A session's reader of its (listener, database) slot: the slot is looked up once (again
// when the WalCatalogs, the listener or the database change: a MySQL USE), and the view
// is copied out of it only when the slot's stamp moved since the last read, so the
// per-statement cost is a pointer compare and one atomic integer load instead of an
// atomic shared_ptr copy. Not thread-safe: one per session, on the session's thread.
// It refers into the WalCatalogs it read (the session's Runtime keeps them alive): the
// session calls reset() when it adopts another Runtime, before it lets go of the old one,
// so the reader never holds a slot of freed catalogs (nor takes a later Runtime at the
// same address for the old one) and keeps no replaced catalog alive.
class WalCatalogs::Reader {
 public:
  // The current view of (listener, database) in `catalogs`. The reference is valid until
  // the next call or reset().
  const WalCatalogView& view(const WalCatalogs& catalogs, std::size_t listener, std::string_view database) {
    if (&catalogs != catalogs_ || listener != listener_ || database != database_) rebind(catalogs, listener, database);
    refresh();
    return view_;
  }
  // Forgets the slot and drops the view (a reload: the Runtime holding the catalogs is
  // being replaced). The next view() looks the slot up again.
  void reset();

 private:
  void rebind(const WalCatalogs& catalogs, std::size_t listener, std::string_view database);
  void refresh();

  const WalCatalogs* catalogs_ = nullptr;
  std::size_t listener_ = 0;
  std::string database_;
  const Slot* slot_ = nullptr;  // null: no such slot (no catalog, ever)
  std::uint64_t stamp_ = 0;
  bool read_ = false;  // view_ was read from slot_ at stamp_
  WalCatalogView view_;
};

}  // namespace segproxy::proxy
