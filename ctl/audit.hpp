#pragma once
// `segproxyctl audit verify|export|keygen`: offline tooling for the audit log
// (docs/audit.md). Reads the log directory directly; needs no running proxy.
//
//   segproxyctl audit verify DIR [--pubkey FILE] [--checkpoints FILE] [--json]
//   segproxyctl audit export DIR [--format jsonl|csv|ocsf] [--since T] [--until T]
//                            [--identity X] [--segment S] [--event E] [--no-verify]
//                            [--pubkey FILE] [--checkpoints FILE]
//   segproxyctl audit keygen --out FILE
//   segproxyctl audit store init | verify --postgres | export --postgres  (ctl/audit_store.hpp)
//
// verify exit codes: 0 intact, 3 torn tail only (an interrupted write: the last line has
// no newline; never acknowledged, not tampering), 1 tampered / bad signature /
// truncated after a checkpoint, 2 usage or I/O error (unreadable dir, no log files, bad
// key file).
// export: matching records to stdout (default jsonl); 0 when everything read was intact
// (a torn tail is reported on stderr), 1 when verification failed (records before the
// problem have already been written), 2 usage or I/O error. T: RFC 3339
// (2026-11-22T12:00:00Z, fractions and +hh:mm allowed, years 1970..2200) or a date
// (2026-11-22 = midnight UTC), read by ctl/time_arg; since is inclusive, until exclusive. E: an event or a prefix with '*'
// ("statement.*"). X: spiffe_id, cn or cert_sha256.
// keygen: writes FILE (Ed25519 PKCS#8 PEM private key, mode 0600, refuses to overwrite)
// and FILE.pub (public key PEM, 0644); prints the key_id.
#include <chrono>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace segproxy::proxy::ctl {

inline constexpr int kAuditExitOk = 0;
inline constexpr int kAuditExitFailed = 1;
inline constexpr int kAuditExitUsage = 2;  // also I/O errors
inline constexpr int kAuditExitTornTail = 3;

// `args` are the words after "audit". Returns the process exit code.
int run_audit(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace segproxy::proxy::ctl
