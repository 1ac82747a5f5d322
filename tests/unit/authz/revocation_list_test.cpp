// authz/revocation_list: matching rules, expiry on an injected clock, persistence
// (survives a reload from disk, strict file reading with line numbers, atomic save that
// leaves the old file and the in-memory list intact when the write fails).
#include "authz/revocation_list.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <csignal>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "protocols/common/time_text.hpp"

namespace segproxy::authz {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "segproxy-revocations-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  fs::path operator/(const std::string& s) const { return path_ / s; }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void spit(const fs::path& p, const std::string& s) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << s;
}

TimePoint at(std::string_view s) { return *protocols::parse_time(s); }

ClientIdentity identity(std::string spiffe, std::string cn = "", std::string serial = "", std::string sha = "") {
  ClientIdentity id;
  id.spiffe_id = std::move(spiffe);
  id.cn = std::move(cn);
  id.serial_hex = std::move(serial);
  id.sha256_hex = std::move(sha);
  return id;
}

Revocation rev(RevocationKind kind, std::string value) {
  Revocation r;
  r.kind = kind;
  r.value = std::move(value);
  return r;
}

const std::string kSha = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

TEST(RevocationMatch, IdentityMatchesSpiffeIdCnOrFingerprintExactly) {
  const auto id = identity("spiffe://td/ns/billing/api", "api-client", "01AB", kSha);
  EXPECT_TRUE(matches(rev(RevocationKind::Identity, "spiffe://td/ns/billing/api"), id, ""));
  EXPECT_TRUE(matches(rev(RevocationKind::Identity, "api-client"), id, ""));
  EXPECT_FALSE(matches(rev(RevocationKind::Identity, "spiffe://td/ns/billing"), id, ""));  // not a prefix rule
  EXPECT_FALSE(matches(rev(RevocationKind::Identity, "API-CLIENT"), id, ""));  // CN is case-sensitive
  // SHA-256: case-insensitive, ':' separators ignored.
  std::string colons;
  for (std::size_t i = 0; i < kSha.size(); i += 2) colons += (i ? ":" : "") + kSha.substr(i, 2);
  for (auto& c : colons) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_TRUE(matches(rev(RevocationKind::Identity, colons), id, ""));
  EXPECT_FALSE(matches(rev(RevocationKind::Identity, kSha.substr(0, 63)), id, ""));
  // Empty identity fields never match (a certificate without CN is not "revoked by CN ''").
  EXPECT_FALSE(identity_matches("", identity("", "", "", "")));
}

// Issue 12 item 4.9b: `revoke --identity CN=postgres` (the form `sessions` and the logs
// show) used to match nothing.
TEST(RevocationMatch, ShownIdentityFormsMatchTheIdentityTheyShow) {
  const auto cn_only = identity("", "postgres", "01AB", kSha);
  EXPECT_EQ(cn_only.display(), "CN=postgres");
  EXPECT_TRUE(identity_matches(cn_only.display(), cn_only));
  EXPECT_TRUE(matches(rev(RevocationKind::Identity, "CN=postgres"), cn_only, ""));
  EXPECT_TRUE(matches(rev(RevocationKind::Identity, "cn=postgres"), cn_only, ""));
  EXPECT_FALSE(matches(rev(RevocationKind::Identity, "CN=Postgres"), cn_only, ""));  // the name stays exact
  EXPECT_FALSE(matches(rev(RevocationKind::Identity, "CN=postgres2"), cn_only, ""));
  EXPECT_FALSE(matches(rev(RevocationKind::Identity, "CN="), identity("", "", "", kSha), ""));
  // The fingerprint form: "sha256:" and at least 16 hex digits of it.
  const auto anonymous = identity("", "", "", kSha);
  EXPECT_EQ(anonymous.display(), "sha256:" + kSha.substr(0, 16));
  EXPECT_TRUE(identity_matches(anonymous.display(), anonymous));
  EXPECT_TRUE(identity_matches("sha256:" + kSha, anonymous));
  EXPECT_FALSE(identity_matches("sha256:" + kSha.substr(0, 15), anonymous));  // too short to name one
  EXPECT_FALSE(identity_matches("sha256:" + kSha.substr(1, 16), anonymous));  // not a prefix
  EXPECT_FALSE(identity_matches("sha256:zz" + kSha.substr(0, 16), anonymous));
}

