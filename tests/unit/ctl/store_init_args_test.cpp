// `segproxyctl audit store init --schema-version N` (docs/audit.md "Central store", schema
// versions): only a version this segproxyctl knows is accepted, and a wrong one is a usage
// error (exit 2) before anything is connected to.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "audit/store/store_schema.hpp"
#include "ctl/audit.hpp"

namespace segproxy::proxy::ctl {
namespace {

struct Outcome {
  int rc;
  std::string err;
};

Outcome store_init(const std::string& version) {
  std::ostringstream out, err;
  const int rc = run_audit({"store", "init", "--postgres", "host=/nonexistent-h3 dbname=none connect_timeout=2",
                            "--schema-version", version},
                           out, err);
  return {rc, err.str()};
}

TEST(CtlStoreInit, ASchemaVersionOutsideTheKnownOnesIsAUsageErrorBeforeAnyConnection) {
  const std::string newest = std::to_string(audit::store::kSchemaVersion);
  const std::vector<std::string> unknown = {"0", std::to_string(audit::store::kSchemaVersion + 1), "-1", "x",
                                            "", "1000"};
  for (const std::string& v : unknown) {
    const Outcome r = store_init(v);
    EXPECT_EQ(r.rc, kAuditExitUsage) << v;
    EXPECT_EQ(r.err, "segproxyctl audit store init: --schema-version: a number from 1 to " + newest + "\n") << v;
  }
  // A known version passes the check: the next step is the connection (which fails here).
  for (const std::string& v : std::vector<std::string>{"1", newest}) {
    const Outcome r = store_init(v);
    EXPECT_EQ(r.rc, kAuditExitUsage) << v;
    EXPECT_NE(r.err.find("cannot connect to the store"), std::string::npos) << v << ": " << r.err;
  }
}

}  // namespace
}  // namespace segproxy::proxy::ctl
