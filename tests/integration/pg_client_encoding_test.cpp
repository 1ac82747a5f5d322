// Issue 12 item 2.2 (PostgreSQL half) through a real proxy and real clients: lexing
// settings (client_encoding, standard_conforming_strings) are followed, not refused.
// The proxy judges every statement as the server reads it, takes a setting only from the
// server's ParameterStatus, and judges nothing sent after a change before the server has
// answered it.
#include <gtest/gtest.h>

#include "support/policy_support.hpp"
#include "support/raw_client.hpp"

namespace segproxy::it {
namespace {

using std::chrono::seconds;

class ClientEncoding : public PolicyTest {
 protected:
  // granted_: select/insert/update; pii_: denied (orders_policy).
  void StartWithTables() {
    granted_ = unique_name("it_enc");
    pii_ = unique_name("it_enc_pii");
    ASSERT_NO_FATAL_FAILURE(CreateTable(granted_, 0));
    ASSERT_NO_FATAL_FAILURE(CreateTable(pii_, 1));
    ASSERT_NO_FATAL_FAILURE(StartWithBillingPolicy(orders_policy(granted_, pii_)));
  }

  // psycopg2 (Debian's python3-psycopg2) with `body` run after `conn` (autocommit) and
  // `cur` exist; G and P name the granted and the denied table.
  ProcResult Psycopg(const std::string& body) {
    static const char* kPrelude = R"PY(
import os, sys, psycopg2
E = os.environ
conn = psycopg2.connect(E["DSN"])
conn.autocommit = True
cur = conn.cursor()
G = E["GRANTED"]
P = E["PII"]
def denied(sql, args=None):
    try:
        cur.execute(sql, args)
        return "allowed"
    except psycopg2.Error as e:
        return "denied " + str(e.pgcode)
exec(compile(E["BODY"], "<test body>", "exec"))
)PY";
    return run_process({"/usr/bin/python3", "-c", kPrelude}, seconds(60),
                       {{"DSN", Conninfo(ClientCert::Spiffe)},
                        {"GRANTED", granted_},
                        {"PII", pii_},
                        {"BODY", body},
                        {"PYTHONDONTWRITEBYTECODE", "1"}});
  }

