// segproxyctl audit verify / export / keygen: exit codes and messages on real logs
// written by audit::FileSink, then edited, truncated or torn on disk.
#include "ctl/audit.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "audit/file_sink.hpp"
#include "audit/log_files.hpp"
#include "audit/record_codec.hpp"
#include "daemon/audit_setup.hpp"

namespace segproxy::proxy::ctl {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "segproxy-ctl-audit-XXXXXX").string();
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

 private:
  fs::path path_;
};

struct CtlRun {
  int rc;
  std::string out;
  std::string err;
};

CtlRun run(std::vector<std::string> args) {
  std::ostringstream out, err;
  const int rc = run_audit(args, out, err);
  return {rc, out.str(), err.str()};
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Rewrites a (possibly read-only, rotated) log file.
void spit(const fs::path& p, const std::string& data) {
  fs::permissions(p, fs::perms::owner_write, fs::perm_options::add);
  std::ofstream(p, std::ios::binary | std::ios::trunc) << data;
}

std::vector<std::string> lines_of(const std::string& data) {
  std::vector<std::string> out;
  std::istringstream in(data);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

std::string join(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += l + "\n";
  return s;
}

audit::AuditRecord record(int i) {
  audit::AuditRecord r;
  r.event = i % 4 == 0 ? "session.open" : "statement.decision";
  r.session_id = "s" + std::to_string(i % 3);
  r.listener = "pg";
  r.protocol = "postgresql";
  r.client_addr = "10.0.0.1:50000";
  r.spiffe_id = i % 2 == 0 ? "spiffe://example.org/ns/billing/api" : "";
  r.cn = i % 2 == 0 ? "api" : "ops-tool";
  r.segment = i % 2 == 0 ? "billing" : "ops";
  r.database = "shop";
  if (r.event == "statement.decision") {
    r.statement = "select * from orders where id = " + std::to_string(i);
    r.tables = {{"public.orders", "select"}};
    r.decision = "allow";
  }
  return r;
}

// 1 audit.start + `n` records + the final checkpoint of the clean shutdown.
void write_log(const fs::path& dir, int n, const std::string& signing_key = "") {
  audit::AuditConfig cfg;
  cfg.dir = dir;
  cfg.instance = "proxy-test";
  cfg.signing_key = signing_key;
  std::string error;
  auto sink = audit::FileSink::open(cfg, error);
  ASSERT_TRUE(sink) << error;
  for (int i = 0; i < n; ++i) sink->submit(record(i), [](bool ok) { EXPECT_TRUE(ok); });
  sink->flush();
}

fs::path only_log_file(const fs::path& dir) {
  std::string error;
  const auto files = audit::list_log_files(dir, error);
  EXPECT_EQ(files.size(), 1u) << error;
  return files.empty() ? fs::path() : files.front().path;
}

TEST(CtlAuditVerify, IntactLogExitsZeroWithCounts) {
  TempDir t;
  write_log(t / "log", 10);
  const CtlRun r = run({"verify", (t / "log").string()});
  EXPECT_EQ(r.rc, kAuditExitOk) << r.out << r.err;
  EXPECT_EQ(r.out.rfind("OK: 1 files, 12 records", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("head: seq 12 hash "), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("signatures were not verified"), std::string::npos) << r.err;
}

TEST(CtlAuditVerify, JsonOutput) {
  TempDir t;
  write_log(t / "log", 3);
  const CtlRun r = run({"verify", (t / "log").string(), "--json"});
  EXPECT_EQ(r.rc, kAuditExitOk);
  EXPECT_EQ(r.out.rfind("{\"status\":\"ok\",\"intact\":true,\"files\":1,\"records\":5,", 0), 0u)
      << r.out;
  EXPECT_EQ(r.out.find("\"message\""), std::string::npos);
}

TEST(CtlAuditVerify, EditedRecordExitsOneAndNamesFileLineAndSeq) {
  TempDir t;
  write_log(t / "log", 10);
  const fs::path file = only_log_file(t / "log");
  auto lines = lines_of(slurp(file));
  ASSERT_NE(lines[2].find("\"seq\":3,"), std::string::npos);
  const auto pos = lines[2].find("orders where id = ");
  ASSERT_NE(pos, std::string::npos) << lines[2];
  lines[2].replace(pos, 6, "ORDERS");  // still canonical JSON: only the chain shows it
  spit(file, join(lines));

  const CtlRun r = run({"verify", (t / "log").string()});
  EXPECT_EQ(r.rc, kAuditExitFailed) << r.out;
  EXPECT_EQ(r.out.rfind("TAMPERED: " + file.string() + ":3 seq 3: ", 0), 0u) << r.out;

  const CtlRun j = run({"verify", (t / "log").string(), "--json"});
  EXPECT_EQ(j.rc, kAuditExitFailed);
  EXPECT_NE(j.out.find("\"status\":\"tampered\",\"intact\":false"), std::string::npos) << j.out;
  EXPECT_NE(j.out.find("\"line\":3,\"seq\":3,\"message\":"), std::string::npos) << j.out;
}

TEST(CtlAuditVerify, DeletedAndReorderedRecordsExitOne) {
  TempDir t;
  write_log(t / "log", 10);
  const fs::path file = only_log_file(t / "log");
  const auto original = lines_of(slurp(file));

  auto deleted = original;
  deleted.erase(deleted.begin() + 4);
  spit(file, join(deleted));
  EXPECT_EQ(run({"verify", (t / "log").string()}).rc, kAuditExitFailed);

  auto swapped = original;
  std::swap(swapped[4], swapped[5]);
  spit(file, join(swapped));
  const CtlRun r = run({"verify", (t / "log").string()});
  EXPECT_EQ(r.rc, kAuditExitFailed);
  EXPECT_NE(r.out.find(":5 seq 6: expected seq 5"), std::string::npos) << r.out;
}

TEST(CtlAuditVerify, TornTailExitsThreeAndSaysItIsNotTampering) {
  TempDir t;
  write_log(t / "log", 5);
  const fs::path file = only_log_file(t / "log");
  spit(file, slurp(file) + "{\"seq\":8,\"ts\":\"2026");
  const CtlRun r = run({"verify", (t / "log").string()});
  EXPECT_EQ(r.rc, kAuditExitTornTail) << r.out;
  EXPECT_EQ(r.out.rfind("TORN TAIL: " + file.string() + ":8 seq 8: ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("not tampering"), std::string::npos) << r.out;
}

TEST(CtlAuditVerify, TruncationAfterACheckpointExitsOne) {
  TempDir t;
  write_log(t / "log", 5);
  const fs::path file = only_log_file(t / "log");
  auto lines = lines_of(slurp(file));
  lines.pop_back();  // the final checkpoint, also recorded in checkpoints.jsonl
  lines.pop_back();
  spit(file, join(lines));
  const CtlRun r = run({"verify", (t / "log").string()});
  EXPECT_EQ(r.rc, kAuditExitFailed) << r.out;
  EXPECT_EQ(r.out.rfind("TRUNCATED: ", 0), 0u) << r.out;

  // Without the checkpoint file nothing shows the truncation; verify says so.
  fs::rename(t / "log" / audit::kCheckpointFileName, t / "elsewhere.jsonl");
  const CtlRun blind = run({"verify", (t / "log").string()});
  EXPECT_EQ(blind.rc, kAuditExitOk) << blind.out;
  EXPECT_NE(blind.err.find("truncation of the log's tail cannot be detected"), std::string::npos);
  // ... but the shipped copy does.
  EXPECT_EQ(run({"verify", (t / "log").string(), "--checkpoints", (t / "elsewhere.jsonl").string()}).rc,
            kAuditExitFailed);
}

TEST(CtlAuditVerify, MissingDirectoryAndUsageExitTwo) {
  TempDir t;
  EXPECT_EQ(run({"verify", (t / "nope").string()}).rc, kAuditExitUsage);
  EXPECT_EQ(run({"verify"}).rc, kAuditExitUsage);
  EXPECT_EQ(run({"verify", "a", "b"}).rc, kAuditExitUsage);
  EXPECT_EQ(run({"verify", "a", "--format", "csv"}).rc, kAuditExitUsage);  // export-only
  EXPECT_EQ(run({"verify", "a", "--pubkey"}).rc, kAuditExitUsage);
  EXPECT_EQ(run({"frobnicate"}).rc, kAuditExitUsage);
  EXPECT_EQ(run({}).rc, kAuditExitUsage);
  EXPECT_EQ(run({"--help"}).rc, kAuditExitOk);
}

TEST(CtlAuditKeygen, WritesKeyPairUsableBySinkAndVerify) {
  TempDir t;
  const std::string key = (t / "audit.pem").string();
  const CtlRun k = run({"keygen", "--out", key});
  ASSERT_EQ(k.rc, kAuditExitOk) << k.err;
  EXPECT_NE(k.out.find("key_id: "), std::string::npos);
  struct stat st {};
  ASSERT_EQ(::stat(key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_TRUE(fs::exists(key + ".pub"));
  EXPECT_NE(slurp(key).find("BEGIN PRIVATE KEY"), std::string::npos);
  EXPECT_NE(slurp(key + ".pub").find("BEGIN PUBLIC KEY"), std::string::npos);

  // Never overwrites.
  EXPECT_EQ(run({"keygen", "--out", key}).rc, kAuditExitUsage);
  EXPECT_EQ(run({"keygen"}).rc, kAuditExitUsage);

  write_log(t / "log", 4, key);
  const CtlRun ok = run({"verify", (t / "log").string(), "--pubkey", key + ".pub"});
  EXPECT_EQ(ok.rc, kAuditExitOk) << ok.out;
  EXPECT_NE(ok.out.find(" checkpoints, 2 signatures verified"), std::string::npos) << ok.out;
  EXPECT_EQ(ok.err, "");

  const std::string other = (t / "other.pem").string();
  ASSERT_EQ(run({"keygen", "--out", other}).rc, kAuditExitOk);
  const CtlRun bad = run({"verify", (t / "log").string(), "--pubkey", other + ".pub"});
  EXPECT_EQ(bad.rc, kAuditExitFailed) << bad.out;
  EXPECT_EQ(bad.out.rfind("BAD SIGNATURE: ", 0), 0u) << bad.out;
}

std::size_t count_crlf_lines(const std::string& s) {
  std::size_t n = 0;
  for (std::size_t p = s.find("\r\n"); p != std::string::npos; p = s.find("\r\n", p + 2)) ++n;
  return n;
}

TEST(CtlAuditExport, CsvHeaderAndRows) {
  TempDir t;
  write_log(t / "log", 8);
  const CtlRun r = run({"export", (t / "log").string(), "--format", "csv"});
  EXPECT_EQ(r.rc, kAuditExitOk) << r.err;
  EXPECT_EQ(r.out.rfind("seq,ts,instance,event,", 0), 0u) << r.out;
  EXPECT_EQ(count_crlf_lines(r.out), 1u + 10u);
  EXPECT_NE(r.err.find("exported 10 of 10 record(s)"), std::string::npos) << r.err;
}

TEST(CtlAuditExport, FiltersCombine) {
  TempDir t;
  write_log(t / "log", 8);  // i = 0..7: session.open at 0 and 4; odd i are segment ops
  const std::string dir = (t / "log").string();
  CtlRun r = run({"export", dir, "--format", "csv", "--event", "statement.decision", "--segment", "ops"});
  EXPECT_EQ(r.rc, kAuditExitOk);
  EXPECT_EQ(count_crlf_lines(r.out), 1u + 4u) << r.out;  // i = 1, 3, 5, 7

  r = run({"export", dir, "--event", "session.*"});  // jsonl by default
  EXPECT_EQ(r.rc, kAuditExitOk);
  const auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  std::string error;
  const auto first = audit::decode_record(lines[0], error);
  ASSERT_TRUE(first) << error;
  EXPECT_EQ(first->event, "session.open");

  r = run({"export", dir, "--identity", "spiffe://example.org/ns/billing/api"});
  EXPECT_EQ(lines_of(r.out).size(), 4u) << r.out;  // even i
  r = run({"export", dir, "--identity", "ops-tool", "--format", "ocsf"});
  EXPECT_EQ(lines_of(r.out).size(), 4u) << r.out;

  r = run({"export", dir, "--since", "2100-01-01"});
  EXPECT_EQ(r.rc, kAuditExitOk);
  EXPECT_EQ(r.out, "");
  r = run({"export", dir, "--until", "2000-01-01T00:00:00Z"});
  EXPECT_EQ(r.out, "");
  r = run({"export", dir, "--since", "2000-01-01T00:00:00+02:00", "--until", "2100-01-01"});
  EXPECT_EQ(lines_of(r.out).size(), 10u);
}

TEST(CtlAuditExport, TamperedLogExitsOneButNoVerifyExportsAll) {
  TempDir t;
  write_log(t / "log", 6);
  const fs::path file = only_log_file(t / "log");
  auto lines = lines_of(slurp(file));
  const auto pos = lines[4].find("\"database\":\"shop\"");
  ASSERT_NE(pos, std::string::npos);
  lines[4].replace(pos, 17, "\"database\":\"shoq\"");
  spit(file, join(lines));

  const CtlRun r = run({"export", (t / "log").string()});
  EXPECT_EQ(r.rc, kAuditExitFailed);
  EXPECT_EQ(lines_of(r.out).size(), 4u);  // records before the problem
  EXPECT_NE(r.err.find("verification failed: TAMPERED: "), std::string::npos) << r.err;

  const CtlRun nv = run({"export", (t / "log").string(), "--no-verify"});
  EXPECT_EQ(nv.rc, kAuditExitOk) << nv.err;
  EXPECT_EQ(lines_of(nv.out).size(), 8u);
  EXPECT_NE(nv.err.find("not verified (--no-verify)"), std::string::npos);
}

TEST(CtlAuditExport, TornTailIsAWarningNotAFailure) {
  TempDir t;
  write_log(t / "log", 3);
  const fs::path file = only_log_file(t / "log");
  spit(file, slurp(file) + "{\"seq\":6");
  const CtlRun r = run({"export", (t / "log").string()});
  EXPECT_EQ(r.rc, kAuditExitOk);
  EXPECT_EQ(lines_of(r.out).size(), 5u);
  EXPECT_NE(r.err.find("warning: TORN TAIL: "), std::string::npos) << r.err;
}

TEST(CtlAuditExport, UsageErrorsExitTwo) {
  TempDir t;
  write_log(t / "log", 1);
  const std::string dir = (t / "log").string();
  EXPECT_EQ(run({"export", dir, "--format", "xml"}).rc, kAuditExitUsage);
  EXPECT_EQ(run({"export", dir, "--since", "yesterday"}).rc, kAuditExitUsage);
  EXPECT_EQ(run({"export", dir, "--since", "2026-01-02", "--until", "2026-01-01"}).rc, kAuditExitUsage);
  EXPECT_EQ(run({"export", dir, "--segment", ""}).rc, kAuditExitUsage);
  EXPECT_EQ(run({"export", dir, "--json"}).rc, kAuditExitUsage);  // verify-only
  EXPECT_EQ(run({"export"}).rc, kAuditExitUsage);
  EXPECT_EQ(run({"export", (t / "nope").string()}).rc, kAuditExitUsage);
}

// daemon/audit_setup: the YAML words become the library's enums; instance defaults to
// the host name.
TEST(AuditSetup, MapsSettingsOntoAuditConfig) {
  config::AuditSettings s;
  s.dir = "/var/log/segproxy/audit";
  const audit::AuditConfig d = to_audit_config(s);
  EXPECT_EQ(d.dir, fs::path("/var/log/segproxy/audit"));
  EXPECT_EQ(d.durability, audit::Durability::group);
  EXPECT_EQ(d.on_failure, audit::OnFailure::fail_closed);
  EXPECT_EQ(d.statement_text, audit::StatementText::normalized);
  EXPECT_EQ(d.instance, host_name());
  EXPECT_FALSE(d.instance.empty());
  EXPECT_EQ(d.max_queue, 65536u);
  EXPECT_EQ(d.rotate_size, 64ull << 20);

  s.durability = "interval";
  s.sync_interval = std::chrono::milliseconds(50);
  s.on_failure = "fail_open";
  s.statement_text = "none";
  s.checkpoint_every_records = 7;
  s.checkpoint_every = std::chrono::seconds(9);
  s.rotate_size = 1 << 20;
  s.rotate_every = std::chrono::seconds(3600);
  s.signing_key = "/etc/segproxy/audit.pem";
  s.max_queue = 10;
  s.instance = "proxy-a";
  const audit::AuditConfig c = to_audit_config(s);
  EXPECT_EQ(c.durability, audit::Durability::interval);
  EXPECT_EQ(c.sync_interval, std::chrono::milliseconds(50));
  EXPECT_EQ(c.on_failure, audit::OnFailure::fail_open);
  EXPECT_EQ(c.statement_text, audit::StatementText::none);
  EXPECT_EQ(c.checkpoint_every_records, 7u);
  EXPECT_EQ(c.checkpoint_every, std::chrono::seconds(9));
  EXPECT_EQ(c.rotate_size, 1u << 20);
  EXPECT_EQ(c.rotate_every, std::chrono::seconds(3600));
  EXPECT_EQ(c.signing_key, fs::path("/etc/segproxy/audit.pem"));
  EXPECT_EQ(c.max_queue, 10u);
  EXPECT_EQ(c.instance, "proxy-a");

  s.durability = "fsync_each";
  s.statement_text = "full";
  EXPECT_EQ(to_audit_config(s).durability, audit::Durability::fsync_each);
  EXPECT_EQ(to_audit_config(s).statement_text, audit::StatementText::full);
  s.durability = "sometimes";
  EXPECT_THROW(to_audit_config(s), std::invalid_argument);
}

}  // namespace
}  // namespace segproxy::proxy::ctl
