#pragma once
// Helpers for the policy integration tests (pg_policy_*_test.cpp): a fixture that
// starts the proxy with a policy chosen per test, tables created through the superuser
// (unix socket, bypassing the proxy) and granted to the billing role, and RFC 3339
// timestamps for one-off access windows.
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <ctime>
#include <string>
#include <vector>

#include "support/fixture.hpp"

namespace segproxy::it {

// A superuser session over the unix socket directory (not through the proxy).
inline PgConnPtr superuser_connect() { return pg_connect(env().superuser_conninfo()); }

// "YYYY-MM-DDTHH:MM:SSZ" (whole seconds, rounded down).
inline std::string rfc3339_utc(std::chrono::system_clock::time_point t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  ::gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

inline bool contains_nocase(std::string haystack, std::string needle) {
  auto lower = [](std::string& s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  };
  lower(haystack);
  lower(needle);
  return haystack.find(needle) != std::string::npos;
}

// The restrictive policy of the policy tests: select/insert/update on public.<granted>,
// everything on public.<pii> explicitly denied, statement classes transaction and
// session_safe only. `extra` (4-space indented YAML lines) is appended.
inline std::string orders_policy(const std::string& granted, const std::string& pii,
                                 const std::string& extra = "") {
  return "    rules:\n"
         "      - {id: orders-rw, tables: [public." + granted + "], allow: [select, insert, update]}\n"
         "      - {id: pii, tables: [public." + pii + "], deny: [all]}\n"
         "    statements: [transaction, session_safe]\n" + extra;
}

struct ErrorFields {
  std::string severity;
  std::string sqlstate;
  std::string message;
  std::string detail;
};

inline ErrorFields error_fields(const PGresult* res) {
  ErrorFields f;
  if (res == nullptr) return f;
  auto get = [&](int code) {
    const char* v = PQresultErrorField(res, code);
    return v != nullptr ? std::string(v) : std::string();
  };
  f.severity = get(PG_DIAG_SEVERITY_NONLOCALIZED);
  f.sqlstate = get(PG_DIAG_SQLSTATE);
  f.message = get(PG_DIAG_MESSAGE_PRIMARY);
  f.detail = get(PG_DIAG_MESSAGE_DETAIL);
  return f;
}

// ProxyTest that does not auto-start: each test starts the proxy with its own policy.
// Tables made with CreateTable are dropped at teardown.
class PolicyTest : public ProxyTest {
 protected:
  bool auto_start() const override { return false; }

  void TearDown() override {
    if (!tables_.empty()) {
      PgConnPtr su = superuser_connect();
      if (PQstatus(su.get()) == CONNECTION_OK) {
        for (const auto& t : tables_) pg_exec(su.get(), "DROP TABLE IF EXISTS public." + t);
      }
    }
    ProxyTest::TearDown();
  }

  // Runs `sql` as the superuser (fatal failure unless it succeeds).
  void Su(const std::string& sql, QueryOutcome* out = nullptr) {
    PgConnPtr su = superuser_connect();
    ASSERT_EQ(PQstatus(su.get()), CONNECTION_OK)
        << "superuser connection failed: " << PQerrorMessage(su.get());
    const QueryOutcome q = pg_exec(su.get(), sql);
    ASSERT_TRUE(q.ok) << "superuser: " << sql << ": " << q.error;
    if (out != nullptr) *out = q;
  }

  // The value of a one-value query run as the superuser.
  std::string SuValue(const std::string& sql) {
    QueryOutcome q;
    Su(sql, &q);
    return q.value;
  }

  // public.<name>(id int primary key, v text) holding rows (i, 'v<i>') for i in 1..rows,
  // with ALL granted to billing_rw.
  void CreateTable(const std::string& name, int rows) {
    tables_.push_back(name);
    ASSERT_NO_FATAL_FAILURE(Su("CREATE TABLE public." + name + " (id int primary key, v text)"));
    if (rows > 0) {
      ASSERT_NO_FATAL_FAILURE(Su("INSERT INTO public." + name +
                                 " SELECT i, 'v' || i FROM generate_series(1, " +
                                 std::to_string(rows) + ") i"));
    }
    ASSERT_NO_FATAL_FAILURE(Su("GRANT ALL ON public." + name + " TO billing_rw"));
  }

  int RowCount(const std::string& name) { return std::stoi(SuValue("SELECT count(*) FROM public." + name)); }

  void StartWithBillingPolicy(const std::string& billing_policy) {
    ProxyConfigOptions opts;
    opts.billing_policy = billing_policy;
    ASSERT_NO_FATAL_FAILURE(StartProxy(opts));
  }

  std::vector<std::string> tables_;
};

}  // namespace segproxy::it
