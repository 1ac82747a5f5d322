// The integration harness itself: what it treats as a failure beyond the assertions of
// a test. Needs no server (the "daemon" here is a shell and a Python listener).
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <unistd.h>

#include "support/process.hpp"
#include "support/ubsan_report.hpp"

namespace segproxy::it {
namespace {

// What libubsan prints (GCC 12, -fsanitize=undefined, print_stacktrace=1).
constexpr const char* kReport =
    "/work/daemon/pg/pg_relay.cpp:128:17: runtime error: signed integer overflow: 2 + 2147483647 cannot be "
    "represented in type 'int'\n"
    "    #0 0x55d85cba81f4 in segproxy::proxy::PgSession::relay() /work/daemon/pg/pg_relay.cpp:128\n";

TEST(UbsanReport, AReportBetweenDaemonLogLinesIsFoundFromItsFirstLine) {
  const std::string log = std::string("{\"event\":\"server.started\"}\n") + kReport + "{\"event\":\"server.stopping\"}\n";
  const std::string found = ubsan_report_in(log);
  EXPECT_EQ(found.rfind("/work/daemon/pg/pg_relay.cpp:128:17: runtime error: signed integer overflow", 0), 0u)
      << found;
}

TEST(UbsanReport, ALogLineThatOnlyQuotesRuntimeErrorIsNoReport) {
  EXPECT_EQ(ubsan_report_in("{\"event\":\"session.exception\",\"error\":\"x: runtime error: y\"}\n"), "");
  EXPECT_EQ(ubsan_report_in("ERROR:  runtime error: division by zero\n"), "");
  EXPECT_EQ(ubsan_report_in(""), "");
}

void run_a_tool_that_reports_undefined_behaviour() {
  const ProcResult r = run_process({"sh", "-c", std::string("printf '%s' \"$0\" >&2"), kReport},
                                   std::chrono::seconds(30));
  EXPECT_EQ(r.exit_code, 0) << r.describe();
}

TEST(UbsanReport, AToolsReportOnStderrFailsTheTestThatRanIt) {
  EXPECT_NONFATAL_FAILURE(run_a_tool_that_reports_undefined_behaviour(), "reported undefined behaviour (UBSan)");
}

// A stand-in daemon: writes a report to its log, then listens until SIGTERM.
void run_a_daemon_that_reports_undefined_behaviour() {
  const auto dir = std::filesystem::temp_directory_path() / ("segproxy-harness-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string log = (dir / "segproxy.log").string();
  const std::uint16_t port = free_port();
  ProxyProcess proc;
  std::string error;
  const bool started = proc.start(
      "/bin/sh",
      {"-c",
       "printf '%s' \"$1\" >&2; exec python3 -c 'import socket, sys, time\n"
       "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
       "s.bind((\"127.0.0.1\", int(sys.argv[1]))); s.listen(); time.sleep(300)' \"$2\"",
       "sh", kReport, std::to_string(port)},
      log, port, kProxyStartTimeout, &error);
  EXPECT_TRUE(started) << error;
  proc.stop();
  std::filesystem::remove_all(dir);
}

TEST(UbsanReport, ADaemonsReportInItsLogFailsTheTestAtStop) {
  EXPECT_NONFATAL_FAILURE(run_a_daemon_that_reports_undefined_behaviour(), "segproxy reported undefined behaviour (UBSan");
}

}  // namespace
}  // namespace segproxy::it
