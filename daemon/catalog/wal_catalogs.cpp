// The write-ahead catalogs of one Runtime (wal_catalogs.hpp).
#include "daemon/catalog/wal_catalogs.hpp"

#include "daemon/catalog/view_loader.hpp"  // metadata_databases

namespace segproxy::proxy {

void WalCatalogs::configure(const config::Config& cfg) {
  slots_.clear();
  slots_.resize(cfg.listeners.size());
  for (std::size_t i = 0; i < cfg.listeners.size(); ++i) {
    if (!cfg.listeners[i].backend.metadata) continue;
    for (const auto& db : metadata_databases(cfg, cfg.listeners[i])) slots_[i].emplace(db, std::make_unique<Slot>());
  }
}

const WalCatalogs::Slot* WalCatalogs::find(std::size_t listener, std::string_view database) const {
  if (listener >= slots_.size()) return nullptr;
  const auto it = slots_[listener].find(database);
  return it == slots_[listener].end() ? nullptr : it->second.get();
}

WalCatalogView WalCatalogs::current(std::size_t listener, std::string_view database) const {
  const Slot* slot = find(listener, database);
  if (slot == nullptr) return {};
  const auto view = slot->view.load(std::memory_order_acquire);
  return view ? *view : WalCatalogView{};
}

void WalCatalogs::Reader::rebind(const WalCatalogs& catalogs, std::size_t listener, std::string_view database) {
  catalogs_ = &catalogs;
  listener_ = listener;
  database_.assign(database);
  slot_ = catalogs.find(listener, database);
  read_ = false;
  view_ = WalCatalogView{};
}

void WalCatalogs::Reader::reset() {
  catalogs_ = nullptr;
  listener_ = 0;
  database_.clear();
  slot_ = nullptr;
  stamp_ = 0;
  read_ = false;
  view_ = WalCatalogView{};
}

void WalCatalogs::Reader::refresh() {
  if (slot_ == nullptr) return;  // no slot: no catalog (view_ stays empty)
  // The stamp first: a store that lands between the two loads is read now and once more
  // at the next call (its bump is then seen), never missed.
  const std::uint64_t stamp = slot_->stamp.load(std::memory_order_acquire);
  if (read_ && stamp == stamp_) return;
  const auto view = slot_->view.load(std::memory_order_acquire);
  view_ = view ? *view : WalCatalogView{};
  stamp_ = stamp;
  read_ = true;
}

bool WalCatalogs::publish(std::size_t listener, const std::string& database,
                          std::shared_ptr<const authz::wal::WalCatalog> catalog,
                          std::chrono::steady_clock::time_point loaded_at) const {
  if (listener >= slots_.size()) return false;
  const auto it = slots_[listener].find(database);
  if (it == slots_[listener].end()) return false;
  auto& slot = it->second->view;
  auto next = std::make_shared<WalCatalogView>();
  next->catalog = std::move(catalog);
  next->loaded_at = loaded_at;
  // One writer per slot (its loader thread), so load-then-store does not race.
  const auto previous = slot.load(std::memory_order_acquire);
  next->generation = (previous ? previous->generation : 0) + 1;
  slot.store(std::move(next), std::memory_order_release);
  it->second->stamp.fetch_add(1, std::memory_order_release);
  return true;
}

void WalCatalogs::carry_from(const WalCatalogs& previous, const std::function<bool(std::size_t)>& same_backend) const {
  for (std::size_t i = 0; i < slots_.size() && i < previous.slots_.size(); ++i) {
    if (!same_backend || !same_backend(i)) continue;
    for (auto& [db, slot] : slots_[i]) {
      const auto it = previous.slots_[i].find(db);
      if (it == previous.slots_[i].end()) continue;
      if (auto view = it->second->view.load(std::memory_order_acquire)) {
        slot->view.store(std::move(view), std::memory_order_release);
        slot->stamp.fetch_add(1, std::memory_order_release);
      }
    }
  }
}

std::vector<std::pair<std::size_t, std::vector<std::string>>> WalCatalogs::slots() const {
  std::vector<std::pair<std::size_t, std::vector<std::string>>> out;
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    if (slots_[i].empty()) continue;
    std::vector<std::string> dbs;
    for (const auto& [db, slot] : slots_[i]) dbs.push_back(db);
    out.emplace_back(i, std::move(dbs));
  }
  return out;
}

}  // namespace segproxy::proxy
