#pragma once
// UndefinedBehaviorSanitizer reports a child process printed (scripts/sanitize.sh address).
// GCC's -fsanitize=address,undefined loads libubsan beside libasan, and UBSan then writes
// its reports to stderr whatever UBSAN_OPTIONS' log_path says (libubsan's call that would
// open the log file binds to libasan's copy), so the script never sees them in its report
// directory: the harness turns them into test failures itself (run_process checks a
// tool's stderr, ProxyProcess::stop the daemon's log).
#include <string>

namespace segproxy::it {

// The first report in `text` (a daemon log, a tool's stderr): from its
// `file:line:col: runtime error: ` line on, at most 4 KiB; "" when there is none.
std::string ubsan_report_in(const std::string& text);

}  // namespace segproxy::it
