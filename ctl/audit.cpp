// segproxyctl audit verify / export / keygen (see ctl/audit.hpp).
#include "ctl/audit.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "audit/checkpoint.hpp"
#include "audit/exporters.hpp"
#include "audit/log_files.hpp"
#include "audit/record_codec.hpp"
#include "audit/verifier.hpp"
#include "ctl/audit_store.hpp"
#include "ctl/time_arg.hpp"

namespace segproxy::proxy::ctl {
namespace {

namespace fs = std::filesystem;
using time_point = std::chrono::system_clock::time_point;

void usage(std::ostream& out) {
  out << "usage: segproxyctl audit verify DIR [--pubkey FILE] [--checkpoints FILE] [--json]\n"
         "       segproxyctl audit export DIR [--format jsonl|csv|ocsf|raw] [--since T] [--until T]\n"
         "                                [--identity X] [--segment S] [--event E] [--no-verify]\n"
         "                                [--pubkey FILE] [--checkpoints FILE]\n"
         "       segproxyctl audit keygen --out FILE\n"
         "central store (CONNINFO: a libpq connection string; password from --password-file or\n"
         "PGPASSWORD / ~/.pgpass):\n"
         "       segproxyctl audit store init --postgres CONNINFO [--password-file FILE]\n"
         "                   [--shipper-role NAME] [--shipper-password-file FILE] [--reader-role NAME]\n"
         "                   [--schema-version N]   (default: the newest; N: stop there, a staged upgrade)\n"
         "       segproxyctl audit verify --postgres CONNINFO [--instance X] [--since T] [--pubkey FILE] [--json]\n"
         "       segproxyctl audit export --postgres CONNINFO [--instance X] [export options]\n"
         "T: RFC 3339 (2026-11-22T12:00:00Z, +hh:mm offsets) or a date (2026-11-22, midnight UTC),\n"
         "   years 1970 to 2200; --since is inclusive, --until exclusive. E: an event or a prefix ending in '*' (statement.*).\n"
         "X: a SPIFFE id, CN or certificate SHA-256. verify exits 0 intact, 3 torn tail only,\n"
         "   1 tampered / bad signature / truncated, 2 usage or I/O error.\n";
}

struct Args {
  std::vector<std::string> positional;
  std::optional<std::string> pubkey, checkpoints, format, since, until, out;
  std::optional<std::string> identity, segment, event;
  std::optional<std::string> postgres, password_file, instance, shipper_role, shipper_password_file, reader_role;
  std::optional<std::string> schema_version;
  bool json = false;
  bool no_verify = false;
};

// Options valid for each subcommand.
bool allowed(const std::string& cmd, const std::string& opt) {
  if (cmd == "keygen") return opt == "--out";
  if (opt == "--postgres" || opt == "--password-file") return true;
  if (cmd == "store")
    return opt == "--shipper-role" || opt == "--shipper-password-file" || opt == "--reader-role" ||
           opt == "--schema-version";
  if (opt == "--instance") return true;
  if (cmd == "verify" && opt == "--since") return true;
  if (opt == "--pubkey" || opt == "--checkpoints") return true;
  if (cmd == "verify") return opt == "--json";
  return opt == "--format" || opt == "--since" || opt == "--until" || opt == "--identity" ||
         opt == "--segment" || opt == "--event" || opt == "--no-verify";
}

bool parse_args(const std::vector<std::string>& args, Args& a, std::ostream& err) {
  const std::string& cmd = args[0];
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& s = args[i];
    if (s == "--") {
      a.positional.insert(a.positional.end(), args.begin() + static_cast<std::ptrdiff_t>(i + 1),
                          args.end());
      return true;
    }
    if (s.size() < 2 || s[0] != '-' || s[1] != '-') {
      a.positional.push_back(s);
      continue;
    }
    if (!allowed(cmd, s)) {
      err << "segproxyctl audit " << cmd << ": unknown option " << s << "\n";
      return false;
    }
    if (s == "--json") { a.json = true; continue; }
    if (s == "--no-verify") { a.no_verify = true; continue; }
    if (i + 1 >= args.size()) {
      err << "segproxyctl audit " << cmd << ": " << s << " needs a value\n";
      return false;
    }
    const std::string& v = args[++i];
    std::optional<std::string>* slot = nullptr;
    if (s == "--pubkey") slot = &a.pubkey;
    else if (s == "--checkpoints") slot = &a.checkpoints;
    else if (s == "--format") slot = &a.format;
    else if (s == "--since") slot = &a.since;
    else if (s == "--until") slot = &a.until;
    else if (s == "--out") slot = &a.out;
    else if (s == "--identity") slot = &a.identity;
    else if (s == "--segment") slot = &a.segment;
    else if (s == "--postgres") slot = &a.postgres;
    else if (s == "--password-file") slot = &a.password_file;
    else if (s == "--instance") slot = &a.instance;
    else if (s == "--shipper-role") slot = &a.shipper_role;
    else if (s == "--shipper-password-file") slot = &a.shipper_password_file;
    else if (s == "--reader-role") slot = &a.reader_role;
    else if (s == "--schema-version") slot = &a.schema_version;
    else slot = &a.event;
    if (slot->has_value()) {
      err << "segproxyctl audit " << cmd << ": " << s << " given twice\n";
      return false;
    }
    *slot = v;
  }
  return true;
}

std::optional<fs::path> opt_path(const std::optional<std::string>& s) {
  if (!s) return std::nullopt;
  return fs::path(*s);
}

const char* status_word(audit::VerifyStatus s) {
  switch (s) {
    case audit::VerifyStatus::ok: return "ok";
    case audit::VerifyStatus::torn_tail: return "torn_tail";
    case audit::VerifyStatus::tampered: return "tampered";
    case audit::VerifyStatus::bad_signature: return "bad_signature";
    case audit::VerifyStatus::truncated: return "truncated";
    case audit::VerifyStatus::io_error: return "io_error";
  }
  return "unknown";
}

int exit_code(const audit::VerifyResult& r) {
  switch (r.status) {
    case audit::VerifyStatus::ok: return kAuditExitOk;
    case audit::VerifyStatus::torn_tail: return kAuditExitTornTail;
    case audit::VerifyStatus::io_error: return kAuditExitUsage;
    case audit::VerifyStatus::tampered:
    case audit::VerifyStatus::bad_signature:
    case audit::VerifyStatus::truncated: break;
  }
  return kAuditExitFailed;
}

std::string json_string(std::string_view s) {
  std::string out;
  audit::append_json_string(out, s);
  return out;
}

void print_json(std::ostream& out, const audit::VerifyResult& r) {
  out << "{\"status\":" << json_string(status_word(r.status))
      << ",\"intact\":" << (r.intact() ? "true" : "false") << ",\"files\":" << r.files
      << ",\"records\":" << r.records << ",\"checkpoints\":" << r.checkpoints
      << ",\"signatures_verified\":" << r.signatures_verified
      << ",\"checkpoint_file_entries\":" << r.checkpoint_file_entries
      << ",\"last_seq\":" << r.last_seq << ",\"head_hash\":" << json_string(r.head_hash);
  if (!r.ok()) {
    out << ",\"file\":" << json_string(r.file) << ",\"line\":" << r.line << ",\"seq\":" << r.seq
        << ",\"message\":" << json_string(r.message);
  }
  out << "}\n";
}

// Whether the directory has (or the caller named) a checkpoint file.
bool has_checkpoint_file(const fs::path& dir, const Args& a) {
  if (a.checkpoints) return true;
  std::error_code ec;
  return fs::exists(dir / audit::kCheckpointFileName, ec);
}

// Warnings about what this run could not check.
void print_coverage_notes(std::ostream& err, const fs::path& dir, const Args& a,
                          const audit::VerifyResult& r) {
  if (!r.intact()) return;
  if (!a.pubkey && r.checkpoints > 0) {
    err << "note: checkpoint signatures were not verified (give --pubkey)\n";
  }
  if (!has_checkpoint_file(dir, a)) {
    err << "note: no checkpoint file: truncation of the log's tail cannot be detected\n";
  }
}

StoreArgs store_args(const Args& a) {
  StoreArgs s;
  s.conninfo = a.postgres.value_or("");
  s.password_file = a.password_file;
  s.instance = a.instance;
  s.pubkey = a.pubkey;
  s.shipper_role = a.shipper_role;
  s.shipper_password_file = a.shipper_password_file;
  s.reader_role = a.reader_role;
  s.schema_version = a.schema_version;
  return s;
}

// Options that only make sense with --postgres, or never with it.
bool check_store_options(const std::string& cmd, const Args& a, std::ostream& err) {
  if (!a.postgres) {
    for (const auto* o : {&a.password_file, &a.instance}) {
      if (*o) {
        err << "segproxyctl audit " << cmd << ": --password-file and --instance need --postgres\n";
        return false;
      }
    }
    if (cmd == "verify" && a.since) {
      err << "segproxyctl audit verify: --since needs --postgres (a directory is verified whole)\n";
      return false;
    }
    return true;
  }
  if (!a.positional.empty() || a.checkpoints) {
    err << "segproxyctl audit " << cmd << ": --postgres reads the store: no DIR and no --checkpoints\n";
    return false;
  }
  if (a.postgres->empty() || (a.instance && a.instance->empty())) {
    err << "segproxyctl audit " << cmd << ": --postgres and --instance need a value\n";
    return false;
  }
  return true;
}

int cmd_verify(const Args& a, std::ostream& out, std::ostream& err) {
  if (!check_store_options("verify", a, err)) return kAuditExitUsage;
  if (a.postgres) {
    std::optional<time_point> since;
    std::string why;
    if (a.since && !(since = parse_time_arg(*a.since, why))) {
      err << "segproxyctl audit verify: --since " << why << "\n";
      return kAuditExitUsage;
    }
    return audit_store_verify(store_args(a), since, a.json, out, err);
  }
  if (a.positional.size() != 1) {
    err << "segproxyctl audit verify: needs exactly one DIR argument\n";
    usage(err);
    return kAuditExitUsage;
  }
  const fs::path dir = a.positional[0];
  const audit::VerifyResult r = audit::verify(dir, opt_path(a.pubkey), opt_path(a.checkpoints));
  if (a.json) {
    print_json(out, r);
  } else {
    out << r.summary() << "\n";
    if (r.ok() && !r.head_hash.empty()) out << "head: seq " << r.last_seq << " hash " << r.head_hash << "\n";
    print_coverage_notes(err, dir, a, r);
  }
  return exit_code(r);
}

int cmd_export(const Args& a, std::ostream& out, std::ostream& err) {
  if (!check_store_options("export", a, err)) return kAuditExitUsage;
  if (!a.postgres && a.positional.size() != 1) {
    err << "segproxyctl audit export: needs exactly one DIR argument\n";
    usage(err);
    return kAuditExitUsage;
  }
  audit::ExportOptions opts;
  if (a.format) {
    const auto f = audit::parse_export_format(*a.format);
    if (!f) {
      err << "segproxyctl audit export: invalid --format " << *a.format << " (jsonl, csv, ocsf or raw)\n";
      return kAuditExitUsage;
    }
    opts.format = *f;
  }
  const auto time_arg = [&](const std::optional<std::string>& v, const char* name,
                            std::optional<time_point>& into) {
    if (!v) return true;
    std::string why;
    into = parse_time_arg(*v, why);
    if (!into) err << "segproxyctl audit export: " << name << " " << why << "\n";
    return into.has_value();
  };
  if (!time_arg(a.since, "--since", opts.filter.since) || !time_arg(a.until, "--until", opts.filter.until)) {
    return kAuditExitUsage;
  }
  if (opts.filter.since && opts.filter.until && *opts.filter.since >= *opts.filter.until) {
    err << "segproxyctl audit export: --since must be before --until\n";
    return kAuditExitUsage;
  }
  for (const auto* v : {&a.identity, &a.segment, &a.event}) {
    if (*v && (*v)->empty()) {
      err << "segproxyctl audit export: filter values must not be empty\n";
      return kAuditExitUsage;
    }
  }
  opts.filter.identity = a.identity.value_or("");
  opts.filter.segment = a.segment.value_or("");
  opts.filter.event = a.event.value_or("");
  opts.verify = !a.no_verify;
  opts.public_key = opt_path(a.pubkey);
  opts.checkpoints = opt_path(a.checkpoints);
  if (a.postgres) return audit_store_export(store_args(a), opts, out, err);
  const fs::path dir = a.positional[0];
  const audit::ExportResult res = audit::export_log(dir, out, opts);
  out.flush();
  const audit::VerifyResult& v = res.verification;
  if (!res.ok()) {
    err << "segproxyctl audit export: " << (a.no_verify ? "read failed: " : "verification failed: ")
        << v.summary() << "\n"
        << "segproxyctl audit export: the " << res.exported
        << " record(s) written before the problem must not be trusted as a complete export\n";
    return v.status == audit::VerifyStatus::io_error ? kAuditExitUsage : kAuditExitFailed;
  }
  if (v.status == audit::VerifyStatus::torn_tail) err << "warning: " << v.summary() << "\n";
  if (a.no_verify) err << "note: the hash chain was not verified (--no-verify)\n";
  else print_coverage_notes(err, dir, a, v);
  if (res.unresolved != 0)
    err << "warning: " << res.unresolved
        << " record(s) could not be made self-contained (their session.open or same_as record is not in the"
           " files read): exported as logged\n";
  err << "exported " << res.exported << " of " << v.records << " record(s)\n";
  return kAuditExitOk;
}

// Creates `path` exclusively with exactly `mode` and writes `data` durably.
bool write_new_file(const fs::path& path, const std::string& data, mode_t mode, std::string& error) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    error = path.string() + ": " + std::strerror(errno);
    return false;
  }
  bool ok = ::fchmod(fd, mode) == 0;  // exactly `mode`, whatever the umask
  std::size_t done = 0;
  while (ok && done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) ok = false;
    else done += static_cast<std::size_t>(n);
  }
  ok = ok && ::fsync(fd) == 0;
  if (!ok) error = path.string() + ": " + std::strerror(errno);
  if (::close(fd) != 0 && ok) {
    error = path.string() + ": " + std::strerror(errno);
    ok = false;
  }
  if (!ok) ::unlink(path.c_str());
  return ok;
}

