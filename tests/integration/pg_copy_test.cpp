// COPY through the proxy: 100k rows in and out, byte for byte.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>

#include "support/fixture.hpp"

namespace segproxy::it {
namespace {

using CopyThroughProxy = ProxyTest;
using namespace std::chrono_literals;

// Rows in PostgreSQL's canonical COPY text form, so that COPY TO reproduces them
// exactly: escaped tab/newline/backslash/CR, raw multi-byte UTF-8, NULLs, numerics with
// a fixed scale.
std::string make_copy_data(int rows) {
  static const char* const kTexts[] = {
      "plain",
      "tab\\there",
      "new\\nline",
      "back\\\\slash",
      "carriage\\rreturn",
      "h\xc3\xa9llo w\xc3\xb6rld",                          // héllo wörld
      "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",               // 日本語
      "emoji \xf0\x9f\x8e\x89 \xe2\x9c\x93",                // 🎉 ✓
      "quote ' and \" and ; -- not sql",
      "",
  };
  std::string out;
  out.reserve(static_cast<std::size_t>(rows) * 64);
  for (int i = 1; i <= rows; ++i) {
    out += std::to_string(i);
    out += '\t';
    if (i % 97 == 0) {
      out += "\\N";
    } else {
      out += kTexts[i % (sizeof kTexts / sizeof kTexts[0])];
      out += " #" + std::to_string(i * 7919 % 100003);
    }
    out += '\t';
    out += std::to_string(i % 100000) + "." + (i % 100 < 10 ? "0" : "") + std::to_string(i % 100);
    out += '\n';
  }
  return out;
}

TEST_F(CopyThroughProxy, HundredThousandRowsRoundTripByteIdentical) {
  PgConnPtr conn = Connect(ClientCert::Spiffe, "client_encoding=UTF8");
  ASSERT_PG_CONNECTED(conn);
  const std::string table = unique_name("it_copy");
  QueryOutcome q = pg_exec(conn.get(), "create table " + table +
                                           " (id int primary key, label text, amount numeric(12,2))");
  ASSERT_TRUE(q.ok) << q.error;

  constexpr int kRows = 100000;
  const std::string data = make_copy_data(kRows);

  // COPY FROM STDIN, in chunks that do not line up with rows or protocol frames.
  {
    PgResultPtr res(PQexec(conn.get(), ("copy " + table + " from stdin").c_str()));
    ASSERT_EQ(PQresultStatus(res.get()), PGRES_COPY_IN) << PQerrorMessage(conn.get());
  }
  std::size_t off = 0;
  std::size_t chunk = 1;
  while (off < data.size()) {
    const std::size_t n = std::min(chunk, data.size() - off);
    ASSERT_EQ(PQputCopyData(conn.get(), data.data() + off, static_cast<int>(n)), 1)
        << PQerrorMessage(conn.get());
    off += n;
    chunk = chunk * 3 + 17;
    if (chunk > 100000) chunk = 4093;
  }
  ASSERT_EQ(PQputCopyEnd(conn.get(), nullptr), 1) << PQerrorMessage(conn.get());
  {
    PgResultPtr res(PQgetResult(conn.get()));
    ASSERT_EQ(PQresultStatus(res.get()), PGRES_COMMAND_OK) << PQresultErrorMessage(res.get());
    EXPECT_STREQ(PQcmdTuples(res.get()), "100000");
  }
  pg_drain(conn.get());

  q = pg_exec(conn.get(), "select count(*) from " + table);
  ASSERT_TRUE(q.ok) << q.error;
  EXPECT_EQ(q.value, std::to_string(kRows));

  // COPY TO STDOUT.
  {
    PgResultPtr res(
        PQexec(conn.get(), ("copy (select * from " + table + " order by id) to stdout").c_str()));
    ASSERT_EQ(PQresultStatus(res.get()), PGRES_COPY_OUT) << PQerrorMessage(conn.get());
  }
  std::string back;
  back.reserve(data.size());
  for (;;) {
    char* buf = nullptr;
    const int n = PQgetCopyData(conn.get(), &buf, 0);
    if (n > 0) {
      back.append(buf, static_cast<std::size_t>(n));
      PQfreemem(buf);
      continue;
    }
    ASSERT_EQ(n, -1) << "COPY OUT failed: " << PQerrorMessage(conn.get());
    break;
  }
  {
    PgResultPtr res(PQgetResult(conn.get()));
    ASSERT_EQ(PQresultStatus(res.get()), PGRES_COMMAND_OK) << PQresultErrorMessage(res.get());
  }
  pg_drain(conn.get());

  ASSERT_EQ(back.size(), data.size());
  if (back != data) {
    const auto mismatch = std::mismatch(data.begin(), data.end(), back.begin());
    const auto at = static_cast<std::size_t>(mismatch.first - data.begin());
    FAIL() << "COPY OUT differs from COPY IN at byte " << at << ": sent ..."
           << data.substr(at > 40 ? at - 40 : 0, 80) << "... got ..."
           << back.substr(at > 40 ? at - 40 : 0, 80) << "...";
  }

  q = pg_exec(conn.get(), "drop table " + table);
  EXPECT_TRUE(q.ok) << q.error;
}

TEST_F(CopyThroughProxy, CopyFailFromClientRollsBackAndSessionContinues) {
  PgConnPtr conn = Connect();
  ASSERT_PG_CONNECTED(conn);
  const std::string table = unique_name("it_copyfail");
  ASSERT_TRUE(pg_exec(conn.get(), "create table " + table + " (id int)").ok);
  {
    PgResultPtr res(PQexec(conn.get(), ("copy " + table + " from stdin").c_str()));
    ASSERT_EQ(PQresultStatus(res.get()), PGRES_COPY_IN) << PQerrorMessage(conn.get());
  }
  ASSERT_EQ(PQputCopyData(conn.get(), "1\n2\n", 4), 1);
  ASSERT_EQ(PQputCopyEnd(conn.get(), "client gave up"), 1);
  {
    PgResultPtr res(PQgetResult(conn.get()));
    EXPECT_EQ(PQresultStatus(res.get()), PGRES_FATAL_ERROR);
    EXPECT_EQ(sqlstate_of(res.get()), "57014") << PQresultErrorMessage(res.get());
  }
  pg_drain(conn.get());
  QueryOutcome q = pg_exec(conn.get(), "select count(*) from " + table);
  ASSERT_TRUE(q.ok) << q.error;
  EXPECT_EQ(q.value, "0");
  EXPECT_TRUE(pg_exec(conn.get(), "drop table " + table).ok);
}

// COPY FROM STDIN sent by the extended protocol (libpq PQexecParams / PQexecPrepared)
// sends two Syncs: one right after the Execute, one after CopyDone. The backend ignores
// the first (COPY IN ignores Sync and Flush, protocol-flow "COPY Operations"), so only
// one ReadyForQuery comes. The session used to count the first Sync outstanding for
// ever: the next lexing hold (SET client_encoding waits for the backend to be idle
// before the next statement is judged) waited for ever and the statement behind it was
// never read. Each COPY is followed by such a hold and a statement that must be answered.
void expect_usable_after_a_lexing_hold(PGconn* conn, const std::string& table, const std::string& rows,
                                       const std::string& step) {
  ASSERT_EQ(PQsendQuery(conn, "SET client_encoding TO 'UTF8'"), 1) << PQerrorMessage(conn);
  bool timed_out = false;
  PgResultPtr res = pg_wait_result(conn, 60s, &timed_out);
  ASSERT_FALSE(timed_out) << step << ": SET client_encoding was never answered";
  ASSERT_EQ(PQresultStatus(res.get()), PGRES_COMMAND_OK) << step << ": " << PQresultErrorMessage(res.get());
  res = pg_wait_result(conn, 60s, &timed_out);
  ASSERT_EQ(res, nullptr);
  ASSERT_EQ(PQsendQuery(conn, ("select count(*) from " + table).c_str()), 1) << PQerrorMessage(conn);
  res = pg_wait_result(conn, 60s, &timed_out);
  ASSERT_FALSE(timed_out) << step << ": the statement after the lexing hold was never read";
  ASSERT_EQ(PQresultStatus(res.get()), PGRES_TUPLES_OK) << step << ": " << PQresultErrorMessage(res.get());
  EXPECT_STREQ(PQgetvalue(res.get(), 0, 0), rows.c_str()) << step;
  res = pg_wait_result(conn, 60s, &timed_out);
  ASSERT_EQ(res, nullptr);
}

// PGRES_COPY_IN -> data -> CopyDone -> the COPY's result, then no other.
void copy_in(PGconn* conn, PgResultPtr started, const std::string& data, const char* fail, ExecStatusType want,
             const std::string& step) {
  ASSERT_EQ(PQresultStatus(started.get()), PGRES_COPY_IN) << step << ": " << PQerrorMessage(conn);
  started.reset();
  ASSERT_EQ(PQputCopyData(conn, data.data(), static_cast<int>(data.size())), 1) << PQerrorMessage(conn);
  ASSERT_EQ(PQputCopyEnd(conn, fail), 1) << PQerrorMessage(conn);
  bool timed_out = false;
  PgResultPtr res = pg_wait_result(conn, 60s, &timed_out);
  ASSERT_FALSE(timed_out) << step << ": the COPY was never answered";
  ASSERT_EQ(PQresultStatus(res.get()), want) << step << ": " << PQresultErrorMessage(res.get());
  res = pg_wait_result(conn, 60s, &timed_out);
  ASSERT_FALSE(timed_out) << step;
  ASSERT_EQ(res, nullptr) << step << ": a second result";
}

TEST_F(CopyThroughProxy, CopyFromStdinByTheExtendedProtocolLeavesNoRequestOutstandingSoALexingHoldEnds) {
  PgConnPtr conn = Connect();
  ASSERT_PG_CONNECTED(conn);
  const std::string table = unique_name("it_copy_ext");
  ASSERT_TRUE(pg_exec(conn.get(), "create table " + table + " (id int)").ok);
  const std::string copy = "copy " + table + " from stdin";

  // PQexecParams: Parse / Bind / Describe / Execute / Sync, then CopyData / CopyDone / Sync.
  ASSERT_NO_FATAL_FAILURE(copy_in(conn.get(),
                                  PgResultPtr(PQexecParams(conn.get(), copy.c_str(), 0, nullptr, nullptr, nullptr,
                                                           nullptr, 0)),
                                  "1\n2\n3\n", nullptr, PGRES_COMMAND_OK, "PQexecParams"));
  ASSERT_NO_FATAL_FAILURE(expect_usable_after_a_lexing_hold(conn.get(), table, "3", "PQexecParams"));

  // PQprepare + PQexecPrepared (Bind / Describe / Execute / Sync), twice.
  {
    PgResultPtr prepared(PQprepare(conn.get(), "it_copy_in", copy.c_str(), 0, nullptr));
    ASSERT_EQ(PQresultStatus(prepared.get()), PGRES_COMMAND_OK) << PQresultErrorMessage(prepared.get());
  }
  for (int i = 0; i < 2; ++i) {
    ASSERT_NO_FATAL_FAILURE(copy_in(conn.get(),
                                    PgResultPtr(PQexecPrepared(conn.get(), "it_copy_in", 0, nullptr, nullptr,
                                                               nullptr, 0)),
                                    "4\n", nullptr, PGRES_COMMAND_OK, "PQexecPrepared"));
  }
  ASSERT_NO_FATAL_FAILURE(expect_usable_after_a_lexing_hold(conn.get(), table, "5", "PQexecPrepared"));

  // The COPY fails: by CopyFail, and on bad data (the backend then discards to the Sync).
  ASSERT_NO_FATAL_FAILURE(copy_in(conn.get(),
                                  PgResultPtr(PQexecParams(conn.get(), copy.c_str(), 0, nullptr, nullptr, nullptr,
                                                           nullptr, 0)),
                                  "6\n", "client gave up", PGRES_FATAL_ERROR, "CopyFail"));
  ASSERT_NO_FATAL_FAILURE(expect_usable_after_a_lexing_hold(conn.get(), table, "5", "CopyFail"));
  ASSERT_NO_FATAL_FAILURE(copy_in(conn.get(),
                                  PgResultPtr(PQexecParams(conn.get(), copy.c_str(), 0, nullptr, nullptr, nullptr,
                                                           nullptr, 0)),
                                  "7\nnot a number\n", nullptr, PGRES_FATAL_ERROR, "bad data"));
  ASSERT_NO_FATAL_FAILURE(expect_usable_after_a_lexing_hold(conn.get(), table, "5", "bad data"));

  // Neighbours: the simple protocol's COPY IN (psql's \copy), COPY TO STDOUT by PQexecParams.
  ASSERT_NO_FATAL_FAILURE(
      copy_in(conn.get(), PgResultPtr(PQexec(conn.get(), copy.c_str())), "8\n", nullptr, PGRES_COMMAND_OK, "PQexec"));
  ASSERT_NO_FATAL_FAILURE(expect_usable_after_a_lexing_hold(conn.get(), table, "6", "PQexec"));
  {
    PgResultPtr res(PQexecParams(conn.get(), ("copy " + table + " to stdout").c_str(), 0, nullptr, nullptr, nullptr,
                                 nullptr, 0));
    ASSERT_EQ(PQresultStatus(res.get()), PGRES_COPY_OUT) << PQerrorMessage(conn.get());
  }
  std::string out;
  for (;;) {
    char* buf = nullptr;
    const int n = PQgetCopyData(conn.get(), &buf, 0);
    if (n <= 0) {
      ASSERT_EQ(n, -1) << PQerrorMessage(conn.get());
      break;
    }
    out.append(buf, static_cast<std::size_t>(n));
    PQfreemem(buf);
  }
  {
    PgResultPtr res(PQgetResult(conn.get()));
    ASSERT_EQ(PQresultStatus(res.get()), PGRES_COMMAND_OK) << PQresultErrorMessage(res.get());
  }
  pg_drain(conn.get());
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 6) << out;
  ASSERT_NO_FATAL_FAILURE(expect_usable_after_a_lexing_hold(conn.get(), table, "6", "COPY TO STDOUT"));
  EXPECT_TRUE(pg_exec(conn.get(), "drop table " + table).ok);
}

}  // namespace
}  // namespace segproxy::it
