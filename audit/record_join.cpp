#include "audit/record_join.hpp"

#include "audit/record_codec.hpp"

namespace segproxy::audit {
namespace {

bool fill(std::string& field, const std::string& from) {
  if (!field.empty() || from.empty()) return false;
  field = from;
  return true;
}

// A record written in the compact form: no session field but (for MySQL statements) the
// database. Records that carry session fields (older logs, synthetic ones) are
// self-contained already and are left alone.
bool is_compact(const AuditRecord& r) {
  return r.listener.empty() && r.protocol.empty() && r.client_addr.empty() && r.spiffe_id.empty() &&
         r.cn.empty() && r.cert_sha256.empty() && r.cert_serial.empty() && r.segment.empty() &&
         r.backend_user.empty();
}

}  // namespace

void copy_statement_fields(const AuditRecord& from, AuditRecord& to) {
  to.statement = from.statement;
  to.statement_length = from.statement_length;
  to.statement_sha256 = from.statement_sha256;
  to.fingerprint = from.fingerprint;
  to.tables = from.tables;
  to.decision = from.decision;
  to.rule_id = from.rule_id;
  to.reason = from.reason;
  to.shadow_decision = from.shadow_decision;
  to.shadow_rule = from.shadow_rule;
  to.grant_id = from.grant_id;
}

bool RecordJoiner::join(AuditRecord& r, const Lookup& lookup) {
  bool changed = false;
  if (r.event == "audit.start") sessions_.clear();  // a (re)started writer: earlier sessions ended
  if (r.same_as) {
    std::optional<std::string_view> line = lookup ? lookup(*r.same_as) : std::nullopt;
    std::string err;
    std::optional<AuditRecord> target = line ? decode_record(*line, err) : std::nullopt;
    if (target && target->seq == *r.same_as && !target->same_as) {
      copy_statement_fields(*target, r);
      changed = true;
    } else {
      ++unresolved_;
    }
  }
  if (r.session_id.empty()) return changed;
  if (r.event == "session.open") {
    if (sessions_.size() < max_sessions_ || sessions_.count(r.session_id)) {
      sessions_[r.session_id] = Session{r.listener,    r.protocol, r.client_addr, r.spiffe_id, r.cn,
                                        r.cert_sha256, r.cert_serial, r.segment, r.database, r.backend_user};
    }
    return changed;
  }
  if (r.event.rfind("statement.", 0) != 0 && r.event != "session.close" && r.event != "session.revoked")
    return changed;
  auto it = sessions_.find(r.session_id);
  if (!is_compact(r)) {
    if (r.event == "session.close" && it != sessions_.end()) sessions_.erase(it);
    return changed;
  }
  if (it == sessions_.end()) {
    ++unresolved_;
    return changed;
  }
  const Session& s = it->second;
  changed |= fill(r.listener, s.listener);
  changed |= fill(r.protocol, s.protocol);
  changed |= fill(r.client_addr, s.client_addr);
  changed |= fill(r.spiffe_id, s.spiffe_id);
  changed |= fill(r.cn, s.cn);
  changed |= fill(r.cert_sha256, s.cert_sha256);
  changed |= fill(r.cert_serial, s.cert_serial);
  changed |= fill(r.segment, s.segment);
  changed |= fill(r.database, s.database);
  changed |= fill(r.backend_user, s.backend_user);
  if (r.event == "session.close") sessions_.erase(it);
  return changed;
}

}  // namespace segproxy::audit