int cmd_keygen(const Args& a, std::ostream& out, std::ostream& err) {
  if (!a.out || a.out->empty() || !a.positional.empty()) {
    err << "segproxyctl audit keygen: needs --out FILE and no other argument\n";
    usage(err);
    return kAuditExitUsage;
  }
  const fs::path priv = *a.out;
  const fs::path pub = priv.string() + ".pub";
  std::error_code ec;
  for (const auto& p : {priv, pub}) {
    if (fs::exists(fs::symlink_status(p, ec))) {
      err << "segproxyctl audit keygen: " << p.string() << " already exists (not overwritten)\n";
      return kAuditExitUsage;
    }
  }
  audit::Ed25519PemPair pair;
  std::string key_id, error;
  try {
    pair = audit::generate_ed25519_pem();
    const auto signer = audit::CheckpointSigner::from_pem(pair.private_pem, error);
    if (!signer) throw std::runtime_error(error);
    key_id = signer->key_id();
  } catch (const std::exception& e) {
    err << "segproxyctl audit keygen: " << e.what() << "\n";
    return kAuditExitUsage;
  }
  if (!write_new_file(priv, pair.private_pem, 0600, error)) {
    err << "segproxyctl audit keygen: " << error << "\n";
    return kAuditExitUsage;
  }
  if (!write_new_file(pub, pair.public_pem, 0644, error)) {
    ::unlink(priv.c_str());
    err << "segproxyctl audit keygen: " << error << "\n";
    return kAuditExitUsage;
  }
  out << "wrote " << priv.string() << " (Ed25519 private key, 0600) and " << pub.string()
      << " (public key)\n"
      << "key_id: " << key_id << "\n"
      << "proxy:  audit.signing_key: " << priv.string() << "\n"
      << "verify: segproxyctl audit verify DIR --pubkey " << pub.string() << "\n";
  return kAuditExitOk;
}

}  // namespace

int run_audit(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    usage(args.empty() ? err : out);
    return args.empty() ? kAuditExitUsage : kAuditExitOk;
  }
  const std::string& cmd = args[0];
  if (cmd != "verify" && cmd != "export" && cmd != "keygen" && cmd != "store") {
    err << "segproxyctl audit: unknown subcommand " << cmd << "\n";
    usage(err);
    return kAuditExitUsage;
  }
  Args a;
  if (!parse_args(args, a, err)) {
    usage(err);
    return kAuditExitUsage;
  }
  if (cmd == "store") {
    if (a.positional.size() != 1 || a.positional[0] != "init" || !a.postgres || a.postgres->empty()) {
      err << "segproxyctl audit store: usage: audit store init --postgres CONNINFO [options]\n";
      usage(err);
      return kAuditExitUsage;
    }
    return audit_store_init(store_args(a), out, err);
  }
  if (cmd == "verify") return cmd_verify(a, out, err);
  if (cmd == "export") return cmd_export(a, out, err);
  return cmd_keygen(a, out, err);
}

}  // namespace segproxy::proxy::ctl
