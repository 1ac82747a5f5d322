// daemon/control/admin_mapping: the one mapping between the admin wire protocol and authz's
// revocation types (moved here from authz's revocation_list_test with authz's
// include of the admin protocol; assertions unchanged).
#include "daemon/control/admin_mapping.hpp"

#include <gtest/gtest.h>

#include "protocols/common/time_text.hpp"

namespace segproxy::proxy {
namespace {

using authz::Revocation;
using authz::RevocationKind;
using authz::TimePoint;

TimePoint at(std::string_view s) { return *protocols::parse_time(s); }

Revocation rev(RevocationKind kind, std::string value) {
  Revocation r;
  r.kind = kind;
  r.value = std::move(value);
  return r;
}

TEST(RevocationWire, KindsAndEntriesMapOneToOneOntoTheAdminProtocol) {
  namespace admin = protocols::admin;
  for (const auto k : {RevocationKind::Identity, RevocationKind::SpiffePrefix, RevocationKind::CertSerial,
                       RevocationKind::Segment}) {
    EXPECT_EQ(from_wire(to_wire(k)), k);
    EXPECT_EQ(admin::selector_key(to_wire(k)), to_string(k));
  }
  Revocation r = rev(RevocationKind::CertSerial, "1AB");
  r.id = "abc";
  r.reason = "why";
  r.created_at = at("2026-11-22T12:00:00Z");
  r.expires_at = at("2026-11-22T13:00:00Z");
  r.created_by_uid = 7;
  EXPECT_EQ(to_wire(r), (admin::RevocationInfo{"abc", admin::SelectorKind::CertSerial, "1AB", "why",
                                               at("2026-11-22T12:00:00Z"), at("2026-11-22T13:00:00Z"), 7}));
}

// authz's file names of the kinds and the wire keys are one set of words.
TEST(RevocationWire, AuthzNeverIncludesTheAdminProtocolYetNamesKindsLikeIt) {
  for (const auto k : {RevocationKind::Identity, RevocationKind::SpiffePrefix, RevocationKind::CertSerial,
                       RevocationKind::Segment}) {
    EXPECT_EQ(authz::revocation_kind_from_string(protocols::admin::selector_key(to_wire(k))), k);
  }
}

}  // namespace
}  // namespace segproxy::proxy
