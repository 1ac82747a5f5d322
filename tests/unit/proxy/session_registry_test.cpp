// SessionRegistry: admission counts per segment and per identity (limits), release on
// removal, and that revoke/kill filters reach exactly the matching admitted sessions.
#include <gtest/gtest.h>

#include "daemon/session/session_registry.hpp"

namespace segproxy::proxy {
namespace {

class FakeSession : public LiveSession {
 public:
  void terminate(std::string code, std::string message, Termination why) override {
    terminated = code + " " + message + " " + audit_event(why);
  }
  SessionState state() const override {
    SessionState s;
    s.current_statement = "SELECT ?";
    s.bytes_in = 7;
    return s;
  }
  void adopt(std::shared_ptr<const Runtime>) override { ++adopted; }
  std::string terminated;
  int adopted = 0;
};

SessionFacts facts(const std::string& segment, const std::string& spiffe) {
  SessionFacts f;
  f.segment = segment;
  authz::ClientIdentity id;
  id.spiffe_id = spiffe;
  id.sha256_hex = "ab";
  f.shared_identity = std::make_shared<const authz::ClientIdentity>(std::move(id));
  return f;
}

class RegistryTest : public ::testing::Test {
 protected:
  std::shared_ptr<FakeSession> add(std::uint64_t id) {
    auto s = std::make_shared<FakeSession>();
    sessions_.push_back(s);
    reg_.add(id, s, ctx_.get_executor());
    return s;
  }
  asio::io_context ctx_;
  SessionRegistry reg_;
  std::vector<std::shared_ptr<FakeSession>> sessions_;
};

TEST_F(RegistryTest, PerIdentityLimitCountsOnlyThatIdentityInThatSegment) {
  for (std::uint64_t id = 1; id <= 4; ++id) add(id);
  using A = SessionRegistry::Admission;
  EXPECT_EQ(reg_.admit(1, facts("billing", "spiffe://td/a"), 0, 1), A::Admitted);
  EXPECT_EQ(reg_.admit(2, facts("billing", "spiffe://td/a"), 0, 1), A::IdentityFull);
  EXPECT_EQ(reg_.admit(3, facts("billing", "spiffe://td/b"), 0, 1), A::Admitted);
  EXPECT_EQ(reg_.admit(4, facts("ops", "spiffe://td/a"), 0, 1), A::Admitted);
  reg_.remove(1);  // the slot is free again
  EXPECT_EQ(reg_.admit(2, facts("billing", "spiffe://td/a"), 0, 1), A::Admitted);
}

TEST_F(RegistryTest, SegmentLimitCountsEverySessionOfTheSegmentAndRefusalsCountNothing) {
  for (std::uint64_t id = 1; id <= 3; ++id) add(id);
  using A = SessionRegistry::Admission;
  EXPECT_EQ(reg_.admit(1, facts("billing", "spiffe://td/a"), 2, 0), A::Admitted);
  EXPECT_EQ(reg_.admit(2, facts("billing", "spiffe://td/b"), 2, 0), A::Admitted);
  EXPECT_EQ(reg_.admit(3, facts("billing", "spiffe://td/c"), 2, 0), A::SegmentFull);
  EXPECT_EQ(reg_.admitted_by_segment().at("billing"), 2u);
  reg_.remove(3);  // refused: was never counted
  EXPECT_EQ(reg_.admitted_by_segment().at("billing"), 2u);
  reg_.remove(1);
  reg_.remove(2);
  EXPECT_TRUE(reg_.admitted_by_segment().empty());
}

TEST_F(RegistryTest, PostMatchingReachesExactlyTheAdmittedSessionsThatMatch) {
  auto a = add(1);
  auto b = add(2);
  auto c = add(3);  // never admitted: still starting, has no facts to match
  reg_.admit(1, facts("billing", "spiffe://td/a"), 0, 0);
  reg_.admit(2, facts("ops", "spiffe://td/a"), 0, 0);
  const auto ids = reg_.post_matching([](std::uint64_t, const SessionFacts& f) { return f.segment == "billing"; },
                                      [](LiveSession& s) { s.terminate("57P01", "bye", Termination::Revoked); });
  EXPECT_EQ(ids, (std::vector<std::uint64_t>{1}));
  ctx_.run();
  EXPECT_EQ(a->terminated, "57P01 bye session.revoked");
  EXPECT_EQ(b->terminated, "");
  EXPECT_EQ(c->terminated, "");
  EXPECT_EQ(reg_.post_to_all([](LiveSession& s) { s.adopt(nullptr); }), 3u);
  ctx_.restart();
  ctx_.run();
  EXPECT_EQ(a->adopted + b->adopted + c->adopted, 3);
}

// Issue 15: a session's identity exists once (the session, its facts and its gate's
// grants share it); admission and later fact updates must not copy it.
TEST_F(RegistryTest, AdmittedFactsShareTheSessionsIdentityThroughFactUpdates) {
  add(1);
  SessionFacts f = facts("billing", "spiffe://td/a");
  const authz::SharedIdentity mine = f.shared_identity;
  reg_.admit(1, std::move(f), 0, 0);
  reg_.set_backend_id(1, 42);
  reg_.set_backend_user(1, "minted_user");
  EXPECT_TRUE(reg_.any_matching([&](std::uint64_t, const SessionFacts& g) {
    return g.shared_identity == mine && g.backend_id == 42 && g.backend_user == "minted_user";
  }));
  EXPECT_EQ(SessionFacts{}.identity().spiffe_id, "");  // no identity yet: reads as empty
}

TEST_F(RegistryTest, ListAsksEachSessionOnItsOwnThread) {
  add(1);
  reg_.admit(1, facts("billing", "spiffe://td/a"), 0, 0);
  std::thread io([this] {
    auto guard = asio::make_work_guard(ctx_);
    ctx_.run_for(std::chrono::seconds(5));
  });
  const auto listed = reg_.list([](std::uint64_t, const SessionFacts&) { return true; }, std::chrono::seconds(5));
  ctx_.stop();
  io.join();
  ASSERT_EQ(listed.size(), 1u);
  ASSERT_TRUE(listed[0].state);
  EXPECT_EQ(listed[0].state->current_statement, "SELECT ?");
  EXPECT_EQ(listed[0].facts.segment, "billing");
}

TEST_F(RegistryTest, ListDoesNotWaitForeverForASessionThatDoesNotAnswer) {
  add(1);
  reg_.admit(1, facts("billing", "spiffe://td/a"), 0, 0);
  // Nobody runs ctx_: the session's thread is "stuck".
  const auto listed = reg_.list([](std::uint64_t, const SessionFacts&) { return true; }, std::chrono::milliseconds(50));
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_FALSE(listed[0].state);
}

}  // namespace
}  // namespace segproxy::proxy
