// filter_startup_parameters: what real drivers send passes; anything that could change
// how the session is set up is refused with the right SQLSTATE and without echoing values.
#include <gtest/gtest.h>

#include "protocols/pg/startup_params.hpp"

namespace segproxy::protocols::pg {
namespace {

using Params = std::vector<std::pair<std::string, std::string>>;

struct AllowedCase {
  const char* name;
  Params in;
  std::string user;
  std::string database;
  Params forward;
};

TEST(PgStartupParams, WhatRealDriversSendIsAllowed) {
  const std::vector<AllowedCase> cases = {
      {"psql",
       {{"user", "alice"}, {"database", "shop"}, {"application_name", "psql"}, {"client_encoding", "UTF8"}},
       "alice", "shop", {{"application_name", "psql"}, {"client_encoding", "UTF8"}}},
      {"pgbench", {{"user", "bench"}, {"database", "bench"}, {"application_name", "pgbench"}},
       "bench", "bench", {{"application_name", "pgbench"}}},
      {"libpq minimal, database defaults to user", {{"user", "alice"}}, "alice", "alice", {}},
      {"libpq with PGOPTIONS",
       {{"user", "alice"}, {"database", "shop"}, {"options", "-c statement_timeout=5s --lock-timeout=1s"}},
       "alice", "shop", {{"statement_timeout", "5s"}, {"lock_timeout", "1s"}}},
      {"psycopg2", {{"user", "app"}, {"database", "prod"}}, "app", "prod", {}},
      {"JDBC",
       {{"user", "app"}, {"database", "prod"}, {"client_encoding", "UTF8"}, {"DateStyle", "ISO"},
        {"TimeZone", "Europe/Berlin"}, {"extra_float_digits", "2"}, {"application_name", "PostgreSQL JDBC Driver"}},
       "app", "prod",
       {{"client_encoding", "UTF8"}, {"DateStyle", "ISO"}, {"TimeZone", "Europe/Berlin"},
        {"extra_float_digits", "2"}, {"application_name", "PostgreSQL JDBC Driver"}}},
      {"case-insensitive GUC names get canonical spelling",
       {{"user", "u"}, {"datestyle", "ISO, MDY"}, {"TIMEZONE", "UTC"}, {"intervalstyle", "iso_8601"}},
       "u", "u", {{"DateStyle", "ISO, MDY"}, {"TimeZone", "UTC"}, {"IntervalStyle", "iso_8601"}}},
      {"client_encoding spellings", {{"user", "u"}, {"client_encoding", "utf-8"}}, "u", "u",
       {{"client_encoding", "UTF8"}}},
      {"client_encoding unicode", {{"user", "u"}, {"client_encoding", "Unicode"}}, "u", "u",
       {{"client_encoding", "UTF8"}}},
      {"client_encoding LATIN1 is followed", {{"user", "u"}, {"client_encoding", "latin1"}}, "u", "u",
       {{"client_encoding", "LATIN1"}}},
      {"client_encoding Shift_JIS via options is followed", {{"user", "u"}, {"options", "-c client_encoding=Shift_JIS"}},
       "u", "u", {{"client_encoding", "SJIS"}}},
      {"client_encoding SQL_ASCII is followed", {{"user", "u"}, {"client_encoding", "SQL_ASCII"}}, "u", "u",
       {{"client_encoding", "SQL_ASCII"}}},
      {"options -cname=value and escaped space in a value",
       {{"user", "u"}, {"options", "-capplication_name=my\\ app  -c idle_in_transaction_session_timeout=10s"}},
       "u", "u", {{"application_name", "my app"}, {"idle_in_transaction_session_timeout", "10s"}}},
      {"options dash in name maps to underscore", {{"user", "u"}, {"options", "-c statement-timeout=0"}}, "u", "u",
       {{"statement_timeout", "0"}}},
      {"empty options sets nothing", {{"user", "u"}, {"options", "  "}}, "u", "u", {}},
      {"empty database defaults to user", {{"user", "u"}, {"database", ""}}, "u", "u", {}},
  };
  for (const auto& c : cases) {
    const auto r = filter_startup_parameters(c.in);
    EXPECT_TRUE(r.ok) << c.name << ": " << r.error;
    EXPECT_EQ(r.user, c.user) << c.name;
    EXPECT_EQ(r.database, c.database) << c.name;
    EXPECT_EQ(r.forward, c.forward) << c.name;
    EXPECT_TRUE(r.sqlstate.empty()) << c.name;
  }
}

// Issue 12 item 2.3: node-postgres puts transaction defaults in `options`; settings that
// cannot change name resolution, lexing or privileges pass, directly and in `options`.
TEST(PgStartupParams, HarmlessTransactionDefaultsAreAllowedDirectlyAndInOptions) {
  const std::vector<AllowedCase> cases = {
      {"node-postgres options",
       {{"user", "u"},
        {"options", "-c default_transaction_isolation=serializable -c default_transaction_read_only=on"}},
       "u", "u", {{"default_transaction_isolation", "serializable"}, {"default_transaction_read_only", "on"}}},
      {"--name=value with dashes",
       {{"user", "u"}, {"options", "--default-transaction-deferrable=on --idle-session-timeout=60s"}}, "u", "u",
       {{"default_transaction_deferrable", "on"}, {"idle_session_timeout", "60s"}}},
      {"top-level, any case",
       {{"user", "u"}, {"Default_Transaction_Isolation", "read committed"}, {"bytea_output", "hex"},
        {"geqo", "off"}, {"JIT", "off"}},
       "u", "u",
       {{"default_transaction_isolation", "read committed"}, {"bytea_output", "hex"}, {"geqo", "off"}, {"jit", "off"}}},
  };
  for (const auto& c : cases) {
    const auto r = filter_startup_parameters(c.in);
    EXPECT_TRUE(r.ok) << c.name << ": " << r.error;
    EXPECT_EQ(r.forward, c.forward) << c.name;
  }
}

TEST(PgStartupParams, NameResolutionLexingAndPrivilegeSettingsStayRefused) {
  for (const char* name : {"search_path", "role", "session_authorization", "standard_conforming_strings",
                           "backslash_quote", "escape_string_warning", "row_security", "work_mem",
                           "default_tablespace", "temp_tablespaces", "lc_messages"}) {
    const auto direct = filter_startup_parameters({{"user", "u"}, {name, "x"}});
    EXPECT_FALSE(direct.ok) << name;
    EXPECT_EQ(direct.sqlstate, "42501") << name;
    const auto in_options = filter_startup_parameters({{"user", "u"}, {"options", std::string("-c ") + name + "=x"}});
    EXPECT_FALSE(in_options.ok) << name;
    EXPECT_EQ(in_options.sqlstate, "42501") << name;
  }
}

struct RefusedCase {
  const char* name;
  Params in;
  std::string sqlstate;
  std::string error_mentions;  // the parameter name the error must name
};

TEST(PgStartupParams, SessionChangingParametersAreRefused) {
  const std::vector<RefusedCase> cases = {
      {"replication", {{"user", "u"}, {"replication", "database"}}, "42501", "\"replication\""},
      {"replication false", {{"user", "u"}, {"replication", "false"}}, "42501", "\"replication\""},
      {"search_path", {{"user", "u"}, {"search_path", "evil"}}, "42501", "\"search_path\""},
      {"role", {{"user", "u"}, {"role", "admin"}}, "42501", "\"role\""},
      {"session_authorization", {{"user", "u"}, {"session_authorization", "x"}}, "42501", "\"session_authorization\""},
      {"standard_conforming_strings", {{"user", "u"}, {"standard_conforming_strings", "off"}}, "42501",
       "\"standard_conforming_strings\""},
      {"protocol extension", {{"user", "u"}, {"_pq_.x", "1"}}, "42501", "\"_pq_.x\""},
      {"options search_path", {{"user", "u"}, {"options", "-c search_path=evil"}}, "42501", "\"search_path\""},
      {"options role", {{"user", "u"}, {"options", "-c role=x"}}, "42501", "\"role\""},
      {"options --role", {{"user", "u"}, {"options", "--role=x"}}, "42501", "\"role\""},
      {"options -d 5", {{"user", "u"}, {"options", "-d 5"}}, "42501", "\"options\""},
      {"options -D dir", {{"user", "u"}, {"options", "-D /tmp"}}, "42501", "\"options\""},
      {"options escaped space smuggles a name", {{"user", "u"}, {"options", "-c\\ search_path=evil"}}, "42501",
       "search_path"},
      {"options escaped space in name", {{"user", "u"}, {"options", "-c application_name\\ x=y"}}, "42501",
       "\"application_name x\""},
      {"options bare word", {{"user", "u"}, {"options", "search_path=evil"}}, "08P01", "\"options\""},
      {"options -c without setting", {{"user", "u"}, {"options", "-c"}}, "08P01", "\"options\""},
      {"options -c without =", {{"user", "u"}, {"options", "-c application_name"}}, "08P01", "\"options\""},
      {"options --=x", {{"user", "u"}, {"options", "--=x"}}, "08P01", "\"options\""},
      {"empty application_name", {{"user", "u"}, {"application_name", ""}}, "22023", "\"application_name\""},
      {"empty value in options", {{"user", "u"}, {"options", "-c application_name="}}, "22023", "\"application_name\""},
      {"duplicate application_name via options and direct",
       {{"user", "u"}, {"application_name", "a"}, {"options", "-c application_name=b"}}, "08P01", "\"application_name\""},
      {"duplicate via options first",
       {{"user", "u"}, {"options", "--application_name=b"}, {"application_name", "a"}}, "08P01", "\"application_name\""},
      {"duplicate differing case", {{"user", "u"}, {"TimeZone", "UTC"}, {"timezone", "UTC"}}, "08P01", "\"TimeZone\""},
      {"duplicate user", {{"user", "u"}, {"user", "postgres"}}, "08P01", "\"user\""},
      {"duplicate options", {{"user", "u"}, {"options", ""}, {"options", ""}}, "08P01", "\"options\""},
      // Encodings the classifier follows pass (issue 12 item 2.2); these cannot be followed.
      {"client_encoding MULE_INTERNAL", {{"user", "u"}, {"client_encoding", "MULE_INTERNAL"}}, "0A000",
       "MULE_INTERNAL"},
      {"client_encoding JOHAB via options", {{"user", "u"}, {"options", "-c client_encoding=JOHAB"}}, "0A000",
       "JOHAB"},
      {"client_encoding unknown", {{"user", "u"}, {"client_encoding", "klingon"}}, "22023", "\"client_encoding\""},
      {"missing user", {{"database", "d"}}, "08P01", "user name"},
      {"empty user", {{"user", ""}}, "08P01", "user name"},
      {"upper-case User is not the user parameter", {{"User", "u"}}, "42501", "\"User\""},
  };
  for (const auto& c : cases) {
    const auto r = filter_startup_parameters(c.in);
    EXPECT_FALSE(r.ok) << c.name;
    EXPECT_EQ(r.sqlstate, c.sqlstate) << c.name << ": " << r.error;
    EXPECT_NE(r.error.find(c.error_mentions), std::string::npos) << c.name << ": " << r.error;
    EXPECT_TRUE(r.forward.empty()) << c.name;
  }
}

TEST(PgStartupParams, NotAllowedErrorHasTheDocumentedWording) {
  const auto r = filter_startup_parameters({{"user", "u"}, {"search_path", "x"}});
  EXPECT_EQ(r.error, "startup parameter \"search_path\" is not allowed through segproxy");
}

TEST(PgStartupParams, ErrorsNeverEchoValues) {
  const std::string secret = "hunter2-secret";
  const std::vector<Params> inputs = {
      {{"user", "u"}, {"client_encoding", secret}},
      {{"user", "u"}, {"options", secret}},
      {{"user", "u"}, {"options", "-c search_path=" + secret}},
      {{"user", "u"}, {"options", "-c " + secret}},
      {{"user", "u"}, {"application_name", "a"}, {"application_name", secret}},
  };
  for (const auto& in : inputs) {
    const auto r = filter_startup_parameters(in);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error.find(secret), std::string::npos) << r.error;
  }
}

}  // namespace
}  // namespace segproxy::protocols::pg
