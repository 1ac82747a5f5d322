// config::AuditSettings -> audit::AuditConfig (see audit_setup.hpp).
#include "daemon/audit_setup.hpp"

#include "daemon/metrics/proxy_metrics.hpp"

#include <unistd.h>

#include <climits>
#include <stdexcept>

namespace segproxy::proxy {
namespace {

class MetricsAuditObserver final : public audit::SinkObserver {
 public:
  explicit MetricsAuditObserver(ProxyMetrics& m) : m_(m) {}
  void committed(std::size_t records, double write_seconds, double sync_seconds) override {
    m_.audit_records_written().inc(records);
    m_.audit_write_duration().observe(write_seconds);
    if (sync_seconds >= 0) m_.audit_fsync_duration().observe(sync_seconds);
  }
  void failed(const char* what) override {
    const std::string w = what;
    AuditFailureReason r = AuditFailureReason::Other;
    if (w.find("fdatasync") != std::string::npos || w.find("fsync") != std::string::npos) r = AuditFailureReason::Fsync;
    else if (w.find("write") != std::string::npos) r = AuditFailureReason::Write;
    else if (w.find("rotat") != std::string::npos || w.find("open") != std::string::npos) r = AuditFailureReason::Rotate;
    else if (w.find("checkpoint") != std::string::npos) r = AuditFailureReason::Checkpoint;
    m_.audit_failures(r).inc();
  }
  void queue_full() override { m_.audit_failures(AuditFailureReason::QueueFull).inc(); }

 private:
  ProxyMetrics& m_;
};

}  // namespace

std::shared_ptr<audit::SinkObserver> make_audit_observer(ProxyMetrics& metrics) {
  return std::make_shared<MetricsAuditObserver>(metrics);
}

namespace {

[[noreturn]] void bad(const char* key, const std::string& value) {
  throw std::invalid_argument(std::string("audit.") + key + ": invalid value \"" + value + "\"");
}

audit::Durability durability(const std::string& v) {
  if (v == "group") return audit::Durability::group;
  if (v == "fsync_each") return audit::Durability::fsync_each;
  if (v == "interval") return audit::Durability::interval;
  bad("durability", v);
}

audit::OnFailure on_failure(const std::string& v) {
  if (v == "fail_closed") return audit::OnFailure::fail_closed;
  if (v == "fail_open") return audit::OnFailure::fail_open;
  bad("on_failure", v);
}

audit::StatementText statement_text(const std::string& v) {
  if (v == "normalized") return audit::StatementText::normalized;
  if (v == "full") return audit::StatementText::full;
  if (v == "none") return audit::StatementText::none;
  bad("statement_text", v);
}

}  // namespace

std::string host_name() {
  char buf[HOST_NAME_MAX + 1] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "segproxy";
  return buf;
}

audit::AuditConfig to_audit_config(const config::AuditSettings& s) {
  audit::AuditConfig c;
  c.dir = s.dir;
  c.durability = durability(s.durability);
  c.sync_interval = s.sync_interval;
  c.on_failure = on_failure(s.on_failure);
  c.statement_text = statement_text(s.statement_text);
  c.checkpoint_every_records = s.checkpoint_every_records;
  c.checkpoint_every = s.checkpoint_every;
  c.rotate_size = s.rotate_size;
  c.rotate_every = s.rotate_every;
  c.signing_key = s.signing_key;
  c.max_queue = s.max_queue;
  c.max_statement_text = s.max_statement_text;
  c.max_wait = s.max_wait;
  c.group_delay = s.group_delay;
  c.instance = s.instance.empty() ? host_name() : s.instance;
  return c;  // retry_every keeps the library default
}

}  // namespace segproxy::proxy
