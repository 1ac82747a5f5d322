// Dynamic credentials, the pure parts: identity hash, role marker, VALID UNTIL text and
// the SQL of each step, quoted by libpq's own PQescapeIdentifier / PQescapeLiteral.
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <memory>

#include "daemon/credentials/dynamic_credentials.hpp"
#include "daemon/credentials/dynamic_pg_sql.hpp"

namespace segproxy::proxy {
namespace {

// libpq's escaping needs a PGconn but no server: an unconnected handle will do.
class LibpqQuoter : public ::testing::Test {
 protected:
  void SetUp() override {
    conn_.reset(PQconnectStart("host=/nonexistent-segproxy-dir dbname=x connect_timeout=1"));
    ASSERT_NE(conn_, nullptr);
    PGconn* c = conn_.get();
    q_.ident = [c](std::string_view s) -> std::optional<std::string> {
      char* p = PQescapeIdentifier(c, s.data(), s.size());
      if (p == nullptr) return std::nullopt;
      std::string out(p);
      PQfreemem(p);
      return out;
    };
    q_.literal = [c](std::string_view s) -> std::optional<std::string> {
      char* p = PQescapeLiteral(c, s.data(), s.size());
      if (p == nullptr) return std::nullopt;
      std::string out(p);
      PQfreemem(p);
      return out;
    };
  }
  struct Closer {
    void operator()(PGconn* c) const { PQfinish(c); }
  };
  std::unique_ptr<PGconn, Closer> conn_;
  SqlQuoter q_;
};

TEST(DynamicPgSql, Id8IsTheFirstFourBytesOfSha256) {
  EXPECT_EQ(identity_id8("spiffe://example.org/ns/billing/sa/api"), "23506ccb");
  EXPECT_EQ(identity_id8("spiffe://example.org/ns/billing/sa/api").size(), 8u);
  EXPECT_NE(identity_id8("a"), identity_id8("b"));
}

TEST(DynamicPgSql, IdentityKeyIsSpiffeIdElseCertificateHash) {
  authz::ClientIdentity id;
  id.sha256_hex = "ab12";
  EXPECT_EQ(dynamic_identity_key(id), "ab12");
  id.spiffe_id = "spiffe://x/y";
  EXPECT_EQ(dynamic_identity_key(id), "spiffe://x/y");
}

TEST(DynamicPgSql, MarkerRoundTripsAndRejectsOtherComments) {
  const auto t = std::chrono::system_clock::time_point(std::chrono::seconds(1700000000));
  EXPECT_EQ(format_marker("proxy-a", t), "segproxy:proxy-a:1700000000");
  const auto m = parse_marker("segproxy:host:1:1700000000");  // instance with ':'
  ASSERT_TRUE(m);
  EXPECT_EQ(m->instance, "host:1");
  EXPECT_EQ(m->expires_unix, 1700000000);
  EXPECT_FALSE(parse_marker("someone else's role"));
  EXPECT_FALSE(parse_marker("segproxy:x:"));
  EXPECT_FALSE(parse_marker("segproxy:x:12ab"));
  EXPECT_FALSE(parse_marker("segproxy:x:-5"));
  EXPECT_FALSE(parse_marker("segproxy:noexpiry"));
}

TEST(DynamicPgSql, TimestampIsUtcAndRoundsUp) {
  const auto t = std::chrono::system_clock::time_point(std::chrono::milliseconds(1700000000250));
  EXPECT_EQ(format_pg_timestamp(t), "2023-11-14 22:13:21+00");
}

TEST_F(LibpqQuoter, CreateRoleQuotesEveryIdentifierAndLiteral) {
  const auto sql = create_role_sql(q_, "sp_bill\"ing_0a1b2c3d", "SCRAM-SHA-256$4096:x$y:z",
                                   "2030-01-01 00:00:00+00", {"billing_rw", "weird\" role; DROP"},
                                   "segproxy:it's:1");
  ASSERT_TRUE(sql);
  ASSERT_EQ(sql->size(), 2u);
  EXPECT_EQ((*sql)[0],
            "CREATE ROLE \"sp_bill\"\"ing_0a1b2c3d\" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE"
            " NOREPLICATION NOBYPASSRLS INHERIT PASSWORD 'SCRAM-SHA-256$4096:x$y:z'"
            " VALID UNTIL '2030-01-01 00:00:00+00' IN ROLE \"billing_rw\", \"weird\"\" role; DROP\"");
  EXPECT_EQ((*sql)[1], "COMMENT ON ROLE \"sp_bill\"\"ing_0a1b2c3d\" IS 'segproxy:it''s:1'");
  EXPECT_FALSE(create_role_sql(q_, "u", "v", "t", {}, "m"));  // no role to grant: refused
}

TEST_F(LibpqQuoter, RenewAndDropStatements) {
  const auto renew = renew_role_sql(q_, "sp_a", "2030-01-01 00:00:00+00", "segproxy:p:1893456000");
  ASSERT_TRUE(renew);
  EXPECT_EQ((*renew)[0], "ALTER ROLE \"sp_a\" VALID UNTIL '2030-01-01 00:00:00+00'");
  EXPECT_EQ((*renew)[1], "COMMENT ON ROLE \"sp_a\" IS 'segproxy:p:1893456000'");
  EXPECT_EQ(drop_role_sql(q_, "sp_a"), "DROP ROLE IF EXISTS \"sp_a\"");
  // A role that owns objects: reassigned to the segment's grant role (never the admin
  // login), then DROP OWNED, then DROP ROLE; the owner role is granted to the admin only
  // for the transaction when it was not a member.
  const auto owned = drop_role_owned_sql(q_, "sp_\"a", "billing_rw", true);
  ASSERT_TRUE(owned);
  ASSERT_EQ(owned->size(), 6u);
  EXPECT_EQ((*owned)[0], "GRANT \"sp_\"\"a\" TO CURRENT_USER");
  EXPECT_EQ((*owned)[1], "GRANT \"billing_rw\" TO CURRENT_USER");
  EXPECT_EQ((*owned)[2], "REASSIGN OWNED BY \"sp_\"\"a\" TO \"billing_rw\"");
  EXPECT_EQ((*owned)[3], "DROP OWNED BY \"sp_\"\"a\"");
  EXPECT_EQ((*owned)[4], "DROP ROLE \"sp_\"\"a\"");
  EXPECT_EQ((*owned)[5], "REVOKE \"billing_rw\" FROM CURRENT_USER");
  const auto member = drop_role_owned_sql(q_, "sp_a", "billing_rw", false);
  ASSERT_TRUE(member);
  ASSERT_EQ(member->size(), 4u);
  EXPECT_EQ((*member)[0], "GRANT \"sp_a\" TO CURRENT_USER");
  EXPECT_EQ((*member)[1], "REASSIGN OWNED BY \"sp_a\" TO \"billing_rw\"");
  EXPECT_EQ((*member)[3], "DROP ROLE \"sp_a\"");
  EXPECT_FALSE(drop_role_owned_sql(q_, "sp_a", "", false)) << "no owner role: nothing to reassign to";
}

TEST(DynamicPgSql, TtlAndRenewMarginAreClamped) {
  DynamicTarget t;
  t.settings.ttl = std::chrono::milliseconds(200);
  t.settings.renew_before = std::chrono::seconds(5);
  EXPECT_EQ(dynamic_ttl(t), kMinDynamicTtl);
  EXPECT_EQ(dynamic_renew_before(t), std::chrono::milliseconds(500));
  t.settings.ttl = std::chrono::hours(1);
  t.settings.renew_before = std::chrono::minutes(10);
  EXPECT_EQ(dynamic_renew_before(t), std::chrono::minutes(10));
}

}  // namespace
}  // namespace segproxy::proxy
