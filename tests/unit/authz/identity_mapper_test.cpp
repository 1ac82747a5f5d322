// IdentityMapper: first rule whose every set field matches wins; no match = refused.
#include <gtest/gtest.h>

#include "authz/identity.hpp"
#include "authz/identity_mapper.hpp"

namespace segproxy::authz {
namespace {

using config::IdentityMatch;
using config::IdentityRule;

IdentityRule rule(IdentityMatch m, std::string segment, int line) {
  return IdentityRule{std::move(m), std::move(segment), line};
}

ClientIdentity billing_svc() {
  ClientIdentity id;
  id.spiffe_id = "spiffe://example.org/ns/billing/sa/api";
  id.dns_sans = {"api.billing.svc", "api.billing.example.org"};
  id.cn = "billing-api";
  id.ou = {"Payments", "Billing"};
  id.serial_hex = "0A1B";
  id.sha256_hex = "3a7b9c00112233445566778899aabbccddeeff00112233445566778899aabbcc";
  return id;
}

TEST(IdentityMapper, FirstMatchingRuleWins) {
  IdentityMatch spiffe;
  spiffe.spiffe_id = "spiffe://example.org/ns/billing/*";
  IdentityMatch cn;
  cn.cn = "billing-*";
  const IdentityMapper m({rule(cn, "first", 10), rule(spiffe, "second", 20)});
  const auto r = m.map(billing_svc());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->segment, "first");
  EXPECT_EQ(r->rule_line, 10);
}

TEST(IdentityMapper, NoMatchingRuleIsRefused) {
  IdentityMatch m;
  m.spiffe_id = "spiffe://example.org/ns/billing/*";
  ClientIdentity evil = billing_svc();
  evil.spiffe_id = "spiffe://example.org/ns/billing-evil/x";
  EXPECT_FALSE(IdentityMapper({rule(m, "billing", 1)}).map(evil).has_value());
  EXPECT_FALSE(IdentityMapper({}).map(billing_svc()).has_value());
}

TEST(IdentityMapper, AllSetFieldsMustMatch) {
  IdentityMatch m;
  m.cn = "billing-*";
  m.ou = "Billing";
  m.dns = "*.billing.example.org";
  const IdentityMapper mapper({rule(m, "billing", 1)});
  EXPECT_TRUE(mapper.map(billing_svc()).has_value());

  ClientIdentity wrong_ou = billing_svc();
  wrong_ou.ou = {"Payments"};
  EXPECT_FALSE(mapper.map(wrong_ou).has_value());
  ClientIdentity wrong_cn = billing_svc();
  wrong_cn.cn = "shipping-api";
  EXPECT_FALSE(mapper.map(wrong_cn).has_value());
  ClientIdentity wrong_dns = billing_svc();
  wrong_dns.dns_sans = {"api.billing.svc"};
  EXPECT_FALSE(mapper.map(wrong_dns).has_value());
}

TEST(IdentityMapper, LaterRuleMatchesWhenEarlierRuleFailsOnOneField) {
  IdentityMatch strict;
  strict.cn = "billing-api";
  strict.ou = "Admins";
  IdentityMatch loose;
  loose.cn = "billing-api";
  const auto r = IdentityMapper({rule(strict, "admin", 1), rule(loose, "user", 2)}).map(billing_svc());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->segment, "user");
}

TEST(IdentityMapper, EmptyIdentityFieldsNeverMatchEvenStar) {
  ClientIdentity bare;  // no spiffe id, no CN, no OU, no SANs, no hash
  for (auto set : {+[](IdentityMatch& m) { m.spiffe_id = "*"; },
                   +[](IdentityMatch& m) { m.cn = "*"; },
                   +[](IdentityMatch& m) { m.ou = "*"; },
                   +[](IdentityMatch& m) { m.dns = "*"; },
                   +[](IdentityMatch& m) { m.cert_sha256 = ""; }}) {
    IdentityMatch m;
    set(m);
    EXPECT_FALSE(IdentityMapper({rule(m, "any", 1)}).map(bare).has_value());
  }
  ClientIdentity empty_entries;
  empty_entries.ou = {""};
  empty_entries.dns_sans = {""};
  IdentityMatch ou_star;
  ou_star.ou = "*";
  EXPECT_FALSE(IdentityMapper({rule(ou_star, "any", 1)}).map(empty_entries).has_value());
}

TEST(IdentityMapper, RuleWithNoConditionsMatchesNobody) {
  EXPECT_FALSE(IdentityMapper({rule(IdentityMatch{}, "everyone", 1)}).map(billing_svc()).has_value());
}

TEST(IdentityMapper, OuAndDnsMatchWhenAnyValueMatches) {
  IdentityMatch ou;
  ou.ou = "Billing";  // second of two OUs
  EXPECT_TRUE(IdentityMapper({rule(ou, "s", 1)}).map(billing_svc()).has_value());
  IdentityMatch dns;
  dns.dns = "api.billing.svc";  // first of two SANs
  EXPECT_TRUE(IdentityMapper({rule(dns, "s", 1)}).map(billing_svc()).has_value());
}

TEST(IdentityMapper, CertSha256IsExactIgnoringCaseAndColons) {
  const std::string plain = "3a7b9c00112233445566778899aabbccddeeff00112233445566778899aabbcc";
  const std::string colons =
      "3A:7B:9C:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:"
      "AA:BB:CC";
  for (const std::string& pattern : {plain, colons}) {
    for (const std::string& have : {plain, colons}) {
      IdentityMatch m;
      m.cert_sha256 = pattern;
      ClientIdentity id = billing_svc();
      id.sha256_hex = have;
      EXPECT_TRUE(IdentityMapper({rule(m, "pinned", 1)}).map(id).has_value()) << pattern << " " << have;
    }
  }
  IdentityMatch star;
  star.cert_sha256 = "*";  // not a glob: exact comparison only
  EXPECT_FALSE(IdentityMapper({rule(star, "pinned", 1)}).map(billing_svc()).has_value());
  IdentityMatch prefix;
  prefix.cert_sha256 = plain.substr(0, 63);
  EXPECT_FALSE(IdentityMapper({rule(prefix, "pinned", 1)}).map(billing_svc()).has_value());
}

TEST(ClientIdentity, DisplayPrefersSpiffeThenCnThenHashPrefix) {
  ClientIdentity id = billing_svc();
  EXPECT_EQ(id.display(), "spiffe://example.org/ns/billing/sa/api");
  id.spiffe_id.clear();
  EXPECT_EQ(id.display(), "CN=billing-api");
  id.cn.clear();
  EXPECT_EQ(id.display(), "sha256:3a7b9c0011223344");
}

}  // namespace
}  // namespace segproxy::authz