TEST(RevocationMatch, SpiffePrefixStopsAtPathSegmentBoundaries) {
  const auto r = rev(RevocationKind::SpiffePrefix, "spiffe://td/ns/a");
  EXPECT_TRUE(matches(r, identity("spiffe://td/ns/a"), ""));
  EXPECT_TRUE(matches(r, identity("spiffe://td/ns/a/worker"), ""));
  EXPECT_FALSE(matches(r, identity("spiffe://td/ns/ab"), ""));  // the boundary this rule guards
  EXPECT_FALSE(matches(r, identity("spiffe://td/ns"), ""));
  EXPECT_FALSE(matches(r, identity(""), ""));
  // A trailing '/' means "anything below", not the parent itself.
  EXPECT_TRUE(spiffe_prefix_matches("spiffe://td/ns/", "spiffe://td/ns/x"));
  EXPECT_FALSE(spiffe_prefix_matches("spiffe://td/ns/", "spiffe://td/ns"));
  // A bare trust domain covers the domain, not a longer domain name.
  EXPECT_TRUE(spiffe_prefix_matches("spiffe://td", "spiffe://td/anything"));
  EXPECT_FALSE(spiffe_prefix_matches("spiffe://td", "spiffe://td.evil/anything"));
  EXPECT_FALSE(spiffe_prefix_matches("td/ns", "td/ns/x"));  // must be a spiffe:// prefix
}

TEST(RevocationMatch, CertSerialIgnoresCaseColonsAndLeadingZeros) {
  const auto id = identity("", "", "0A1B2C");
  EXPECT_TRUE(matches(rev(RevocationKind::CertSerial, "A1B2C"), id, ""));
  EXPECT_TRUE(matches(rev(RevocationKind::CertSerial, "00:0a:1b:2c"), id, ""));
  EXPECT_FALSE(matches(rev(RevocationKind::CertSerial, "A1B2C0"), id, ""));
  EXPECT_FALSE(matches(rev(RevocationKind::CertSerial, "A1B2C"), identity("", "", ""), ""));
  EXPECT_EQ(normalize_serial("00:0a:1B"), "A1B");
  EXPECT_EQ(normalize_serial("00"), "0");
  EXPECT_EQ(normalize_serial("0x1"), "");
  EXPECT_EQ(normalize_serial(":"), "");
}

TEST(RevocationMatch, SegmentMatchesOnlyTheExactKnownSegment) {
  const auto r = rev(RevocationKind::Segment, "billing");
  EXPECT_TRUE(matches(r, identity("spiffe://td/x"), "billing"));
  EXPECT_FALSE(matches(r, identity("spiffe://td/x"), "billing2"));
  EXPECT_FALSE(matches(r, identity("spiffe://td/x"), ""));  // before mapping: unknown segment
}

TEST(RevocationList, ExpiresOnTheInjectedClockAndPruneDropsOnlyExpired) {
  RevocationList list{fs::path()};
  const TimePoint t0 = at("2026-11-22T12:00:00Z");
  ASSERT_TRUE(list.add(RevocationKind::Segment, "billing", "incident", 90min, 0, t0).ok);
  ASSERT_TRUE(list.add(RevocationKind::Identity, "cn-forever", "", std::nullopt, 0, t0).ok);
  const auto id = identity("spiffe://td/x");
  EXPECT_TRUE(list.find_match(id, "billing", t0 + 89min));
  EXPECT_FALSE(list.find_match(id, "billing", t0 + 90min));  // expires_at is exclusive
  EXPECT_EQ(list.active_count(t0 + 90min), 1u);

  const auto pruned = list.prune_expired(t0 + 2h);
  ASSERT_TRUE(pruned.ok);
  ASSERT_EQ(pruned.changed.size(), 1u);
  EXPECT_EQ(pruned.changed[0].value, "billing");
  ASSERT_EQ(pruned.snapshot->size(), 1u);
  EXPECT_EQ(pruned.snapshot->front().value, "cn-forever");
  EXPECT_TRUE(list.prune_expired(t0 + 2h).changed.empty());
}

