// segproxyctl audit store init / verify --postgres / export --postgres (see audit_store.hpp).
#include "ctl/audit_store.hpp"

#include <fstream>
#include <sstream>

#include "audit/record_codec.hpp"
#include "audit/store/store_connection.hpp"
#include "audit/store/store_reader.hpp"
#include "audit/store/store_schema.hpp"
#include "ctl/audit.hpp"

namespace segproxy::proxy::ctl {
namespace {

namespace st = audit::store;

constexpr std::size_t kMaxPasswordFile = 4096;

// A password file: the whole file, one trailing newline stripped, at most 4 KiB.
bool read_password(const std::string& path, std::string& out, std::string& why) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    why = "cannot read " + path;
    return false;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  if (out.size() > kMaxPasswordFile) {
    why = path + " is larger than 4 KiB";
    return false;
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  if (!out.empty() && out.back() == '\r') out.pop_back();
  if (out.empty()) {
    why = path + " is empty";
    return false;
  }
  return true;
}

st::PgConn open_store(const StoreArgs& a, std::ostream& err, const char* cmd) {
  std::optional<std::string> password;
  std::string why;
  if (a.password_file) {
    std::string p;
    if (!read_password(*a.password_file, p, why)) {
      err << "segproxyctl audit " << cmd << ": --password-file: " << why << "\n";
      return nullptr;
    }
    password = std::move(p);
  }
  st::PgConn c = st::connect_conninfo(a.conninfo, password, why);
  if (!c) err << "segproxyctl audit " << cmd << ": cannot connect to the store: " << why << "\n";
  return c;
}

std::string json_string(std::string_view s) {
  std::string out;
  audit::append_json_string(out, s);
  return out;
}

int exit_code(audit::VerifyStatus s) {
  switch (s) {
    case audit::VerifyStatus::ok: return kAuditExitOk;
    case audit::VerifyStatus::torn_tail: return kAuditExitTornTail;
    case audit::VerifyStatus::io_error: return kAuditExitUsage;
    default: return kAuditExitFailed;
  }
}

}  // namespace

int audit_store_init(const StoreArgs& a, std::ostream& out, std::ostream& err) {
  st::InitOptions opts;
  if (a.shipper_role) opts.shipper_role = *a.shipper_role;
  if (a.reader_role) opts.reader_role = *a.reader_role;
  if (a.schema_version) {
    const std::string& v = *a.schema_version;
    // Checked before connecting: a version this segproxyctl does not know is a usage error.
    if (v.empty() || v.size() > 3 || v.find_first_not_of("0123456789") != std::string::npos || std::stoi(v) < 1 ||
        std::stoi(v) > st::kSchemaVersion) {
      err << "segproxyctl audit store init: --schema-version: a number from 1 to " << st::kSchemaVersion << "\n";
      return kAuditExitUsage;
    }
    opts.schema_version = std::stoi(v);
  }
  if (a.shipper_password_file) {
    std::string p, why;
    if (!read_password(*a.shipper_password_file, p, why)) {
      err << "segproxyctl audit store init: --shipper-password-file: " << why << "\n";
      return kAuditExitUsage;
    }
    opts.shipper_password = std::move(p);
  }
  auto c = open_store(a, err, "store init");
  if (!c) return kAuditExitUsage;
  st::InitReport report;
  std::string why;
  if (!st::init_store(c.get(), opts, report, why)) {
    err << "segproxyctl audit store init: " << why << " (nothing was changed)\n";
    return kAuditExitUsage;
  }
  for (const auto& line : report.actions) out << line << "\n";
  out << "schema version " << report.to_version
      << (report.from_version == report.to_version ? " (already current)" : "") << "\n";
  return kAuditExitOk;
}

int audit_store_verify(const StoreArgs& a, std::optional<std::chrono::system_clock::time_point> since, bool json,
                       std::ostream& out, std::ostream& err) {
  std::unique_ptr<audit::CheckpointVerifier> key;
  if (a.pubkey) {
    std::string why;
    key = audit::CheckpointVerifier::load(*a.pubkey, why);
    if (!key) {
      err << "segproxyctl audit verify: " << why << "\n";
      return kAuditExitUsage;
    }
  }
  auto c = open_store(a, err, "verify");
  if (!c) return kAuditExitUsage;
  std::vector<std::string> names;
  std::string why;
  if (a.instance) {
    names.push_back(*a.instance);
  } else if (auto all = st::store_instances(c.get(), why)) {
    names = std::move(*all);
  } else {
    err << "segproxyctl audit verify: " << why << "\n";
    return kAuditExitUsage;
  }
  if (names.empty()) {
    err << "segproxyctl audit verify: the store holds no records\n";
    return kAuditExitUsage;
  }
  int worst = kAuditExitOk;
  std::uint64_t checkpoints = 0;
  for (const auto& name : names) {
    st::StoreReader reader(c.get(), name, since, key.get());
    audit::AuditRecord r;
    std::string_view line;
    while (reader.next(r, line)) {
    }
    const audit::VerifyResult& v = reader.result();
    checkpoints += v.checkpoints;
    if (json) {
      out << "{\"instance\":" << json_string(name) << ",\"status\":" << json_string(audit::to_string(v.status))
          << ",\"intact\":" << (v.intact() ? "true" : "false") << ",\"records\":" << v.records
          << ",\"checkpoints\":" << v.checkpoints << ",\"signatures_verified\":" << v.signatures_verified
          << ",\"last_seq\":" << v.last_seq << ",\"head_hash\":" << json_string(v.head_hash);
      if (!v.ok()) out << ",\"seq\":" << v.seq << ",\"message\":" << json_string(v.message);
      out << "}\n";
    } else {
      out << st::store_summary(name, v) << "\n";
    }
    const int code = exit_code(v.status);
    if (code == kAuditExitFailed || (code == kAuditExitUsage && worst != kAuditExitFailed)) worst = code;
  }
  if (!json && worst == kAuditExitOk) {
    if (!a.pubkey && checkpoints > 0) err << "note: checkpoint signatures were not verified (give --pubkey)\n";
    err << "note: rows removed from the tail of an instance cannot be seen in the store alone: compare each "
           "instance's last seq with its own log (segproxyctl audit verify DIR)\n";
  }
  return worst;
}

int audit_store_export(const StoreArgs& a, const audit::ExportOptions& opts, std::ostream& out, std::ostream& err) {
  std::unique_ptr<audit::CheckpointVerifier> key;
  if (opts.public_key) {
    std::string why;
    key = audit::CheckpointVerifier::load(*opts.public_key, why);
    if (!key) {
      err << "segproxyctl audit export: " << why << "\n";
      return kAuditExitUsage;
    }
  }
  auto c = open_store(a, err, "export");
  if (!c) return kAuditExitUsage;
  std::vector<std::string> names;
  if (a.instance) names.push_back(*a.instance);
  const st::StoreExportResult res = st::export_store(c.get(), names, out, opts, key.get());
  out.flush();
  if (!res.error.empty()) {
    err << "segproxyctl audit export: " << res.error << "\n";
    return kAuditExitUsage;
  }
  for (const auto& [name, v] : res.instances) {
    if (!v.intact()) {
      err << "segproxyctl audit export: verification failed: " << st::store_summary(name, v) << "\n"
          << "segproxyctl audit export: the " << res.exported
          << " record(s) written before the problem must not be trusted as a complete export\n";
      return exit_code(v.status);
    }
  }
  if (!opts.verify) err << "note: the hash chain was not verified (--no-verify)\n";
  err << "exported " << res.exported << " record(s) of " << res.instances.size() << " instance(s)\n";
  return kAuditExitOk;
}

}  // namespace segproxy::proxy::ctl
