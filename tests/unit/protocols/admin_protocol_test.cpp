// protocols/admin: strict request parsing, canonical request encoding, and response
// encode/decode round trips (segproxyctl reads exactly what the proxy writes).
#include "protocols/admin/admin_protocol.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace segproxy::protocols::admin {
namespace {

using namespace std::chrono_literals;

Request parse_ok(std::string_view line) {
  const auto r = parse_request(line);
  EXPECT_TRUE(r) << line << " -> " << r.error;
  return r ? *r.request : Request{};
}

std::string parse_error(std::string_view line) {
  const auto r = parse_request(line);
  EXPECT_FALSE(r) << "accepted: " << line;
  return r.error;
}

TimePoint at(std::string_view rfc3339) { return *parse_time(rfc3339); }

TEST(AdminRequest, EveryCommandParsesToItsTypedRequest) {
  EXPECT_TRUE(std::holds_alternative<StatusRequest>(parse_ok(R"({"cmd":"status"})")));
  EXPECT_TRUE(std::holds_alternative<RevocationsRequest>(parse_ok(R"({"cmd":"revocations"})")));
  EXPECT_TRUE(std::holds_alternative<ReloadRequest>(parse_ok(R"({"cmd":"reload"})")));
  EXPECT_TRUE(std::holds_alternative<AuditCheckpointRequest>(parse_ok(R"({"cmd":"audit-checkpoint"})")));
  EXPECT_EQ(parse_ok(R"({"cmd":"sessions"})"), Request{SessionsRequest{}});
  EXPECT_EQ(parse_ok(R"({"segment":"billing","cmd":"sessions","identity":"cn=x"})"),
            (Request{SessionsRequest{"billing", "cn=x"}}));
  EXPECT_EQ(parse_ok(R"({"cmd":"kill","session_id":"42"})"), Request{KillRequest{"42"}});
  EXPECT_EQ(parse_ok(R"({"cmd":"revoke","spiffe_prefix":"spiffe://td/ns/a","reason":"incident 7","ttl":"90m"})"),
            (Request{RevokeRequest{{SelectorKind::SpiffePrefix, "spiffe://td/ns/a"}, "incident 7", 90min}}));
  EXPECT_EQ(parse_ok(R"({"cmd":"revoke","cert_serial":"0a:1B"})"),
            (Request{RevokeRequest{{SelectorKind::CertSerial, "0a:1B"}, "", std::nullopt}}));
  EXPECT_EQ(parse_ok(R"({"cmd":"unrevoke","segment":"billing"})"),
            (Request{UnrevokeRequest{{SelectorKind::Segment, "billing"}}}));
  EXPECT_EQ(parse_ok(" {\"cmd\":\"status\"} \r"), Request{StatusRequest{}});  // JSON whitespace around
}

TEST(AdminRequest, UnknownCommandsAndKeysAreErrors) {
  EXPECT_EQ(parse_error(R"({"cmd":"shutdown"})"), "unknown cmd \"shutdown\"");
  EXPECT_EQ(parse_error(R"({"cmd":"status","verbose":true})"), "unknown key \"verbose\" for cmd \"status\"");
  EXPECT_EQ(parse_error(R"({"cmd":"kill","session_id":"1","force":"yes"})"),
            "unknown key \"force\" for cmd \"kill\"");
  EXPECT_EQ(parse_error(R"({"cmd":"unrevoke","identity":"x","ttl":"1h"})"), "unknown key \"ttl\" for cmd \"unrevoke\"");
  EXPECT_EQ(parse_error(R"({"command":"status"})"), "missing \"cmd\"");
  EXPECT_EQ(parse_error(R"({"cmd":1})"), "\"cmd\" must be a string");
  EXPECT_EQ(parse_error(R"(["status"])"), "request must be a JSON object");
  EXPECT_EQ(parse_error(R"({"cmd":"status","cmd":"reload"})"), "invalid JSON at byte 0: duplicate key \"cmd\"");
  EXPECT_EQ(parse_error(R"({"cmd":"status"} {"cmd":"status"})"),
            "invalid JSON at byte 17: unexpected data after the JSON value");
}

TEST(AdminRequest, RevokeNeedsExactlyOneSelector) {
  EXPECT_EQ(parse_error(R"({"cmd":"revoke","reason":"x"})"),
            "missing selector: one of identity, spiffe_prefix, cert_serial, segment");
  EXPECT_EQ(parse_error(R"({"cmd":"revoke","identity":"a","segment":"b"})"),
            "more than one selector: give exactly one of identity, spiffe_prefix, cert_serial, segment");
  EXPECT_EQ(parse_error(R"({"cmd":"unrevoke"})"),
            "missing selector: one of identity, spiffe_prefix, cert_serial, segment");
}

TEST(AdminRequest, SelectorValuesAreValidatedPerKind) {
  EXPECT_EQ(parse_error(R"({"cmd":"revoke","identity":""})"), "\"identity\" must not be empty");
  EXPECT_EQ(parse_error(R"({"cmd":"revoke","identity":7})"), "\"identity\" must be a string");
  EXPECT_EQ(parse_error(R"({"cmd":"revoke","identity":"a\u001bb"})"), "\"identity\" contains a control character");
  EXPECT_EQ(parse_error(R"({"cmd":"revoke","spiffe_prefix":"https://td/x"})"),
            "spiffe_prefix must start with spiffe://<trust domain>");
  EXPECT_EQ(parse_error(R"({"cmd":"revoke","spiffe_prefix":"spiffe://"})"),
            "spiffe_prefix must start with spiffe://<trust domain>");
  EXPECT_EQ(parse_error(R"({"cmd":"revoke","cert_serial":"0x1F"})"),
            "cert_serial must be hexadecimal (':' separators allowed)");
  EXPECT_EQ(parse_error(R"({"cmd":"revoke","cert_serial":"::"})"), "cert_serial must have 1 to 64 hex digits");
  EXPECT_EQ(parse_error(R"({"cmd":"revoke","segment":"s","reason":5})"), "\"reason\" must be a string");
  const std::string long_value(kMaxValueBytes + 1, 'a');
  EXPECT_EQ(parse_error(R"({"cmd":"kill","session_id":")" + long_value + "\"}"),
            "\"session_id\" longer than 1024 bytes");
  EXPECT_EQ(parse_error(R"({"cmd":"kill"})"), "missing \"session_id\"");
}

TEST(AdminRequest, TtlIsOneNumberAndOneUnitWithinAYear) {
  EXPECT_EQ(parse_duration("30s"), 30s);
  EXPECT_EQ(parse_duration("15m"), 15min);
  EXPECT_EQ(parse_duration("2h"), 2h);
  EXPECT_EQ(parse_duration("7d"), 7 * 24h);
  EXPECT_EQ(parse_duration("365d"), kMaxTtl);
  for (const char* bad : {"", "s", "0s", "-5m", "+5m", "05m", "1.5h", "1h30m", "10", "3w", "366d", "31536001s",
                          "99999999999999d", " 1h", "1H"}) {
    EXPECT_FALSE(parse_duration(bad)) << bad;
  }
  EXPECT_EQ(parse_error(R"({"cmd":"revoke","segment":"s","ttl":"0s"})"),
            "invalid \"ttl\": want a number and one unit s|m|h|d (e.g. 90m), at most 365d");
  EXPECT_EQ(format_duration(90min), "90m");
  EXPECT_EQ(format_duration(2h), "2h");
  EXPECT_EQ(format_duration(48h), "2d");
  EXPECT_EQ(format_duration(61s), "61s");
}

TEST(AdminRequest, LineOverTheLimitIsRefusedBeforeParsing) {
  const std::string big = R"({"cmd":"status","x":")" + std::string(kMaxRequestLine, 'a') + "\"}";
  EXPECT_EQ(parse_error(big), "request longer than 65536 bytes");
}

TEST(AdminRequest, RevokeForceRoundTripsAndMustBeABoolean) {
  const Request forced{RevokeRequest{{SelectorKind::Identity, "CN=postgres"}, "", std::nullopt, true}};
  EXPECT_EQ(encode_request(forced), R"({"cmd":"revoke","identity":"CN=postgres","force":true})");
  EXPECT_EQ(parse_ok(encode_request(forced)), forced);
  EXPECT_EQ(parse_error(R"({"cmd":"revoke","identity":"a","force":"yes"})"), "\"force\" must be true or false");
}

TEST(AdminRequest, EncodeThenParseIsTheIdentity) {
  const Request reqs[] = {
      StatusRequest{},
      SessionsRequest{},
      SessionsRequest{std::nullopt, "spiffe://td/x"},
      KillRequest{"17"},
      RevokeRequest{{SelectorKind::Identity, "CN with \"quotes\" and é"}, "why not", 7 * 24h},
      RevokeRequest{{SelectorKind::CertSerial, "01:AB"}, "", std::nullopt},
      UnrevokeRequest{{SelectorKind::SpiffePrefix, "spiffe://td/"}},
      RevocationsRequest{},
      ReloadRequest{},
      AuditCheckpointRequest{},
  };
  for (const auto& r : reqs) {
    const std::string line = encode_request(r);
    EXPECT_EQ(line.find('\n'), std::string::npos);
    EXPECT_EQ(parse_ok(line), r) << line;
  }
  EXPECT_EQ(encode_request(RevokeRequest{{SelectorKind::Segment, "billing"}, "incident", 90min}),
            R"({"cmd":"revoke","segment":"billing","reason":"incident","ttl":"90m"})");
}

TEST(AdminRequest, ReasonWithControlCharactersIsRefused) {
  // Reasons go to the audit log and to terminals: printable text only.
  EXPECT_EQ(parse_error(R"({"cmd":"revoke","segment":"s","reason":"a\nb"})"), "\"reason\" contains a control character");
}

TEST(AdminTime, Rfc3339RoundTripsAtWholeSeconds) {
  const TimePoint t = at("2026-11-22T13:31:34Z");
  EXPECT_EQ(format_time(t), "2026-11-22T13:31:34Z");
  EXPECT_EQ(format_time(t + 999ms), "2026-11-22T13:31:34Z");
  EXPECT_EQ(at("2026-11-22T13:31:34.250Z"), t);
  EXPECT_EQ(format_time(TimePoint{}), "1970-01-01T00:00:00Z");
  EXPECT_EQ(format_time(at("2024-02-29T23:59:59Z")), "2024-02-29T23:59:59Z");
  for (const char* bad : {"2026-11-22 13:31:34Z", "2026-11-22T13:31:34", "2026-02-30T00:00:00Z",
                          "2026-11-22T24:00:00Z", "2026-11-22T13:31:34.Z", "2026-11-22T13:31:34+01:00"}) {
    EXPECT_FALSE(parse_time(bad)) << bad;
  }
}

// ---- responses ---------------------------------------------------------------------

template <class Result>
Result round_trip(const Result& in, std::string* line_out = nullptr) {
  const std::string line = encode_response(in);
  if (line_out) *line_out = line;
  EXPECT_EQ(line.find('\n'), std::string::npos);
  std::string error;
  const auto env = decode_envelope(line, error);
  EXPECT_TRUE(env) << error;
  Result out{};
  if (env) {
    EXPECT_TRUE(decode_response(env->body, out, error)) << error << "\n" << line;
  }
  return out;
}

RevocationInfo sample_revocation() {
  return {"3f9c0a1b2c4d", SelectorKind::SpiffePrefix, "spiffe://td/ns/a", "incident 7",
          at("2026-11-22T13:00:00Z"), at("2026-11-22T14:30:00Z"), 1000};
}

TEST(AdminResponse, ErrorLineIsOkFalseWithMessage) {
  EXPECT_EQ(encode_error("permission denied"), R"({"ok":false,"error":"permission denied"})");
  std::string error;
  const auto env = decode_envelope(encode_error("no such session"), error);
  ASSERT_TRUE(env);
  EXPECT_FALSE(env->ok);
  EXPECT_EQ(env->error, "no such session");
}

TEST(AdminResponse, StatusRoundTripsWithSegmentCountsInOrder) {
  StatusInfo s{"0.1.0", 3723, "sha256:ab12", "/etc/segproxy/segproxy.yaml", 12,
               {{"ops", 2}, {"billing", 10}}, 1, {{"pg-main", "postgres", "0.0.0.0:6432"}}};
  std::string line;
  EXPECT_EQ(round_trip(s, &line), s);
  EXPECT_EQ(line.rfind(R"({"ok":true,"version":"0.1.0","uptime_seconds":3723,)", 0), 0u) << line;
}

TEST(AdminResponse, SessionsRoundTrip) {
  SessionInfo a{"42", "spiffe://td/ns/billing/api", "spiffe://td/ns/billing/api", "api", "billing", "pg-main",
                "postgres", "10.0.0.7:51234", "shop", "billing_ro", at("2026-11-22T13:31:34Z"),
                "select * from orders where id = $1", 1234, 56789};
  SessionInfo b = a;
  b.id = "43";
  b.current_statement = "";
  EXPECT_EQ(round_trip(SessionsResult{{a, b}}), (SessionsResult{{a, b}}));
  EXPECT_EQ(round_trip(SessionsResult{}), SessionsResult{});
}

TEST(AdminResponse, RevocationResultsRoundTripWithAndWithoutExpiry) {
  RevocationInfo permanent = sample_revocation();
  permanent.expires_at.reset();
  permanent.kind = SelectorKind::CertSerial;
  permanent.value = "1AB";
  std::string line;
  EXPECT_EQ(round_trip(RevokeResult{sample_revocation(), 3, std::nullopt}, &line),
            (RevokeResult{sample_revocation(), 3, std::nullopt}));
  EXPECT_EQ(line,
            R"({"ok":true,"revocation":{"id":"3f9c0a1b2c4d","kind":"spiffe_prefix","value":"spiffe://td/ns/a",)"
            R"("reason":"incident 7","created_at":"2026-11-22T13:00:00Z","expires_at":"2026-11-22T14:30:00Z",)"
            R"("created_by_uid":1000},"sessions_terminated":3})");
  EXPECT_EQ(round_trip(RevocationsResult{{sample_revocation(), permanent}}),
            (RevocationsResult{{sample_revocation(), permanent}}));
  EXPECT_EQ(round_trip(UnrevokeResult{{permanent}, std::nullopt}), (UnrevokeResult{{permanent}, std::nullopt}));
}

// Issue 16: with a control plane, revoke / unrevoke answers carry the etcd revision or
// "queued" (docs/fleet.md); without one the key is absent (previous test).
TEST(AdminResponse, FleetWriteOfRevokeAndUnrevokeRoundTrips) {
  std::string line;
  const RevokeResult written{sample_revocation(), 1, FleetWrite{1234, false}};
  EXPECT_EQ(round_trip(written, &line), written);
  EXPECT_NE(line.find(R"("fleet":{"revision":1234,"queued":false})"), std::string::npos) << line;
  const UnrevokeResult queued{{sample_revocation()}, FleetWrite{0, true}};
  EXPECT_EQ(round_trip(queued, &line), queued);
  EXPECT_NE(line.find(R"("fleet":{"revision":0,"queued":true})"), std::string::npos) << line;
}

TEST(AdminResponse, KillReloadAndCheckpointRoundTrip) {
  EXPECT_EQ(round_trip(KillResult{"42"}), KillResult{"42"});
  ReloadResult ok{true, "aaa", "bbb", {}, {"listener pg-main: address changed (restart required)"}};
  EXPECT_EQ(round_trip(ok), ok);
  EXPECT_EQ(round_trip(CheckpointResult{1234, "ff00"}), (CheckpointResult{1234, "ff00"}));
}

TEST(AdminResponse, RejectedReloadIsOkFalseAndStillCarriesItsErrors) {
  ReloadResult bad{false, "aaa", "", {"segproxy.yaml:12: unknown key \"segmnets\""}, {}};
  const std::string line = encode_response(bad);
  std::string error;
  const auto env = decode_envelope(line, error);
  ASSERT_TRUE(env) << error;
  EXPECT_FALSE(env->ok);
  EXPECT_EQ(env->error, "configuration rejected: segproxy.yaml:12: unknown key \"segmnets\"");
  ReloadResult out;
  ASSERT_TRUE(decode_response(env->body, out, error)) << error;
  EXPECT_EQ(out, bad);
}

TEST(AdminResponse, DecodersIgnoreUnknownKeysButRejectMissingOrMistypedOnes) {
  std::string error;
  auto env = decode_envelope(R"({"ok":true,"session_id":"9","new_field":[1,2]})", error);
  ASSERT_TRUE(env);
  KillResult k;
  EXPECT_TRUE(decode_response(env->body, k, error));
  EXPECT_EQ(k.session_id, "9");

  env = decode_envelope(R"({"ok":true,"seq":"12","head_hash":"x"})", error);
  ASSERT_TRUE(env);
  CheckpointResult c;
  EXPECT_FALSE(decode_response(env->body, c, error));
  EXPECT_EQ(error, "response.seq must be a non-negative integer");

  env = decode_envelope(R"({"ok":true,"revocations":[{"id":"x"}]})", error);
  ASSERT_TRUE(env);
  RevocationsResult r;
  EXPECT_FALSE(decode_response(env->body, r, error));
  EXPECT_EQ(error, "revocation.kind is missing");

  EXPECT_FALSE(decode_envelope(R"({"error":"x"})", error));
  EXPECT_EQ(error, "response.ok is missing");
  EXPECT_FALSE(decode_envelope(R"({"ok":false})", error));
  EXPECT_EQ(error, "response.error is missing");
  EXPECT_FALSE(decode_envelope("not json", error));
}

}  // namespace
}  // namespace segproxy::protocols::admin