TEST(RevocationList, RevokingTheSameSelectorAgainReplacesIt) {
  RevocationList list{fs::path()};
  const TimePoint t0 = at("2026-11-22T12:00:00Z");
  const auto first = list.add(RevocationKind::CertSerial, "0a:1b", "one", 1h, 0, t0);
  const auto second = list.add(RevocationKind::CertSerial, "A1B", "two", std::nullopt, 5, t0 + 1min);
  ASSERT_TRUE(first.ok && second.ok);
  ASSERT_EQ(second.snapshot->size(), 1u);
  const Revocation& r = second.snapshot->front();
  EXPECT_EQ(r.value, "A1B");  // stored normalised
  EXPECT_EQ(r.reason, "two");
  EXPECT_FALSE(r.expires_at);
  EXPECT_EQ(r.created_by_uid, 5u);
  EXPECT_NE(r.id, first.changed.front().id);
}

TEST(RevocationList, RemoveTakesEveryEntryOfThatSelectorAndReportsThem) {
  RevocationList list{fs::path()};
  const TimePoint t0 = at("2026-11-22T12:00:00Z");
  list.add(RevocationKind::Segment, "a", "", std::nullopt, 0, t0);
  list.add(RevocationKind::Segment, "b", "", std::nullopt, 0, t0);
  const auto none = list.remove(RevocationKind::Identity, "a");
  EXPECT_TRUE(none.ok);
  EXPECT_TRUE(none.changed.empty());
  const auto removed = list.remove(RevocationKind::Segment, "a");
  ASSERT_TRUE(removed.ok);
  ASSERT_EQ(removed.changed.size(), 1u);
  ASSERT_EQ(removed.snapshot->size(), 1u);
  EXPECT_EQ(removed.snapshot->front().value, "b");
}

TEST(RevocationList, InvalidSelectorValuesAreRefused) {
  RevocationList list{fs::path()};
  const TimePoint t0 = at("2026-11-22T12:00:00Z");
  auto u = list.add(RevocationKind::SpiffePrefix, "td/ns", "", std::nullopt, 0, t0);
  EXPECT_FALSE(u.ok);
  EXPECT_EQ(u.error, "spiffe_prefix must start with spiffe://<trust domain>");
  EXPECT_FALSE(list.add(RevocationKind::CertSerial, "xyz", "", std::nullopt, 0, t0).ok);
  EXPECT_FALSE(list.add(RevocationKind::Identity, "", "", std::nullopt, 0, t0).ok);
  EXPECT_TRUE(list.snapshot()->empty());
}

TEST(RevocationList, PersistedRevocationsSurviveAReloadFromDisk) {
  TempDir dir;
  const fs::path file = dir / "revocations.jsonl";
  const TimePoint t0 = at("2026-11-22T12:00:00Z") + 123ms;
  {
    RevocationList list(file);
    std::string error;
    ASSERT_TRUE(list.load(error)) << error;  // missing file: empty list
    ASSERT_TRUE(list.add(RevocationKind::SpiffePrefix, "spiffe://td/ns/a", "incident \"7\"", 2h, 1000, t0).ok);
    ASSERT_TRUE(list.add(RevocationKind::CertSerial, "00:ff", "", std::nullopt, 0, t0).ok);
  }
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  RevocationList again(file);
  std::string error;
  ASSERT_TRUE(again.load(error)) << error;
  const auto snap = again.snapshot();
  ASSERT_EQ(snap->size(), 2u);
  const Revocation& r = snap->front();
  EXPECT_EQ(r.kind, RevocationKind::SpiffePrefix);
  EXPECT_EQ(r.reason, "incident \"7\"");
  EXPECT_EQ(r.created_at, at("2026-11-22T12:00:00Z"));  // whole seconds on disk and in memory
  EXPECT_EQ(r.expires_at, at("2026-11-22T14:00:00Z"));
  EXPECT_EQ(r.created_by_uid, 1000u);
  EXPECT_EQ(snap->back().value, "FF");
  EXPECT_TRUE(again.find_match(identity("spiffe://td/ns/a/x"), "", t0 + 1h));
  EXPECT_FALSE(again.find_match(identity("spiffe://td/ns/a/x"), "", t0 + 3h));
  // Byte-identical re-encoding: what was loaded is what was saved.
  std::string reencoded;
  for (const auto& x : *snap) reencoded += encode_revocation_line(x) + "\n";
  EXPECT_EQ(reencoded, slurp(file));
}

