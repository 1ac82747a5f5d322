// COPY through the proxy: 100k rows in and out, byte for byte.
#include <gtest/gtest.h>

#include <algorithm>

#include "support/fixture.hpp"

namespace segproxy::it {
namespace {

using CopyThroughProxy = ProxyTest;

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

}  // namespace
}  // namespace segproxy::it