  std::string granted_;
  std::string pii_;
};

TEST_F(ClientEncoding, PsycopgEucJpAndOtherEncodingsRoundTripJapaneseTextAndDeniedTablesStayDenied) {
  ASSERT_NO_FATAL_FAILURE(StartWithTables());
  const ProcResult r = Psycopg(
      "for i, enc in enumerate(['EUC_JP', 'SJIS', 'BIG5', 'GBK', 'UHC', 'GB18030', 'EUC_KR', 'LATIN1']):\n"
      "    conn.set_client_encoding(enc)\n"
      "    cur.execute('SHOW client_encoding')\n"
      "    shown = cur.fetchone()[0]\n"
      "    text = 'caf\\u00e9 \\\\' if enc == 'LATIN1' else '\\u65e5\\u672c\\u8a9e \\\\'\n"
      "    if enc == 'SJIS': text = '\\u8868\\u8868 \\\\'\n"  // 表 = 0x95 0x5C in SJIS
      "    cur.execute('INSERT INTO ' + G + ' (id, v) VALUES (%s, %s)', (i, text))\n"
      "    cur.execute('SELECT v FROM ' + G + ' WHERE id = %s', (i,))\n"
      "    back = cur.fetchone()[0]\n"
      "    print(enc, shown, back == text, denied('SELECT * FROM ' + P + ' WHERE v = %s', (text,)))\n");
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(r.out,
            "EUC_JP EUC_JP True denied 42501\n"
            "SJIS SJIS True denied 42501\n"
            "BIG5 BIG5 True denied 42501\n"
            "GBK GBK True denied 42501\n"
            "UHC UHC True denied 42501\n"
            "GB18030 GB18030 True denied 42501\n"
            "EUC_KR EUC_KR True denied 42501\n"
            "LATIN1 LATIN1 True denied 42501\n")
      << r.describe();
  // The server stored what the client meant (UTF-8 database).
  EXPECT_EQ(SuValue("SELECT v FROM public." + granted_ + " WHERE id = 1"), "\xe8\xa1\xa8\xe8\xa1\xa8 \\");
  EXPECT_EQ(RowCount(granted_), 8);
}

// 表 is 0x95 0x5C in SJIS. Read as raw bytes, its 0x5C escapes the quote and the SELECT
// of the denied table is inside a string; read as SJIS (as the server does), the string
// ends after 表 and the denied table is read.
TEST_F(ClientEncoding, SjisTrailByte5cIsLexedAsSjisSoADeniedTableBehindItStaysDenied) {
  ASSERT_NO_FATAL_FAILURE(StartWithTables());
  const ProcResult r = Psycopg(
      "conn.set_client_encoding('SJIS')\n"
      "print(denied(b\"SELECT E'\\x95\\x5c' AS k; SELECT * FROM \" + P.encode() + b\"; --'\"))\n"
      "cur.execute(b\"SELECT E'\\x95\\x5c' AS k\")\n"
      "print(cur.fetchone()[0] == '\\u8868')\n"
      "print(denied(b\"SELECT '\\x95'\"))\n"  // a lone lead byte: invalid SJIS
      "cur.execute('SELECT 1')\n"
      "print(cur.fetchone()[0])\n"
      // A refusal naming a non-ASCII table reaches the client intact in its encoding
      // (the proxy's raise statement is ASCII: the server converts it).
      "try:\n"
      "    cur.execute('SELECT * FROM \"\u8868' + P + '\"')\n"
      "except psycopg2.Error as e:\n"
      "    print(e.pgcode, ('\u8868' + P) in str(e))\n");
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(r.out, "denied 42501\nTrue\ndenied 22021\n1\n42501 True\n") << r.describe();
}

TEST_F(ClientEncoding, LibpqStartupAndPQsetClientEncodingLatin1AreFollowed) {
  ASSERT_NO_FATAL_FAILURE(StartWithTables());
  PgConnPtr c = Connect(ClientCert::Spiffe, "client_encoding=LATIN1");
  ASSERT_EQ(PQstatus(c.get()), CONNECTION_OK) << PQerrorMessage(c.get());
  EXPECT_STREQ(PQparameterStatus(c.get(), "client_encoding"), "LATIN1");
  QueryOutcome q = pg_exec(c.get(), "INSERT INTO " + granted_ + " VALUES (1, 'caf\xe9')");
  EXPECT_TRUE(q.ok) << q.error;
  q = pg_exec(c.get(), "SELECT * FROM " + pii_);
  EXPECT_EQ(q.sqlstate, "42501") << q.error;

  PgConnPtr d = Connect(ClientCert::Spiffe);
  ASSERT_EQ(PQstatus(d.get()), CONNECTION_OK) << PQerrorMessage(d.get());
  ASSERT_EQ(PQsetClientEncoding(d.get(), "LATIN1"), 0) << PQerrorMessage(d.get());
  q = pg_exec(d.get(), "INSERT INTO " + granted_ + " VALUES (2, 'na\xefve')");
  EXPECT_TRUE(q.ok) << q.error;
  q = pg_exec(d.get(), "SELECT v FROM " + granted_ + " WHERE id = 1");
  EXPECT_EQ(q.value, "caf\xe9");
  EXPECT_EQ(SuValue("SELECT string_agg(v, ',' ORDER BY id) FROM public." + granted_), "caf\xc3\xa9,na\xc3\xafve");
  // An encoding the classifier cannot follow: refused at startup, naming it.
  PgConnPtr mule = Connect(ClientCert::Spiffe, "client_encoding=MULE_INTERNAL");
  EXPECT_NE(PQstatus(mule.get()), CONNECTION_OK);
  EXPECT_NE(std::string(PQerrorMessage(mule.get())).find("MULE_INTERNAL"), std::string::npos)
      << PQerrorMessage(mule.get());
}

// SQL_ASCII: the server does not convert; it reads the bytes in its own encoding (UTF8
// here), and so does the classifier.
TEST_F(ClientEncoding, SqlAsciiClientBytesAreReadInTheServerEncoding) {
  ASSERT_NO_FATAL_FAILURE(StartWithTables());
  PgConnPtr c = Connect(ClientCert::Spiffe, "client_encoding=SQL_ASCII");
  ASSERT_EQ(PQstatus(c.get()), CONNECTION_OK) << PQerrorMessage(c.get());
  EXPECT_STREQ(PQparameterStatus(c.get(), "client_encoding"), "SQL_ASCII");
  QueryOutcome q = pg_exec(c.get(), "INSERT INTO " + granted_ + " VALUES (1, 'caf\xc3\xa9')");
  EXPECT_TRUE(q.ok) << q.error;
  q = pg_exec(c.get(), "SELECT 'caf\xe9'");  // not UTF-8: refused like the server would
  EXPECT_EQ(q.sqlstate, "22021") << q.error;
  q = pg_exec(c.get(), "SELECT * FROM " + pii_);
  EXPECT_EQ(q.sqlstate, "42501") << q.error;
  EXPECT_EQ(SuValue("SELECT v FROM public." + granted_), "caf\xc3\xa9");
}

TEST_F(ClientEncoding, StandardConformingStringsOffIsFollowedForBothReadingsOfABackslash) {
  ASSERT_NO_FATAL_FAILURE(StartWithTables());
  PgConnPtr c = Connect();
  ASSERT_EQ(PQstatus(c.get()), CONNECTION_OK) << PQerrorMessage(c.get());
  QueryOutcome q = pg_exec(c.get(), "SET standard_conforming_strings = off");
  ASSERT_TRUE(q.ok) << q.error;
  q = pg_exec(c.get(), "SELECT 'it\\'s'");
  EXPECT_TRUE(q.ok) << q.error;
  EXPECT_EQ(q.value, "it's");
  // One string under off: harmless, answered.
  q = pg_exec(c.get(), "SELECT '\\'; SELECT * FROM " + pii_ + "; --'");
  EXPECT_TRUE(q.ok) << q.error;
  EXPECT_EQ(q.value, "'; SELECT * FROM " + pii_ + "; --");
  // '\\' is one backslash under off: the SELECT of the denied table is code.
  q = pg_exec(c.get(), "SELECT '\\\\'; SELECT * FROM " + pii_ + "; --'");
  EXPECT_EQ(q.sqlstate, "42501") << q.error;
  q = pg_exec(c.get(), "SELECT 1");
  EXPECT_EQ(q.value, "1");
}

TEST_F(ClientEncoding, ALexingChangeFollowedByAnotherStatementInOneQueryIsRefusedAndTheSessionContinues) {
  ASSERT_NO_FATAL_FAILURE(StartWithTables());
  PgConnPtr c = Connect();
  ASSERT_EQ(PQstatus(c.get()), CONNECTION_OK) << PQerrorMessage(c.get());
  QueryOutcome q = pg_exec(c.get(), "SET client_encoding = 'SJIS'; SELECT 1");
  EXPECT_EQ(q.sqlstate, "42501") << q.error;
  EXPECT_NE(q.error.find("must be the last statement"), std::string::npos) << q.error;
  q = pg_exec(c.get(), "SHOW client_encoding");
  EXPECT_EQ(q.value, "UTF8");
  q = pg_exec(c.get(), "SET client_encoding = 'MULE_INTERNAL'");
  EXPECT_EQ(q.sqlstate, "42501") << q.error;
  EXPECT_NE(q.error.find("MULE_INTERNAL"), std::string::npos) << q.error;
  q = pg_exec(c.get(), "SHOW client_encoding");
  EXPECT_EQ(q.value, "UTF8");
}

std::string fe(char type, const std::string& body) { return std::string(1, type) + be32(body.size() + 4) + body; }
std::string z(const std::string& s) { return s + std::string(1, '\0'); }
std::string query_msg(const std::string& sql) { return fe('Q', z(sql)); }

// Reads up to the n-th ReadyForQuery; returns the ErrorResponse SQLSTATEs and DataRows seen.
struct Answers {
  std::vector<std::string> errors;
  std::vector<std::string> rows;
};
Answers read_until_ready(RawClient& raw, int n) {
  Answers a;
  while (n > 0) {
    const auto m = raw.read_message(seconds(20));
    if (!m) {
      a.errors.push_back("timeout");
      return a;
    }
    if (m->type == 'Z') --n;
    if (m->type == 'E') a.errors.push_back(parse_error_fields(m->body)['C']);
    if (m->type == 'D') a.rows.push_back(m->body);
  }
  return a;
}

// A SET in a rolled-back transaction: the server reverts it (and says so in
// ParameterStatus); the statement pipelined behind the ROLLBACK is judged under the value
// the server really uses. Under standard_conforming_strings=on the text below reads the
// denied table; under off it would be one harmless string.
TEST_F(ClientEncoding, ASettingRevertedByRollbackIsFollowedEvenWhenTheNextQueryIsPipelined) {
  ASSERT_NO_FATAL_FAILURE(StartWithTables());
  RawClient raw;
  ASSERT_TRUE(open_session(raw, port_));
  // All in one write: nothing waits for an answer.
  ASSERT_TRUE(raw.send(query_msg("BEGIN") + query_msg("SET standard_conforming_strings = off") +
                       query_msg("ROLLBACK") + query_msg("SELECT 'a\\'; SELECT v FROM " + pii_ + "; --'") +
                       query_msg("SET standard_conforming_strings = off") +
                       query_msg("SELECT 'a\\'; SELECT v FROM " + pii_ + "; --'")));
  const Answers a = read_until_ready(raw, 6);
  ASSERT_EQ(a.errors, std::vector<std::string>{"42501"}) << "the pipelined statement after ROLLBACK";
  // The last SELECT ran under off: one string, answered (and nothing of the denied table).
  ASSERT_EQ(a.rows.size(), 1u);
  EXPECT_NE(a.rows[0].find("a'; SELECT v FROM"), std::string::npos);
  EXPECT_EQ(a.rows[0].find("v1"), std::string::npos);
}

// Extended protocol (libpq pipeline mode): a Parse sent after the Execute of a SET
// client_encoding and before Sync would be read by the server under the new encoding
// before the proxy could know it: refused (0A000), the pipeline recovers at Sync and the
// session follows the new encoding.
TEST_F(ClientEncoding, ExtendedProtocolStatementsAfterALexingChangeMustWaitForSync) {
  ASSERT_NO_FATAL_FAILURE(StartWithTables());
  PgConnPtr c = Connect();
  ASSERT_EQ(PQstatus(c.get()), CONNECTION_OK) << PQerrorMessage(c.get());
  ASSERT_EQ(PQenterPipelineMode(c.get()), 1);
  ASSERT_EQ(PQsendQueryParams(c.get(), "SET client_encoding = 'LATIN1'", 0, nullptr, nullptr, nullptr, nullptr, 0), 1);
  ASSERT_EQ(PQsendQueryParams(c.get(), "SELECT 1", 0, nullptr, nullptr, nullptr, nullptr, 0), 1);
  ASSERT_EQ(PQpipelineSync(c.get()), 1);
  std::vector<std::string> states;
  for (int syncs = 0; syncs < 1;) {
    PGresult* res = PQgetResult(c.get());
    if (res == nullptr) continue;
    const ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_PIPELINE_SYNC) ++syncs;
    else if (st == PGRES_FATAL_ERROR) states.push_back(sqlstate_of(res));
    else if (st == PGRES_PIPELINE_ABORTED) states.push_back("aborted");
    else states.push_back("ok");
    PQclear(res);
  }
  ASSERT_EQ(PQexitPipelineMode(c.get()), 1) << PQerrorMessage(c.get());
  EXPECT_EQ(states, (std::vector<std::string>{"ok", "0A000"}));
  // The refusal ends the batch's implicit transaction with an error, which reverts the
  // SET: whatever the server now uses, the proxy uses the same (it reported it).
  const std::string reported = PQparameterStatus(c.get(), "client_encoding");
  QueryOutcome q = pg_exec(c.get(), "SHOW client_encoding");
  EXPECT_EQ(q.value, reported);
  ASSERT_EQ(PQsetClientEncoding(c.get(), "LATIN1"), 0) << PQerrorMessage(c.get());
  q = pg_exec(c.get(), "INSERT INTO " + granted_ + " VALUES (1, 'caf\xe9')");
  EXPECT_TRUE(q.ok) << q.error;
  EXPECT_EQ(SuValue("SELECT v FROM public." + granted_), "caf\xc3\xa9");
}

}  // namespace
}  // namespace segproxy::it
