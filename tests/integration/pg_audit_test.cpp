// The audit log written by a real proxy (docs/audit.md), read back and verified with the
// audit library itself: every session (opened, refused, closed) and every statement
// decision is recorded, durably before the client is served / the statement is forwarded,
// in a gap-free verified chain; statement text follows audit.statement_text; secrets never
// appear; when the log cannot be written, statements are refused with 58030 (fail_closed)
// and the session stays usable. The kill -9 test is in pg_audit_pgbench_test.cpp
// (integration_pg_bench, RESOURCE_LOCK pgbench).
#include <gtest/gtest.h>
#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "audit/hash_chain.hpp"
#include "audit/verifier.hpp"
#include "support/audit_support.hpp"
#include "support/raw_client.hpp"

namespace segproxy::it {
namespace {

namespace fs = std::filesystem;
using audit::AuditRecord;

constexpr const char* kBillingSpiffe = "spiffe://example.org/ns/billing/sa/api";

bool has_table(const AuditRecord& r, const std::string& name, const std::string& op) {
  for (const auto& t : r.tables) {
    if (t.name == name && t.op == op) return true;
  }
  return false;
}

// Records of one session, in log order.
std::vector<AuditRecord> session_records(const AuditLog& log, const std::string& session_id) {
  return records_where(log, [&](const AuditRecord& r) { return r.session_id == session_id; });
}

class AuditTest : public PolicyTest {
 protected:
  void SetUp() override {
    PolicyTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    audit_dir_ = dir_ + "/audit";
    orders_ = unique_name("it_aud_orders");
    pii_ = unique_name("it_aud_pii");
    ASSERT_NO_FATAL_FAILURE(CreateTable(orders_, 3));
    ASSERT_NO_FATAL_FAILURE(CreateTable(pii_, 2));
  }

  // The orders policy of the policy tests, plus `audit: {dir: audit_dir_, <audit_extra>}`.
  void StartAudited(const std::string& audit_extra = "") {
    ProxyConfigOptions opts;
    opts.billing_policy = orders_policy(orders_, pii_);
    opts.extra_yaml = audit_yaml(audit_dir_, audit_extra);
    ASSERT_NO_FATAL_FAILURE(StartProxy(opts));
  }

  // SIGTERM: a clean shutdown (final checkpoint, last file closed).
  void StopProxy() {
    const std::string how = proxy_.stop();
    EXPECT_EQ(how, "exited with status 0");
  }

  // Runs one statement in a fresh session, closes it, stops the proxy, and returns the
  // session's statement.decision record (fatal failure if there is not exactly one).
  void DecisionOf(const std::string& sql, AuditRecord* out, AuditLog* log_out = nullptr) {
    {
      PgConnPtr c = Connect();
      ASSERT_PG_CONNECTED(c);
      const QueryOutcome q = pg_exec(c.get(), sql);
      ASSERT_TRUE(q.ok) << sql << ": " << q.error;
    }
    ASSERT_TRUE(wait_for_record(audit_dir_, [](const AuditRecord& r) { return r.event == "session.close"; }))
        << "no session.close within 5 s of the client's Terminate";
    StopProxy();
    const AuditLog log = read_audit_log(audit_dir_);
    ASSERT_TRUE(log.result.ok()) << log.describe();
    const auto d = records_where(log, [](const AuditRecord& r) { return r.event == "statement.decision"; });
    ASSERT_EQ(d.size(), 1u) << log.describe();
    *out = d[0];
    if (log_out != nullptr) *log_out = log;
  }

