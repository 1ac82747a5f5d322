// Issue 12 item 4.9a: bytes a client sends right behind its StartupMessage (a Query
// pipelined in the same write, as some drivers do) are processed from the proxy's
// buffer; they do not wait until the client sends something more.
#include <gtest/gtest.h>

#include "support/fixture.hpp"
#include "support/raw_client.hpp"

namespace segproxy::it {
namespace {

using std::chrono::seconds;

std::string query_packet(const std::string& sql) {
  return std::string("Q") + be32(static_cast<std::uint32_t>(4 + sql.size() + 1)) + sql + std::string(1, '\0');
}

class StartupPipelining : public ProxyTest {};

TEST_F(StartupPipelining, QueryPipelinedBehindStartupIsAnsweredWithoutFurtherInput) {
  RawClient raw;
  ASSERT_TRUE(connect_tls(raw, port_));
  // StartupMessage and a Query in ONE write; nothing is sent after it.
  ASSERT_TRUE(raw.send(startup_packet({{"user", "whatever"}, {"database", env().db}}) +
                       query_packet("select 40 + 2")));
  int ready = 0;
  std::string row;
  bool complete = false;
  // Generous bound only so that a broken proxy fails instead of hanging the suite.
  while (ready < 2) {
    const std::optional<BackendMessage> m = raw.read_message(seconds(20));
    ASSERT_TRUE(m.has_value()) << "no answer to the pipelined Query (the proxy waits for more input?) after "
                               << ready << " ReadyForQuery";
    ASSERT_NE(m->type, 'E') << parse_error_fields(m->body)['M'];
    if (m->type == 'Z') ++ready;
    if (m->type == 'D') row = m->body;
    if (m->type == 'C') complete = true;
  }
  EXPECT_TRUE(complete);
  EXPECT_NE(row.find("42"), std::string::npos) << "DataRow without the answer";
}

}  // namespace
}  // namespace segproxy::it

namespace segproxy::it {
namespace {

// A header behind the StartupMessage that claims a ~4 GiB message must be refused from
// its header: the proxy may never size its buffer from a length it has not checked
// against limits.max_frontend_message (before the fix it allocated the claimed size
// and then waited for the body).
TEST_F(StartupPipelining, OversizedLengthBehindStartupIsRefusedFromItsHeader) {
  RawClient raw;
  ASSERT_TRUE(connect_tls(raw, port_));
  ASSERT_TRUE(raw.send(startup_packet({{"user", "whatever"}, {"database", env().db}}) + std::string("Q") +
                       be32(0xFFFFFFF0u)));
  std::string sqlstate;
  for (;;) {
    const std::optional<BackendMessage> m = raw.read_message(seconds(20));
    ASSERT_TRUE(m.has_value()) << "no FATAL for the oversized header (the proxy waits for its body?)";
    if (m->type == 'E') {
      auto fields = parse_error_fields(m->body);
      EXPECT_EQ(fields['S'], "FATAL");
      sqlstate = fields['C'];
      break;
    }
  }
  EXPECT_EQ(sqlstate, "08P01");
}

}  // namespace
}  // namespace segproxy::it
