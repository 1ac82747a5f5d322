// A session moving to a reloaded Runtime (daemon/session/runtime_fit.hpp, adopt_runtime):
// its listener pointer points into the Runtime it leaves, which the session may hold the
// last reference to. The lookup in the new Runtime must happen while the old one lives
// (bench/soak.sh found the swap-then-lookup order as a segfault in PgSession::adopt).
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "daemon/runtime.hpp"
#include "daemon/session/runtime_fit.hpp"

namespace segproxy::proxy {
namespace {

// A Runtime with the named listeners; its deleter overwrites their names before freeing
// it, so a lookup made after the Runtime went finds nothing (deterministically, without a
// sanitizer) and `freed` tells that it went.
std::shared_ptr<const Runtime> runtime_with(const std::vector<std::string>& names, bool* freed = nullptr) {
  auto* rt = new Runtime();
  for (const auto& n : names) {
    config::Listener l;
    l.name = n;
    rt->config.listeners.push_back(l);
  }
  for (const auto& l : rt->config.listeners) {
    ListenerRuntime lr;
    lr.cfg = &l;
    rt->listeners.push_back(std::move(lr));
  }
  return std::shared_ptr<const Runtime>(rt, [freed](Runtime* r) {
    for (auto& l : r->config.listeners) l.name = "(freed)";
    if (freed != nullptr) *freed = true;
    delete r;
  });
}

TEST(RuntimeAdopt, TheListenerIsFoundInTheNewRuntimeEvenWhenTheSessionHeldTheOldOnesLastReference) {
  bool old_freed = false;
  std::shared_ptr<const Runtime> current = runtime_with({"pg-main", "my-main"}, &old_freed);
  const ListenerRuntime* listener = &current->listeners[1];
  auto next = runtime_with({"pg-main", "my-main"});
  const ListenerRuntime* wanted = &next->listeners[1];

  ASSERT_TRUE(adopt_runtime(current, listener, std::move(next)));
  EXPECT_TRUE(old_freed) << "the session held the old Runtime's last reference";
  EXPECT_EQ(listener, wanted);
  EXPECT_EQ(listener->cfg->name, "my-main");
  EXPECT_EQ(current->listeners.size(), 2u);
}

TEST(RuntimeAdopt, ANewRuntimeWithoutTheListenerChangesNothing) {
  std::shared_ptr<const Runtime> current = runtime_with({"pg-main"});
  const Runtime* before = current.get();
  const ListenerRuntime* listener = &current->listeners[0];
  EXPECT_FALSE(adopt_runtime(current, listener, runtime_with({"pg-other"})));
  EXPECT_EQ(current.get(), before);
  EXPECT_EQ(listener, &before->listeners[0]);
}

}  // namespace
}  // namespace segproxy::proxy
