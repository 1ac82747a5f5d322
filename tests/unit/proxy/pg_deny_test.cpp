// The refusal the proxy sends the backend in place of a statement (daemon/pg/pg_deny.hpp) is
// read by the server in the session's client_encoding: it must be ASCII, or a UTF-8
// character's last byte could pair with the escaping backslash in SJIS / BIG5 / GBK /
// GB18030 and end the message literal early (code inside a DO block).
#include "daemon/pg/pg_deny.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace segproxy::proxy {
namespace {

TEST(PgDeny, RaiseStatementIsAsciiSoNoClientEncodingCanEndItsLiteralEarly) {
  // U+8868 (E8 A1 A8), U+2F800 (4 bytes), a quote and a backslash behind them.
  const std::string raise =
      pg_raise_statement("42501", "table \xe8\xa1\xa8\xf0\xaf\xa0\x80'\\ denied", "rule: r\xc3\xa9");
  for (char c : raise) EXPECT_LT(static_cast<unsigned char>(c), 0x80) << raise;
  EXPECT_NE(raise.find("MESSAGE = E'table \\u8868\\U0002F800\\'\\\\ denied'"), std::string::npos) << raise;
  EXPECT_NE(raise.find("DETAIL = E'rule: r\\u00E9'"), std::string::npos) << raise;
  EXPECT_NE(pg_raise_statement("42501", "bad \xff byte", "").find("E'bad ? byte'"), std::string::npos);
}

// In place of a Sync the raise must be one PostgreSQL does not skip after an earlier
// error in the batch up to its Sync: Parse / Bind / Execute of the unnamed statement and
// portal, then Sync (issues 12 and 14: a simple Query was skipped and the client hung).
TEST(PgDeny, RaiseAtSyncIsParseBindExecuteOfTheUnnamedStatementThenSync) {
  const std::string stmt = pg_raise_statement("42501", "no", "");
  const std::vector<std::uint8_t> out = pg_raise_at_sync(stmt);
  std::string types;
  std::size_t at = 0;
  while (at + 5 <= out.size()) {
    types.push_back(static_cast<char>(out[at]));
    const std::size_t len = static_cast<std::size_t>(out[at + 1]) << 24 | static_cast<std::size_t>(out[at + 2]) << 16 |
                            static_cast<std::size_t>(out[at + 3]) << 8 | out[at + 4];
    if (types.size() == 1) {
      // Parse: statement name "" (one NUL), then the statement text.
      const std::string body(out.begin() + static_cast<std::ptrdiff_t>(at + 5),
                             out.begin() + static_cast<std::ptrdiff_t>(at + 1 + len));
      EXPECT_EQ(body[0], '\0');
      EXPECT_EQ(body.substr(1, stmt.size()), stmt);
    }
    at += 1 + len;
  }
  EXPECT_EQ(at, out.size());
  EXPECT_EQ(types, "PBES");
}

}  // namespace
}  // namespace segproxy::proxy
