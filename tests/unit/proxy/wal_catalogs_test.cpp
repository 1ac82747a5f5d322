// The write-ahead catalog slots of a Runtime (daemon/catalog/wal_catalogs): what sessions
// read per statement, what the loaders publish, what a reload carries.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include "daemon/catalog/wal_catalogs.hpp"

namespace segproxy::proxy {
namespace {

using Clock = std::chrono::steady_clock;

config::Config two_listeners() {
  config::Config cfg;
  config::Listener pg;
  pg.name = "pg-main";
  pg.backend.metadata = config::MetadataCredential{};
  pg.backend.endpoint = {"127.0.0.1", 5432};
  config::Listener my;
  my.name = "my-main";
  my.protocol = config::Protocol::Mysql;  // no metadata: no slots
  cfg.listeners = {pg, my};
  config::Segment a;
  a.databases = {"shop", "archive"};
  a.credentials["pg-main"] = {};
  a.credentials["my-main"] = {};
  cfg.segments = {{"a", a}};
  return cfg;
}

std::shared_ptr<const authz::wal::WalCatalog> catalog_with(const char* table) {
  auto c = std::make_shared<authz::wal::WalCatalog>();
  c->relations[{"public", table}] = authz::wal::RelationFacts{authz::wal::RelationKind::Table, true, true, true};
  return c;
}

TEST(WalCatalogs, NothingIsLoadedUntilALoaderPublishes) {
  WalCatalogs w;
  w.configure(two_listeners());
  const auto v = w.current(0, "shop");
  EXPECT_EQ(v.catalog, nullptr);
  EXPECT_EQ(v.generation, 0u);
  EXPECT_FALSE(v.current_after(Clock::time_point{}));
}

TEST(WalCatalogs, PublishedCatalogIsWhatSessionsReadWithItsLoadInstant) {
  WalCatalogs w;
  w.configure(two_listeners());
  const auto at = Clock::now();
  ASSERT_TRUE(w.publish(0, "shop", catalog_with("accounts"), at));
  const auto v = w.current(0, "shop");
  ASSERT_NE(v.catalog, nullptr);
  EXPECT_NE(v.catalog->find("public", "accounts"), nullptr);
  EXPECT_EQ(v.generation, 1u);
  EXPECT_EQ(v.loaded_at, at);
  EXPECT_EQ(w.current(0, "archive").catalog, nullptr);  // per database
  ASSERT_TRUE(w.publish(0, "shop", catalog_with("other"), at + std::chrono::seconds(1)));
  EXPECT_EQ(w.current(0, "shop").generation, 2u);
}

TEST(WalCatalogs, CatalogLoadedBeforeTheSessionsLastDdlIsNotCurrent) {
  WalCatalogs w;
  w.configure(two_listeners());
  const auto load = Clock::now();
  w.publish(0, "shop", catalog_with("accounts"), load);
  const auto v = w.current(0, "shop");
  EXPECT_TRUE(v.current_after(Clock::time_point{}));           // no DDL yet
  EXPECT_TRUE(v.current_after(load - std::chrono::seconds(1)));  // DDL before the load began
  EXPECT_FALSE(v.current_after(load));                           // DDL at or after it
  EXPECT_FALSE(v.current_after(load + std::chrono::seconds(1)));
}

TEST(WalCatalogs, UnknownListenerDatabaseOrListenerWithoutMetadataHasNoCatalog) {
  WalCatalogs w;
  w.configure(two_listeners());
  EXPECT_FALSE(w.publish(1, "shop", catalog_with("x"), Clock::now()));  // mysql listener without metadata
  EXPECT_FALSE(w.publish(0, "elsewhere", catalog_with("x"), Clock::now()));
  EXPECT_FALSE(w.publish(7, "shop", catalog_with("x"), Clock::now()));
  EXPECT_EQ(w.current(1, "shop").catalog, nullptr);
  EXPECT_EQ(w.current(0, "elsewhere").catalog, nullptr);
  EXPECT_EQ(w.current(7, "shop").catalog, nullptr);
  ASSERT_EQ(w.slots().size(), 1u);
  EXPECT_EQ(w.slots()[0].second, (std::vector<std::string>{"archive", "shop"}));
}

TEST(WalCatalogs, ReloadCarriesCatalogsOnlyForTheSameBackend) {
  WalCatalogs old;
  old.configure(two_listeners());
  const auto at = Clock::now();
  old.publish(0, "shop", catalog_with("accounts"), at);
  WalCatalogs same, moved;
  same.configure(two_listeners());
  moved.configure(two_listeners());
  same.carry_from(old, [](std::size_t) { return true; });
  moved.carry_from(old, [](std::size_t) { return false; });
  EXPECT_NE(same.current(0, "shop").catalog, nullptr);
  EXPECT_EQ(same.current(0, "shop").loaded_at, at);  // still judged against the same DDL instants
  EXPECT_EQ(moved.current(0, "shop").catalog, nullptr);
}

// The session-side reader (issue 14 review: no atomic shared_ptr copy per statement).
std::shared_ptr<WalCatalogs> configured() {
  auto w = std::make_shared<WalCatalogs>();
  w->configure(two_listeners());
  return w;
}

TEST(WalCatalogsReader, SeesEveryPublishAtItsNextReadAndNothingBefore) {
  const auto w = configured();
  WalCatalogs::Reader reader;
  EXPECT_EQ(reader.view(*w, 0, "shop").catalog, nullptr);
  const auto at = Clock::now();
  ASSERT_TRUE(w->publish(0, "shop", catalog_with("accounts"), at));
  const WalCatalogView& first = reader.view(*w, 0, "shop");
  ASSERT_NE(first.catalog, nullptr);
  EXPECT_NE(first.catalog->find("public", "accounts"), nullptr);
  EXPECT_EQ(first.generation, 1u);
  EXPECT_EQ(first.loaded_at, at);
  ASSERT_TRUE(w->publish(0, "shop", catalog_with("other"), at + std::chrono::seconds(1)));
  const WalCatalogView& second = reader.view(*w, 0, "shop");
  ASSERT_NE(second.catalog, nullptr);
  EXPECT_NE(second.catalog->find("public", "other"), nullptr);
  EXPECT_EQ(second.catalog->find("public", "accounts"), nullptr);
  EXPECT_EQ(second.generation, 2u);
}

TEST(WalCatalogsReader, KeepsTheViewItHandedOutAliveUntilItsNextRead) {
  const auto w = configured();
  WalCatalogs::Reader reader;
  {
    auto c = catalog_with("accounts");
    ASSERT_TRUE(w->publish(0, "shop", c, Clock::now()));
  }
  std::weak_ptr<const authz::wal::WalCatalog> old = reader.view(*w, 0, "shop").catalog;
  ASSERT_FALSE(old.expired());
  ASSERT_TRUE(w->publish(0, "shop", catalog_with("other"), Clock::now()));
  EXPECT_FALSE(old.expired()) << "the view a session's context points into was freed under it";
  EXPECT_NE(reader.view(*w, 0, "shop").catalog->find("public", "other"), nullptr);
  EXPECT_TRUE(old.expired()) << "the reader still holds a replaced catalog";
}

TEST(WalCatalogsReader, FollowsADatabaseChangeAndAReloadedRuntime) {
  const auto w = configured();
  w->publish(0, "shop", catalog_with("accounts"), Clock::now());
  w->publish(0, "archive", catalog_with("old_orders"), Clock::now());
  WalCatalogs::Reader reader;
  EXPECT_NE(reader.view(*w, 0, "shop").catalog->find("public", "accounts"), nullptr);
  EXPECT_NE(reader.view(*w, 0, "archive").catalog->find("public", "old_orders"), nullptr);  // USE archive
  EXPECT_EQ(reader.view(*w, 0, "elsewhere").catalog, nullptr);                                // no slot
  EXPECT_EQ(reader.view(*w, 1, "shop").catalog, nullptr);  // a listener without metadata
  const auto next = configured();  // a reload: the new Runtime's own slots
  reader.reset();                  // as the session's adopt() does
  EXPECT_EQ(reader.view(*next, 0, "shop").catalog, nullptr);
  next->publish(0, "shop", catalog_with("reloaded"), Clock::now());
  EXPECT_NE(reader.view(*next, 0, "shop").catalog->find("public", "reloaded"), nullptr);
}

// Review finding (issue 14): the reader held the old Runtime until the session's next
// statement. Now it holds no Runtime at all, and reset() (a session adopting a reloaded
// Runtime) lets go of the catalog it handed out even while the old catalogs are gone.
TEST(WalCatalogsReader, ResetLetsGoOfTheViewOfTheCatalogsOfAReplacedRuntime) {
  auto old = configured();
  old->publish(0, "shop", catalog_with("accounts"), Clock::now());
  WalCatalogs::Reader reader;
  std::weak_ptr<const authz::wal::WalCatalog> held = reader.view(*old, 0, "shop").catalog;
  std::weak_ptr<WalCatalogs> old_catalogs = old;
  old.reset();  // the old Runtime (and its catalogs) go: nothing in the reader keeps them
  EXPECT_TRUE(old_catalogs.expired()) << "the reader keeps the replaced Runtime's catalogs alive";
  EXPECT_FALSE(held.expired()) << "the view handed out is valid until the next read or reset";
  reader.reset();
  EXPECT_TRUE(held.expired()) << "reset() kept the replaced catalog";
  const auto next = configured();
  next->publish(0, "shop", catalog_with("reloaded"), Clock::now());
  EXPECT_NE(reader.view(*next, 0, "shop").catalog->find("public", "reloaded"), nullptr);
}

TEST(WalCatalogsReader, SeesACatalogCarriedIntoTheSlotAtReload) {
  const auto old = configured();
  old->publish(0, "shop", catalog_with("accounts"), Clock::now());
  const auto next = configured();
  WalCatalogs::Reader reader;
  EXPECT_EQ(reader.view(*next, 0, "shop").catalog, nullptr);
  next->carry_from(*old, [](std::size_t) { return true; });
  const WalCatalogView& v = reader.view(*next, 0, "shop");
  ASSERT_NE(v.catalog, nullptr) << "a carried catalog did not move the slot's stamp";
  EXPECT_NE(v.catalog->find("public", "accounts"), nullptr);
}

}  // namespace
}  // namespace segproxy::proxy