  std::string audit_dir_;
  std::string orders_;
  std::string pii_;
};

TEST_F(AuditTest, EverySessionAndStatementDecisionIsRecordedInOrderWithIdentity) {
  ASSERT_NO_FATAL_FAILURE(StartAudited());
  const std::string allowed[] = {"SELECT v FROM " + orders_ + " WHERE id = 2",
                                 "INSERT INTO " + orders_ + " VALUES (10, 'ten')",
                                 "SELECT count(*) FROM public." + orders_};
  const std::string denied = "SELECT * FROM " + pii_;
  {
    PgConnPtr c = Connect();
    ASSERT_PG_CONNECTED(c);
    // session.open is durable before the client is served: it is in the file already.
    EXPECT_EQ(records_where(read_audit_log(audit_dir_), [](const AuditRecord& r) { return r.event == "session.open"; })
                  .size(),
              1u)
        << read_audit_log(audit_dir_).describe();
    for (std::size_t i = 0; i < 3; ++i) {
      const QueryOutcome q = pg_exec(c.get(), allowed[i]);
      ASSERT_TRUE(q.ok) << allowed[i] << ": " << q.error;
      // Written durably before the statement was forwarded: there once its result is back.
      const AuditLog now = read_audit_log(audit_dir_);
      EXPECT_EQ(records_where(now, [](const AuditRecord& r) { return r.event == "statement.decision"; }).size(), i + 1)
          << "after " << allowed[i] << "\n"
          << now.describe();
    }
    const QueryOutcome q = pg_exec(c.get(), denied);
    EXPECT_FALSE(q.ok);
    EXPECT_EQ(q.sqlstate, "42501") << q.error;
  }
  ASSERT_TRUE(wait_for_record(audit_dir_, [](const AuditRecord& r) { return r.event == "session.close"; }))
      << "no session.close within 5 s of the client's Terminate\n"
      << read_audit_log(audit_dir_).describe();
  StopProxy();

  const audit::VerifyResult v = audit::verify(audit_dir_);
  ASSERT_TRUE(v.ok()) << v.summary();
  const AuditLog log = read_audit_log(audit_dir_);
  ASSERT_TRUE(log.result.ok()) << log.describe();
  ASSERT_FALSE(log.records.empty());
  EXPECT_EQ(log.result.records, log.records.size());
  for (std::size_t i = 0; i < log.records.size(); ++i) {
    EXPECT_EQ(log.records[i].seq, i + 1) << log.describe();
  }
  EXPECT_EQ(log.records.front().event, "audit.start");
  // A clean shutdown ends the log with a checkpoint covering everything before it.
  EXPECT_EQ(log.records.back().event, "audit.checkpoint") << log.describe();
  EXPECT_EQ(log.records.back().head_seq, log.records.back().seq - 1);

  const auto opens = records_where(log, [](const AuditRecord& r) { return r.event == "session.open"; });
  ASSERT_EQ(opens.size(), 1u) << log.describe();
  ASSERT_FALSE(opens[0].session_id.empty());
  const auto s = session_records(log, opens[0].session_id);
  std::vector<std::string> events;
  for (const auto& r : s) events.push_back(r.event);
  // Issue 14 changed the format: the outcomes (rows / SQLSTATE / duration) are folded into
  // one statement.result record (its `results`, in request order) written at the latest
  // when the session ends; they gate nothing.
  const std::vector<std::string> expected{"session.open",       "statement.decision", "statement.decision",
                                          "statement.decision", "statement.decision", "statement.result",
                                          "session.close"};
  ASSERT_EQ(events, expected) << log.describe();
  // Nothing of this session outside it (e.g. records of other sessions interleaved is
  // fine, but there are none here).
  EXPECT_EQ(records_where(log, [](const AuditRecord& r) { return r.event.rfind("session.", 0) == 0 ||
                                                                  r.event.rfind("statement.", 0) == 0; })
                .size(),
            s.size())
      << log.describe();

  const std::string sha = cert_sha256_hex(env().pki_file("client-spiffe.crt"));
  ASSERT_EQ(sha.size(), 64u);
  for (const auto& r : s) {
    SCOPED_TRACE("seq " + std::to_string(r.seq) + " " + r.event);
    EXPECT_EQ(r.spiffe_id, kBillingSpiffe);
    EXPECT_EQ(r.cert_sha256, sha);
    EXPECT_EQ(r.segment, "billing");
    EXPECT_EQ(r.database, env().db);
    EXPECT_EQ(r.backend_user, "billing_rw");
    EXPECT_EQ(r.protocol, "postgresql");
    EXPECT_EQ(r.listener, "pg-main");
    EXPECT_EQ(r.client_addr.rfind("127.0.0.1:", 0), 0u) << r.client_addr;
  }

  // The three allowed statements, in order, with their tables; normalized text (default).
  const std::string pub_orders = "public." + orders_;
  const std::string expected_text[] = {"SELECT v FROM " + orders_ + " WHERE id = ?",
                                       "INSERT INTO " + orders_ + " VALUES (?, ?)",
                                       "SELECT count(*) FROM public." + orders_};
  const std::string expected_op[] = {"select", "insert", "select"};
  const std::vector<audit::ResultEntry>& results = s[5].results;
  ASSERT_EQ(results.size(), 4u) << log.describe();
  for (std::size_t i = 0; i < 3; ++i) {
    const AuditRecord& d = s[1 + i];
    const audit::ResultEntry& result = results[i];
    EXPECT_TRUE(result.sqlstate.empty()) << result.sqlstate << " " << result.error;
    EXPECT_TRUE(result.duration_us.has_value());
    EXPECT_EQ(result.rows, i == 1 ? std::optional<std::uint64_t>(1) : result.rows);  // INSERT 0 1
    SCOPED_TRACE(allowed[i]);
    EXPECT_EQ(d.decision, "allow");
    EXPECT_EQ(d.statement, expected_text[i]);
    EXPECT_TRUE(has_table(d, pub_orders, expected_op[i])) << log.describe();
    EXPECT_EQ(d.rule_id, "orders-rw");
    EXPECT_FALSE(d.fingerprint.empty());
    EXPECT_TRUE(d.sqlstate.empty()) << d.sqlstate;
  }
  const AuditRecord& deny = s[4];
  EXPECT_EQ(results[3].sqlstate, "42501");  // the refusal, as the result of that statement
  EXPECT_EQ(deny.decision, "deny");
  EXPECT_EQ(deny.statement, denied);
  EXPECT_EQ(deny.rule_id, "pii");
  EXPECT_NE(deny.reason.find("may not select from public." + pii_), std::string::npos) << deny.reason;
  EXPECT_EQ(deny.sqlstate, "42501");
  EXPECT_TRUE(has_table(deny, "public." + pii_, "select")) << log.describe();
  EXPECT_FALSE(s.back().detail.empty());
  EXPECT_TRUE(s.back().duration_us.has_value());
}

// COPY FROM STDIN by PQexecParams sends two Syncs; the backend ignores the first (COPY IN
// ignores Sync). With durability: group, one statement.result entry per Sync, in request
// order: the first carries the COPY's rows, the second none, and every later entry is
// its own statement's (the session used to pair each later outcome with the request
// before it, and the lexing hold after the COPY never ended).
TEST_F(AuditTest, CopyFromStdinByTheExtendedProtocolKeepsOneResultPerRequestInOrder) {
  ProxyConfigOptions opts;
  opts.billing_policy = "    rules:\n"
                        "      - {id: orders-rw, tables: [public." + orders_ + "], allow: [select, insert, copy_from]}\n"
                        "    statements: [transaction, session_safe]\n";
  opts.extra_yaml = audit_yaml(audit_dir_, "durability: group");
  ASSERT_NO_FATAL_FAILURE(StartProxy(opts));
  {
    PgConnPtr c = Connect();
    ASSERT_PG_CONNECTED(c);
    const std::string copy = "copy " + orders_ + " from stdin";
    PgResultPtr res(PQexecParams(c.get(), copy.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0));
    ASSERT_EQ(PQresultStatus(res.get()), PGRES_COPY_IN) << PQerrorMessage(c.get());
    ASSERT_EQ(PQputCopyData(c.get(), "100\tx\n101\ty\n", 12), 1);
    ASSERT_EQ(PQputCopyEnd(c.get(), nullptr), 1);
    bool timed_out = false;
    res = pg_wait_result(c.get(), std::chrono::seconds(60), &timed_out);
    ASSERT_FALSE(timed_out);
    ASSERT_EQ(PQresultStatus(res.get()), PGRES_COMMAND_OK) << PQresultErrorMessage(res.get());
    pg_drain(c.get());
    const std::string statements[] = {"select v from " + orders_ + " where id <= 3",
                                      "insert into " + orders_ + " values (102, 'z')", "SET client_encoding TO 'UTF8'",
                                      "select count(*) from " + orders_};
    for (const std::string& sql : statements) {
      ASSERT_EQ(PQsendQuery(c.get(), sql.c_str()), 1) << PQerrorMessage(c.get());
      res = pg_wait_result(c.get(), std::chrono::seconds(60), &timed_out);
      ASSERT_FALSE(timed_out) << sql << " was never answered";
      ASSERT_TRUE(PQresultStatus(res.get()) == PGRES_COMMAND_OK || PQresultStatus(res.get()) == PGRES_TUPLES_OK)
          << sql << ": " << PQresultErrorMessage(res.get());
      pg_drain(c.get());
    }
    EXPECT_STREQ(PQgetvalue(res.get(), 0, 0), "6");
  }
  ASSERT_TRUE(wait_for_record(audit_dir_, [](const AuditRecord& r) { return r.event == "session.close"; }))
      << read_audit_log(audit_dir_).describe();
  StopProxy();
  const AuditLog log = read_audit_log(audit_dir_);
  ASSERT_TRUE(log.result.ok()) << log.describe();
  std::vector<std::uint64_t> rows;
  for (const auto& r : records_where(log, [](const AuditRecord& r) { return r.event == "statement.result"; })) {
    for (const audit::ResultEntry& e : r.results) {
      EXPECT_TRUE(e.sqlstate.empty()) << e.sqlstate << " " << e.error;
      rows.push_back(e.rows.value_or(0));
    }
  }
  // COPY (its ignored Sync: 2 rows; the Sync after CopyDone: none), 3 rows, INSERT 1, SET, count.
  EXPECT_EQ(rows, (std::vector<std::uint64_t>{2, 0, 3, 1, 0, 1})) << log.describe();
}

TEST_F(AuditTest, StatementTextIsNormalizedByDefault) {
  ASSERT_NO_FATAL_FAILURE(StartAudited());
  const std::string sql = "SELECT * FROM " + orders_ + " WHERE v = 'secret-literal'";
  AuditRecord d;
  ASSERT_NO_FATAL_FAILURE(DecisionOf(sql, &d));
  EXPECT_EQ(d.statement.find("secret-literal"), std::string::npos) << d.statement;
  EXPECT_EQ(d.statement, "SELECT * FROM " + orders_ + " WHERE v = ?");
  EXPECT_EQ(all_file_bytes(audit_dir_).find("secret-literal"), std::string::npos);
}

TEST_F(AuditTest, StatementTextNoneOmitsTheStatementButKeepsFingerprintAndTables) {
  ASSERT_NO_FATAL_FAILURE(StartAudited("statement_text: none"));
  const std::string sql = "SELECT * FROM " + orders_ + " WHERE v = 'secret-literal'";
  AuditRecord d;
  ASSERT_NO_FATAL_FAILURE(DecisionOf(sql, &d));
  EXPECT_TRUE(d.statement.empty()) << d.statement;
  EXPECT_FALSE(d.fingerprint.empty());
  EXPECT_TRUE(has_table(d, "public." + orders_, "select"));
  const std::string bytes = all_file_bytes(audit_dir_);
  EXPECT_EQ(bytes.find("\"statement\""), std::string::npos);
  EXPECT_EQ(bytes.find("secret-literal"), std::string::npos);
}

TEST_F(AuditTest, StatementTextFullIsVerbatim) {
  ASSERT_NO_FATAL_FAILURE(StartAudited("statement_text: full"));
  const std::string sql = "SELECT * FROM " + orders_ + " WHERE v = 'secret-literal'  /* c */";
  AuditRecord d;
  ASSERT_NO_FATAL_FAILURE(DecisionOf(sql, &d));
  EXPECT_EQ(d.statement, sql);
}

// Issue 12 leftovers, item 2: an 8 MiB statement (a client-interpolated literal) is not
// written whole into its record: the record keeps audit.max_statement_text (4 KiB) and
// carries the whole text's length and SHA-256; the chain verifies with segproxyctl.
TEST_F(AuditTest, EightMegabyteStatementGivesABoundedRecordCarryingItsHash) {
  ASSERT_NO_FATAL_FAILURE(StartAudited("statement_text: full"));
  const std::string sql = "SELECT * FROM " + orders_ + " WHERE v = '" + std::string(8u * 1024u * 1024u, 'z') + "'";
  AuditRecord d;
  ASSERT_NO_FATAL_FAILURE(DecisionOf(sql, &d));
  EXPECT_EQ(d.statement, sql.substr(0, 4096));
  ASSERT_TRUE(d.statement_length.has_value());
  EXPECT_EQ(*d.statement_length, sql.size());
  EXPECT_EQ(d.statement_sha256, audit::sha256_hex(sql));
  EXPECT_LT(all_file_bytes(audit_dir_).size(), 256u * 1024u) << "the whole statement reached the log";
  const ProcResult v = run_process({env().segproxyctl_bin, "audit", "verify", audit_dir_}, std::chrono::seconds(30));
  EXPECT_EQ(v.exit_code, 0) << v.describe();
}

TEST_F(AuditTest, BackendPasswordsNeverAppearInTheLog) {
  // statement_text full: even the least redacting setting must not leak what the proxy holds.
  ASSERT_NO_FATAL_FAILURE(StartAudited("statement_text: full, durability: fsync_each"));
  {
    PgConnPtr c = Connect();
    ASSERT_PG_CONNECTED(c);
    EXPECT_TRUE(pg_exec(c.get(), "SELECT v FROM " + orders_ + " WHERE id = 1").ok);
    EXPECT_FALSE(pg_exec(c.get(), "DELETE FROM " + orders_).ok);
    EXPECT_FALSE(pg_exec(c.get(), "SELECT * FROM " + pii_).ok);
    PgConnPtr r = Connect(ClientCert::Cn);  // segment reporting, backend user reporting_ro
    ASSERT_PG_CONNECTED(r);
    EXPECT_TRUE(pg_exec(r.get(), "SELECT 1").ok);
  }
  ASSERT_TRUE(wait_for_record(audit_dir_, [](const AuditRecord& r) {
    return r.event == "session.close" && r.backend_user == "reporting_ro";
  }));
  StopProxy();
  const AuditLog log = read_audit_log(audit_dir_);
  ASSERT_TRUE(log.result.ok()) << log.describe();
  EXPECT_EQ(records_where(log, [](const AuditRecord& r) { return r.event == "session.open"; }).size(), 2u)
      << log.describe();
  const std::string bytes = all_file_bytes(audit_dir_);
  ASSERT_FALSE(bytes.empty());
  for (const char* role : {"billing_rw", "reporting_ro"}) {
    const std::string pw = read_secret(env().secret_file(std::string(role) + ".pw"));
    ASSERT_GE(pw.size(), 8u) << role << ": the secret is too short for a meaningful check";
    EXPECT_EQ(bytes.find(pw), std::string::npos) << role << "'s backend password is in the audit log";
  }
}

TEST_F(AuditTest, RefusedSessionIsRecordedWithIdentityAndReason) {
  ASSERT_NO_FATAL_FAILURE(StartAudited());
  {
    PgConnPtr c = Connect(ClientCert::Unknown);
    ASSERT_NE(PQstatus(c.get()), CONNECTION_OK);
  }
  // Refusals are written without waiting; a clean shutdown must still get them in.
  StopProxy();
  const AuditLog log = read_audit_log(audit_dir_);
  ASSERT_TRUE(log.result.ok()) << log.describe();
  const auto refused = records_where(log, [](const AuditRecord& r) { return r.event == "session.refused"; });
  ASSERT_EQ(refused.size(), 1u) << log.describe();
  const AuditRecord& r = refused[0];
  EXPECT_EQ(r.spiffe_id, "spiffe://example.org/ns/other/sa/x");
  EXPECT_EQ(r.cn, "stranger");
  EXPECT_EQ(r.cert_sha256, cert_sha256_hex(env().pki_file("client-unknown.crt")));
  EXPECT_FALSE(r.reason.empty());
  EXPECT_FALSE(r.sqlstate.empty());
  EXPECT_TRUE(r.segment.empty()) << r.segment;
  EXPECT_TRUE(r.backend_user.empty()) << r.backend_user;
  EXPECT_EQ(r.client_addr.rfind("127.0.0.1:", 0), 0u) << r.client_addr;
  EXPECT_TRUE(records_where(log, [](const AuditRecord& x) { return x.event == "session.open" ||
                                                                   x.event == "statement.decision"; })
                  .empty())
      << log.describe();
}

// Issue 12 item 4.8: connections dropped before login leave a session.refused record with
// the client address, the listener and the reason class, so a probe shows in the log.
TEST_F(AuditTest, ConnectionsDroppedBeforeLoginAreRecordedAsRefusedWithReasonAndAddress) {
  ASSERT_NO_FATAL_FAILURE(StartAudited());
  {
    RawClient garbage;  // an HTTP probe: not a startup packet
    std::string err;
    ASSERT_TRUE(garbage.connect_tcp(port_, &err)) << err;
    ASSERT_TRUE(garbage.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    EXPECT_TRUE(garbage.wait_closed(std::chrono::seconds(5)));
  }
  {
    RawClient smuggler;  // SSLRequest with plaintext behind it (CVE-2021-23214 class)
    std::string err;
    ASSERT_TRUE(smuggler.connect_tcp(port_, &err)) << err;
    const std::string ssl_request("\x00\x00\x00\x08\x04\xd2\x16\x2f", 8);
    ASSERT_TRUE(smuggler.send(ssl_request + "Q\x00\x00\x00\x0dselect 1\x00"));
    EXPECT_TRUE(smuggler.wait_closed(std::chrono::seconds(5)));
  }
  {
    RawClient not_tls;  // 'S', then bytes that are no TLS ClientHello
    std::string err;
    ASSERT_TRUE(not_tls.connect_tcp(port_, &err)) << err;
    ASSERT_EQ(not_tls.ssl_request(std::chrono::seconds(5)), std::optional<char>('S'));
    ASSERT_TRUE(not_tls.send(std::string(64, 'x')));
    EXPECT_TRUE(not_tls.wait_closed(std::chrono::seconds(5)));
  }
  {
    RawClient silent;  // connects and says nothing: closed at the fixture's handshake_timeout (5 s)
    std::string err;
    ASSERT_TRUE(silent.connect_tcp(port_, &err)) << err;
    EXPECT_TRUE(silent.wait_closed(std::chrono::seconds(5 + 10)));
  }
  StopProxy();
  const AuditLog log = read_audit_log(audit_dir_);
  ASSERT_TRUE(log.result.ok()) << log.describe();
  for (const std::string reason : {"malformed_startup", "plaintext_after_sslrequest", "handshake_failed", "timeout"}) {
    const auto found = records_where(log, [&](const AuditRecord& r) {
      return r.event == "session.refused" && r.detail.rfind(reason, 0) == 0;
    });
    ASSERT_EQ(found.size(), 1u) << reason << "\n" << log.describe();
    EXPECT_EQ(found[0].client_addr.rfind("127.0.0.1:", 0), 0u) << found[0].client_addr;
    EXPECT_FALSE(found[0].listener.empty()) << reason;
    EXPECT_EQ(found[0].protocol, "postgresql") << reason;
    EXPECT_FALSE(found[0].reason.empty()) << reason;
  }
}

// The audit directory lives on a 64 KiB tmpfs that the test fills up: writes fail with
// ENOSPC (a real write failure, which permissions cannot give a root test).
class AuditFailClosed : public AuditTest {
 protected:
  void SetUp() override {
    AuditTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    mnt_ = dir_ + "/auditfs";
    ASSERT_TRUE(fs::create_directory(mnt_));
    if (::mount("tmpfs", mnt_.c_str(), "tmpfs", 0, "size=64k,mode=0700") != 0) {
      const int e = errno;
      GTEST_SKIP() << "cannot mount a tmpfs (" << std::strerror(e) << "): no way to make the audit log unwritable";
    }
    mounted_ = true;
    audit_dir_ = mnt_ + "/log";
  }
  void TearDown() override {
    proxy_.stop();
    if (mounted_) {
      if (HasFailure()) {  // keep the evidence outside the tmpfs
        std::error_code ec;
        fs::copy(audit_dir_, dir_ + "/audit-copy", fs::copy_options::recursive, ec);
      }
      ::umount2(mnt_.c_str(), MNT_DETACH);
    }
    AuditTest::TearDown();
  }

  // Fills the tmpfs until ENOSPC.
  void Fill() {
    const std::string filler = mnt_ + "/filler";
    std::FILE* f = std::fopen(filler.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::setvbuf(f, nullptr, _IONBF, 0);
    const std::string block(4096, 'f');
    for (int i = 0; i < 64; ++i) {
      if (std::fwrite(block.data(), 1, block.size(), f) != block.size()) break;
    }
    std::string one(1, 'f');
    while (std::fwrite(one.data(), 1, 1, f) == 1) {
    }
    std::fclose(f);
    const fs::space_info si = fs::space(mnt_);
    ASSERT_LT(si.available, 4096u) << "the tmpfs did not fill up";
  }

  std::string mnt_;
  bool mounted_ = false;
};

TEST_F(AuditFailClosed, StatementsAreRefusedWith58030WhenTheLogCannotBeWrittenAndTheSessionStaysUsable) {
  // Full text: a statement with a 16 KiB literal needs new pages in the log file (kept
  // whole: above the default audit.max_statement_text of 4 KiB).
  ASSERT_NO_FATAL_FAILURE(StartAudited("statement_text: full, on_failure: fail_closed, max_statement_text: 64KiB"));
  PgConnPtr c = Connect();
  ASSERT_PG_CONNECTED(c);
  ASSERT_TRUE(pg_exec(c.get(), "SELECT v FROM " + orders_ + " WHERE id = 1").ok);

  // Outside a transaction.
  ASSERT_NO_FATAL_FAILURE(Fill());
  const std::string big = "INSERT INTO " + orders_ + " VALUES (100, '" + std::string(16 * 1024, 'x') + "')";
  QueryOutcome q = pg_exec(c.get(), big);
  EXPECT_FALSE(q.ok);
  EXPECT_EQ(q.sqlstate, "58030") << q.error;
  EXPECT_NE(q.error.find("audit"), std::string::npos) << q.error;
  EXPECT_EQ(PQstatus(c.get()), CONNECTION_OK);
  EXPECT_EQ(PQtransactionStatus(c.get()), PQTRANS_IDLE);
  EXPECT_EQ(SuValue("SELECT count(*) FROM public." + orders_ + " WHERE id = 100"), "0")
      << "a statement that could not be audited was executed";

  // Space again: the writer's probe recovers (audit.resume) and the same session works.
  fs::remove(mnt_ + "/filler");
  bool done = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done && std::chrono::steady_clock::now() < deadline) {
    q = pg_exec(c.get(), big);
    done = q.ok;
    if (!q.ok) {
      ASSERT_EQ(q.sqlstate, "58030") << q.error;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  ASSERT_TRUE(done) << "the session did not become usable within 10 s of freeing space: " << q.error;
  EXPECT_EQ(SuValue("SELECT count(*) FROM public." + orders_ + " WHERE id = 100"), "1");

  // In a transaction: the refusal fails it like a server error.
  ASSERT_TRUE(pg_exec(c.get(), "BEGIN").ok);
  ASSERT_NO_FATAL_FAILURE(Fill());
  const std::string big2 = "INSERT INTO " + orders_ + " VALUES (101, '" + std::string(16 * 1024, 'y') + "')";
  q = pg_exec(c.get(), big2);
  EXPECT_EQ(q.sqlstate, "58030") << q.error;
  EXPECT_EQ(PQstatus(c.get()), CONNECTION_OK);
  EXPECT_EQ(PQtransactionStatus(c.get()), PQTRANS_INERROR);
  fs::remove(mnt_ + "/filler");
  // ROLLBACK until the transaction is over. While the sink is still failed the ROLLBACK
  // itself is refused; the refusal is raised inside the aborted transaction, so the client
  // sees 25P02 (or 58030).
  done = false;
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done && std::chrono::steady_clock::now() < deadline) {
    q = pg_exec(c.get(), "ROLLBACK");
    done = q.ok;
    if (!q.ok) {
      ASSERT_TRUE(q.sqlstate == "58030" || q.sqlstate == "25P02") << q.error;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  ASSERT_TRUE(done) << q.error;
  EXPECT_EQ(PQtransactionStatus(c.get()), PQTRANS_IDLE);
  EXPECT_EQ(pg_exec(c.get(), "SELECT count(*) FROM " + orders_).value, "4");
  EXPECT_EQ(SuValue("SELECT count(*) FROM public." + orders_ + " WHERE id = 101"), "0");
  EXPECT_EQ(PQstatus(c.get()), CONNECTION_OK);
  EXPECT_EQ(SuValue("SELECT count(*) FROM public." + orders_ + " WHERE id = 100"), "1");
  c.reset();
  ASSERT_TRUE(wait_for_record(audit_dir_, [](const AuditRecord& r) { return r.event == "session.close"; }));
  StopProxy();

  const AuditLog log = read_audit_log(audit_dir_);
  ASSERT_TRUE(log.result.ok()) << log.describe();
  // The refused submissions left no trace; recovery is recorded with the count.
  const auto resumes = records_where(log, [](const AuditRecord& r) { return r.event == "audit.resume"; });
  ASSERT_GE(resumes.size(), 2u) << log.describe();
  EXPECT_NE(resumes[0].detail.find("refused"), std::string::npos) << resumes[0].detail;
  // Exactly one allow record for the big INSERT: the one that ran.
  const auto big_allows = records_where(log, [&](const AuditRecord& r) {
    return r.event == "statement.decision" && r.decision == "allow" && r.statement == big;
  });
  EXPECT_EQ(big_allows.size(), 1u) << log.describe();
  EXPECT_TRUE(records_where(log, [&](const AuditRecord& r) { return r.statement == big2; }).empty())
      << "a refused submission is in the chain";
}

}  // namespace
// Issue 14 (volume): the session's identity is written once, in session.open; its
// statement records carry the session_id, and a repeated statement (the same normalized
// text, tables and decision) is written as same_as. Read through the joiner (as exports
// are), every record is self-contained again.
TEST_F(AuditTest, IdentityIsWrittenOncePerSessionAndARepeatedStatementAsSameAs) {
  ASSERT_NO_FATAL_FAILURE(StartAudited());
  {
    PgConnPtr c = Connect();
    ASSERT_PG_CONNECTED(c);
    for (int id = 1; id <= 3; ++id) {
      const std::string sql = "SELECT v FROM " + orders_ + " WHERE id = " + std::to_string(id);
      ASSERT_TRUE(pg_exec(c.get(), sql).ok) << sql;
    }
  }
  ASSERT_TRUE(wait_for_record(audit_dir_, [](const AuditRecord& r) { return r.event == "session.close"; }));
  StopProxy();
  const std::string bytes = all_file_bytes(audit_dir_);
  auto count = [&](const std::string& needle) {
    std::size_t n = 0;
    for (std::size_t p = bytes.find(needle); p != std::string::npos; p = bytes.find(needle, p + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count(R"("cert_sha256":)"), 1u) << "identity outside session.open\n" << bytes.substr(0, 4000);
  EXPECT_EQ(count(R"("same_as":)"), 2u) << bytes.substr(0, 4000);
  const AuditLog log = read_audit_log(audit_dir_);
  ASSERT_TRUE(log.result.ok()) << log.describe();
  const auto decisions = records_where(log, [](const AuditRecord& r) { return r.event == "statement.decision"; });
  ASSERT_EQ(decisions.size(), 3u) << log.describe();
  for (const auto& d : decisions) {
    EXPECT_EQ(d.statement, "SELECT v FROM " + orders_ + " WHERE id = ?");
    EXPECT_EQ(d.spiffe_id, kBillingSpiffe);
    EXPECT_EQ(d.backend_user, "billing_rw");
    EXPECT_EQ(d.decision, "allow");
  }
}

}  // namespace segproxy::it