TEST(RevocationList, MalformedFileIsRejectedWithItsLineNumberAndTheListKept) {
  TempDir dir;
  const fs::path file = dir / "revocations.jsonl";
  RevocationList list(file);
  ASSERT_TRUE(list.add(RevocationKind::Segment, "keep", "", std::nullopt, 0, at("2026-11-22T12:00:00Z")).ok);
  const std::string good = slurp(file);
  const struct {
    std::string text;
    std::string error;
  } cases[] = {
      {good + "{\"id\":\"x\"\n", "line 2: invalid JSON at byte 9: unterminated object"},
      {good + "{\"id\":\"b\",\"kind\":\"segment\",\"value\":\"s\",\"reason\":\"\",\"created_at\":\"2026-11-22T12:00:00Z\","
              "\"created_by_uid\":0,\"extra\":1}\n",
       "line 2: unknown key \"extra\""},
      {good + "{\"id\":\"b\",\"kind\":\"group\",\"value\":\"s\",\"reason\":\"\",\"created_at\":\"2026-11-22T12:00:00Z\","
              "\"created_by_uid\":0}\n",
       "line 2: unknown kind \"group\""},
      {good + good, "line 2: duplicate id"},
      {good + "\n", "line 2: invalid JSON at byte 0: unexpected end of input"},
      {good.substr(0, good.size() - 1), "line 1: no final newline (truncated file?)"},
      {"{\"id\":\"b\",\"kind\":\"cert_serial\",\"value\":\"zz\",\"reason\":\"\",\"created_at\":\"2026-11-22T12:00:00Z\","
       "\"created_by_uid\":0}\n",
       "line 1: cert_serial must be hexadecimal (':' separators allowed)"},
  };
  for (const auto& c : cases) {
    spit(file, c.text);
    std::string error;
    EXPECT_FALSE(list.load(error)) << c.text;
    EXPECT_NE(error.find(file.string() + ": " + c.error), std::string::npos) << error;
    ASSERT_EQ(list.snapshot()->size(), 1u);  // the running list is kept
    EXPECT_EQ(list.snapshot()->front().value, "keep");
  }
}

TEST(RevocationList, FailedSaveChangesNeitherTheFileNorTheList) {
  // Missing directory: the temporary file cannot be created (works as root too).
  TempDir dir;
  RevocationList orphan(dir / "no-such-dir" / "revocations.jsonl");
  const auto u = orphan.add(RevocationKind::Segment, "s", "", std::nullopt, 0, at("2026-11-22T12:00:00Z"));
  EXPECT_FALSE(u.ok);
  EXPECT_NE(u.error.find("cannot create a temporary file"), std::string::npos) << u.error;
  EXPECT_TRUE(orphan.snapshot()->empty());
  EXPECT_TRUE(u.snapshot->empty());
}

TEST(RevocationList, WriteFailureMidFileLeavesTheOldFileIntact) {
  // CI runs as root, so a read-only directory would not stop the write; a file-size
  // limit does (write() fails with EFBIG for root as well).
  TempDir dir;
  const fs::path file = dir / "revocations.jsonl";
  RevocationList list(file);
  const TimePoint t0 = at("2026-11-22T12:00:00Z");
  ASSERT_TRUE(list.add(RevocationKind::Segment, "old", "", std::nullopt, 0, t0).ok);
  const std::string before = slurp(file);

  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
  const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = saved;
  small.rlim_cur = before.size() + 10;  // the new file (two entries) does not fit
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  const auto u = list.add(RevocationKind::Segment, "new-with-a-long-name", "a reason long enough", std::nullopt, 0, t0);
  ::setrlimit(RLIMIT_FSIZE, &saved);
  std::signal(SIGXFSZ, old_handler);

  EXPECT_FALSE(u.ok);
  EXPECT_NE(u.error.find("cannot write"), std::string::npos) << u.error;
  EXPECT_EQ(slurp(file), before);
  ASSERT_EQ(list.snapshot()->size(), 1u);
  EXPECT_EQ(list.snapshot()->front().value, "old");
  // No temporary file is left behind.
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir.path())) ++entries;
  EXPECT_EQ(entries, 1u);
}

TEST(RevocationList, ReadersSeeAnImmutableSnapshotWhileWritersPublishNewOnes) {
  RevocationList list{fs::path()};
  const TimePoint t0 = at("2026-11-22T12:00:00Z");
  list.add(RevocationKind::Segment, "a", "", std::nullopt, 0, t0);
  const RevocationSnapshot held = list.snapshot();
  list.add(RevocationKind::Segment, "b", "", std::nullopt, 0, t0);
  EXPECT_EQ(held->size(), 1u);
  EXPECT_EQ(list.snapshot()->size(), 2u);
}

}  // namespace
}  // namespace segproxy::authz
