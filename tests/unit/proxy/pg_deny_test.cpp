// The refusal the proxy sends the backend in place of a statement (daemon/pg/pg_deny.hpp) is
// read by the server in the session's client_encoding: it must be ASCII, or a UTF-8
// character's last byte could pair with the escaping backslash in SJIS / BIG5 / GBK /
// GB18030 and end the message literal early (code inside a DO block).
#include "daemon/pg/pg_deny.hpp"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace segproxy::proxy
