// Who is turned away before a session exists: no TLS, no or foreign client
// certificate, unmapped identities, databases outside the segment, startup parameters
// outside the allow-list. Checked twice: with libpq (what a real client sees) and with a
// raw client (the exact SQLSTATE, which libpq does not expose for startup errors).
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>

#include "support/fixture.hpp"
#include "support/raw_client.hpp"

namespace segproxy::it {
namespace {

using Refusal = ProxyTest;
using std::chrono::seconds;
using Params = std::vector<std::pair<std::string, std::string>>;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool contains_ci(const std::string& haystack, const std::string& needle) {
  return lower(haystack).find(lower(needle)) != std::string::npos;
}

std::string cert_base(ClientCert c) {
  switch (c) {
    case ClientCert::Spiffe: return "client-spiffe";
    case ClientCert::Cn: return "client-cn";
    case ClientCert::Unknown: return "client-unknown";
    case ClientCert::OtherCa: return "client-otherca";
    case ClientCert::None: return "";
  }
  return "";
}

Params default_params() { return {{"user", "whatever"}, {"database", env().db}}; }

// Connects with TLS + `cert`, sends a StartupMessage, returns the ErrorResponse fields
// (empty map if the session came up instead, which the caller reports).
struct RawStartup {
  bool got_error = false;
  bool got_ready = false;
  std::map<char, std::string> fields;
  std::string problem;
};

RawStartup raw_tls_startup(std::uint16_t port, ClientCert cert, const Params& params) {
  RawStartup r;
  RawClient raw;
  std::string err;
  if (!raw.connect_tcp(port, &err)) {
    r.problem = err;
    return r;
  }
  const std::string base = cert_base(cert);
  if (!raw.start_tls(env().pki_file("ca.crt"), base.empty() ? "" : env().pki_file(base + ".crt"),
                     base.empty() ? "" : env().pki_file(base + ".key"), &err)) {
    r.problem = err;
    return r;
  }
  const std::optional<BackendMessage> m = raw.startup(params, seconds(15));
  if (!m) {
    r.problem = raw.last_status() == RawClient::ReadStatus::Timeout
                    ? "no ErrorResponse/ReadyForQuery within 15 s"
                    : "connection closed without an ErrorResponse";
    return r;
  }
  if (m->type == 'Z') {
    r.got_ready = true;
    return r;
  }
  r.got_error = true;
  r.fields = parse_error_fields(m->body);
  // After a FATAL the proxy closes the connection.
  if (!raw.wait_closed(seconds(5))) r.problem = "connection left open after the FATAL";
  return r;
}

std::string describe(const std::map<char, std::string>& f) {
  std::string s;
  for (const auto& [k, v] : f) s += std::string(1, k) + "=" + v + " ";
  return s;
}

// ---- libpq view -------------------------------------------------------------------

TEST_F(Refusal, PlaintextConnectionIsRefusedMentioningTls) {
  PgConnPtr conn = pg_connect(Conninfo(ClientCert::Spiffe, "sslmode=disable"));
  ASSERT_EQ(PQstatus(conn.get()), CONNECTION_BAD);
  const std::string msg = PQerrorMessage(conn.get());
  EXPECT_TRUE(contains_ci(msg, "TLS") || contains_ci(msg, "certificate") || contains_ci(msg, "SSL"))
      << msg;
}

TEST_F(Refusal, TlsWithoutClientCertificateFails) {
  PgConnPtr conn = pg_connect(Conninfo(ClientCert::None));
  EXPECT_EQ(PQstatus(conn.get()), CONNECTION_BAD) << "connected without a client certificate";
}

TEST_F(Refusal, ClientCertificateFromAnotherCaFails) {
  PgConnPtr conn = pg_connect(Conninfo(ClientCert::OtherCa));
  EXPECT_EQ(PQstatus(conn.get()), CONNECTION_BAD)
      << "connected with a certificate from a CA the listener does not trust";
}

TEST_F(Refusal, UnmappedIdentityIsRefusedNamingTheIdentity) {
  PgConnPtr conn = pg_connect(Conninfo(ClientCert::Unknown));
  ASSERT_EQ(PQstatus(conn.get()), CONNECTION_BAD);
  const std::string msg = PQerrorMessage(conn.get());
  EXPECT_TRUE(contains_ci(msg, "identity")) << msg;
  EXPECT_TRUE(contains_ci(msg, "spiffe://example.org/ns/other/sa/x") ||
              contains_ci(msg, "stranger"))
      << msg;
}

TEST_F(Refusal, DatabaseOutsideSegmentIsRefusedNamingIt) {
  PgConnPtr conn = pg_connect(Conninfo(ClientCert::Spiffe, "dbname=postgres"));
  ASSERT_EQ(PQstatus(conn.get()), CONNECTION_BAD);
  const std::string msg = PQerrorMessage(conn.get());
  EXPECT_TRUE(contains_ci(msg, "postgres")) << msg;
  EXPECT_TRUE(contains_ci(msg, "database")) << msg;
}

TEST_F(Refusal, SearchPathInOptionsIsRefusedNamingIt) {
  PgConnPtr conn = pg_connect(Conninfo(ClientCert::Spiffe, "options='-c search_path=evil'"));
  ASSERT_EQ(PQstatus(conn.get()), CONNECTION_BAD);
  EXPECT_TRUE(contains_ci(PQerrorMessage(conn.get()), "search_path")) << PQerrorMessage(conn.get());
}

TEST_F(Refusal, RoleInOptionsIsRefusedNamingIt) {
  PgConnPtr conn = pg_connect(Conninfo(ClientCert::Spiffe, "options='-c role=postgres'"));
  ASSERT_EQ(PQstatus(conn.get()), CONNECTION_BAD);
  EXPECT_TRUE(contains_ci(PQerrorMessage(conn.get()), "role")) << PQerrorMessage(conn.get());
}

TEST_F(Refusal, ReplicationConnectionIsRefusedNamingIt) {
  PgConnPtr conn = pg_connect(Conninfo(ClientCert::Spiffe, "replication=database"));
  ASSERT_EQ(PQstatus(conn.get()), CONNECTION_BAD);
  EXPECT_TRUE(contains_ci(PQerrorMessage(conn.get()), "replication")) << PQerrorMessage(conn.get());
}

TEST_F(Refusal, AllowListedStartupParametersAreAccepted) {
  PgConnPtr conn = pg_connect(Conninfo(
      ClientCert::Spiffe,
      "application_name=it-allowed client_encoding=UTF8 options='-c statement_timeout=5000'"));
  ASSERT_PG_CONNECTED(conn);
  QueryOutcome q = pg_exec(conn.get(), "show statement_timeout");
  ASSERT_TRUE(q.ok) << q.error;
  EXPECT_EQ(q.value, "5s");
  q = pg_exec(conn.get(), "select application_name from pg_stat_activity where pid = pg_backend_pid()");
  ASSERT_TRUE(q.ok) << q.error;
  EXPECT_EQ(q.value, "it-allowed");
}

// Issue 12 item 2.3: what node-postgres sends in `options` works through the proxy.
TEST_F(Refusal, TransactionDefaultsInOptionsAreAcceptedAndApplied) {
  PgConnPtr conn = pg_connect(Conninfo(
      ClientCert::Spiffe,
      "options='-c default_transaction_isolation=serializable -c default_transaction_read_only=on'"));
  ASSERT_PG_CONNECTED(conn);
  QueryOutcome q = pg_exec(conn.get(), "show default_transaction_isolation");
  ASSERT_TRUE(q.ok) << q.error;
  EXPECT_EQ(q.value, "serializable");
  q = pg_exec(conn.get(), "show default_transaction_read_only");
  ASSERT_TRUE(q.ok) << q.error;
  EXPECT_EQ(q.value, "on");
  // ...while search_path in the same place is still refused.
  PgConnPtr evil = pg_connect(Conninfo(
      ClientCert::Spiffe, "options='-c default_transaction_isolation=serializable -c search_path=evil'"));
  ASSERT_EQ(PQstatus(evil.get()), CONNECTION_BAD);
  EXPECT_TRUE(contains_ci(PQerrorMessage(evil.get()), "search_path")) << PQerrorMessage(evil.get());
}

// ---- wire view: exact SQLSTATEs ------------------------------------------------------

TEST_F(Refusal, PlaintextStartupGetsFatal28000) {
  RawClient raw;
  std::string err;
  ASSERT_TRUE(raw.connect_tcp(port_, &err)) << err;
  const std::optional<BackendMessage> m = raw.startup(default_params(), seconds(10));
  ASSERT_TRUE(m.has_value()) << "no answer to a plaintext StartupMessage";
  ASSERT_EQ(m->type, 'E');
  const auto f = parse_error_fields(m->body);
  EXPECT_EQ(f.count('C') ? f.at('C') : "", "28000") << describe(f);
  EXPECT_EQ(f.count('S') ? f.at('S') : "", "FATAL") << describe(f);
  EXPECT_TRUE(raw.wait_closed(seconds(5)));
}

TEST_F(Refusal, UnmappedIdentityGetsFatal28000) {
  const RawStartup r = raw_tls_startup(port_, ClientCert::Unknown, default_params());
  ASSERT_TRUE(r.got_error) << r.problem << (r.got_ready ? "session came up" : "");
  EXPECT_EQ(r.fields.count('C') ? r.fields.at('C') : "", "28000") << describe(r.fields);
  EXPECT_TRUE(r.problem.empty()) << r.problem;
}

TEST_F(Refusal, DatabaseOutsideSegmentGetsFatalNamingTheDatabase) {
  Params p{{"user", "whatever"}, {"database", "postgres"}};
  const RawStartup r = raw_tls_startup(port_, ClientCert::Spiffe, p);
  ASSERT_TRUE(r.got_error) << r.problem << (r.got_ready ? "session came up" : "");
  const std::string code = r.fields.count('C') ? r.fields.at('C') : "";
  // Any of PostgreSQL's own answers to "you may not have this database": 28000 (as for a
  // pg_hba.conf rejection), 3D000 (no such database) or 42501 (no CONNECT privilege).
  EXPECT_TRUE(code == "28000" || code == "3D000" || code == "42501") << describe(r.fields);
  EXPECT_EQ(r.fields.count('S') ? r.fields.at('S') : "", "FATAL") << describe(r.fields);
  EXPECT_TRUE(contains_ci(r.fields.count('M') ? r.fields.at('M') : "", "\"postgres\""))
      << describe(r.fields);
  EXPECT_TRUE(r.problem.empty()) << r.problem;
}

TEST_F(Refusal, ForbiddenStartupParametersGetFatalNamingTheParameter) {
  struct Case {
    std::string name;   // startup parameter sent
    std::string value;
    std::string named;  // what the message must name
    std::string code;   // expected SQLSTATE ("" = any)
  };
  const std::vector<Case> cases = {
      {"search_path", "evil", "search_path", "42501"},
      {"options", "-c search_path=evil", "search_path", "42501"},
      {"options", "--role=postgres", "role", "42501"},
      {"options", "-c work_mem=1GB", "work_mem", "42501"},
      {"role", "postgres", "role", "42501"},
      {"replication", "database", "replication", "42501"},
      {"session_authorization", "postgres", "session_authorization", "42501"},
      {"standard_conforming_strings", "off", "standard_conforming_strings", "42501"},
      // Encodings the classifier follows pass since issue 12 item 2.2; MULE_INTERNAL cannot be.
      {"client_encoding", "MULE_INTERNAL", "client_encoding", "0A000"},
      {"application_name", "", "application_name", ""},  // empty value
  };
  for (const Case& c : cases) {
    const std::string what = c.name + "=" + c.value;
    Params p = default_params();
    p.emplace_back(c.name, c.value);
    const RawStartup r = raw_tls_startup(port_, ClientCert::Spiffe, p);
    EXPECT_TRUE(r.got_error) << what << ": " << r.problem << (r.got_ready ? "session came up" : "");
    if (!r.got_error) continue;
    if (!c.code.empty()) {
      EXPECT_EQ(r.fields.count('C') ? r.fields.at('C') : "", c.code) << what << ": " << describe(r.fields);
    }
    EXPECT_EQ(r.fields.count('S') ? r.fields.at('S') : "", "FATAL") << what;
    EXPECT_TRUE(contains_ci(r.fields.count('M') ? r.fields.at('M') : "", c.named))
        << what << ": " << describe(r.fields);
  }
}

TEST_F(Refusal, DuplicateStartupParameterIsRefused) {
  Params p = default_params();
  p.emplace_back("application_name", "a");
  p.emplace_back("options", "-c application_name=b");
  const RawStartup r = raw_tls_startup(port_, ClientCert::Spiffe, p);
  EXPECT_TRUE(r.got_error) << r.problem << (r.got_ready ? "session came up" : "");
  EXPECT_EQ(r.fields.count('S') ? r.fields.at('S') : "", "FATAL") << describe(r.fields);
}

// Since issue 12 item 2.2 a non-UTF8 client_encoding is followed (pg_client_encoding_test.cpp);
// only an encoding the classifier cannot read is refused.
TEST_F(Refusal, ClientEncodingTheClassifierCannotFollowIsRefusedForLibpq) {
  PgConnPtr conn = pg_connect(Conninfo(ClientCert::Spiffe, "client_encoding=MULE_INTERNAL"));
  ASSERT_EQ(PQstatus(conn.get()), CONNECTION_BAD);
  EXPECT_TRUE(contains_ci(PQerrorMessage(conn.get()), "client_encoding")) << PQerrorMessage(conn.get());
}

TEST_F(Refusal, NoClientCertificateNeverYieldsASession) {
  const RawStartup r = raw_tls_startup(port_, ClientCert::None, default_params());
  EXPECT_FALSE(r.got_ready) << "a session came up without a client certificate";
  // Either the TLS handshake fails, or the proxy completes it and answers FATAL 28000.
  if (r.got_error) {
    EXPECT_EQ(r.fields.count('C') ? r.fields.at('C') : "", "28000") << describe(r.fields);
  }
}

TEST_F(Refusal, ForeignCaCertificateNeverYieldsASession) {
  const RawStartup r = raw_tls_startup(port_, ClientCert::OtherCa, default_params());
  EXPECT_FALSE(r.got_ready) << "a session came up with a certificate from an untrusted CA";
}

TEST_F(Refusal, GssEncRequestIsDeclinedThenTlsWorks) {
  RawClient raw;
  std::string err;
  ASSERT_TRUE(raw.connect_tcp(port_, &err)) << err;
  ASSERT_TRUE(raw.send(be32(8) + be32(80877104)));
  std::string answer;
  ASSERT_EQ(raw.read_some(answer, seconds(5)), RawClient::ReadStatus::Data);
  ASSERT_EQ(answer, "N");
  ASSERT_TRUE(raw.start_tls(env().pki_file("ca.crt"), env().pki_file("client-spiffe.crt"),
                            env().pki_file("client-spiffe.key"), &err))
      << err;
  const std::optional<BackendMessage> m = raw.startup(default_params(), seconds(15));
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->type, 'Z') << describe(parse_error_fields(m->body));
}

}  // namespace
}  // namespace segproxy::it
