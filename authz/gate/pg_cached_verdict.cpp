#include "authz/gate/pg_cached_verdict.hpp"

#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>

namespace segproxy::proxy {

namespace {
enum Flag : std::uint16_t {
  kAllow = 1u << 0,
  kShadowDeny = 1u << 1,
  kAbsolute = 1u << 2,
  kDdl = 1u << 3,
  kEndsTransaction = 1u << 4,
  kChangesLexing = 1u << 5,
  kTransactionControl = 1u << 6,
  kClassEndsTransactionOnly = 1u << 7,
  kClassTransactionControl = 1u << 8,
};

// The strings of a verdict in their packed order (the tables' name / op pairs follow).
// One list for packing and unpacking, so the two cannot disagree.
template <class V, class F>
void for_each_string(V& v, F&& f) {
  f(v.decision.rule_id);
  f(v.decision.reason);
  f(v.decision.sqlstate);
  f(v.decision.shadow_rule);
  f(v.decision.shadow_reason);
  f(v.decision.grant_id);
  f(v.command);
  f(v.audit_text);
  f(v.write_class.reason);
}

std::uint32_t checked_length(std::size_t n) {
  // Strings come from a cached statement (at most 16 KiB of text) and the policy.
  if (n > UINT32_MAX) throw std::length_error("CachedPgVerdict: string too long");
  return static_cast<std::uint32_t>(n);
}
}  // namespace

CachedPgVerdict::CachedPgVerdict(const GateVerdict& v)
    : fingerprint_(v.fingerprint), tables_(checked_length(v.tables.size())), klass_(v.write_class.klass) {
  if (!packable(v)) throw std::logic_error("CachedPgVerdict: a verdict with PREPARE / DECLARE effects");
  const auto flag = [&](bool on, Flag f) {
    if (on) flags_ = static_cast<std::uint16_t>(flags_ | f);
  };
  flag(v.decision.allow, kAllow);
  flag(v.decision.shadow_deny, kShadowDeny);
  flag(v.decision.absolute, kAbsolute);
  flag(v.ddl, kDdl);
  flag(v.ends_transaction, kEndsTransaction);
  flag(v.changes_lexing, kChangesLexing);
  flag(v.transaction_control, kTransactionControl);
  flag(v.write_class.ends_transaction_only, kClassEndsTransactionOnly);
  flag(v.write_class.transaction_control, kClassTransactionControl);

  std::size_t total = 0;
  const auto measure = [&](const std::string& s) { total += sizeof(std::uint32_t) + s.size(); };
  for_each_string(v, measure);
  for (const auto& t : v.tables) {
    measure(t.name);
    measure(t.op);
  }
  strings_ = std::make_unique_for_overwrite<char[]>(total);
  char* out = strings_.get();
  const auto put = [&](const std::string& s) {
    const std::uint32_t n = checked_length(s.size());
    std::memcpy(out, &n, sizeof n);
    out += sizeof n;
    std::memcpy(out, s.data(), s.size());
    out += s.size();
  };
  for_each_string(v, put);
  for (const auto& t : v.tables) {
    put(t.name);
    put(t.op);
  }
}

GateVerdict CachedPgVerdict::unpack() const {
  GateVerdict v;
  unpack_into(v);
  return v;
}

void CachedPgVerdict::unpack_into(GateVerdict& v) const {
  const char* in = strings_.get();
  const auto get = [&](std::string& s) {
    std::uint32_t n = 0;
    std::memcpy(&n, in, sizeof n);
    in += sizeof n;
    s.assign(in, n);  // within the capacity it has: no allocation
    in += n;
  };
  for_each_string(v, get);
  v.tables.resize(tables_);
  for (auto& t : v.tables) {
    get(t.name);
    get(t.op);
  }
  v.decision.allow = (flags_ & kAllow) != 0;
  v.decision.shadow_deny = (flags_ & kShadowDeny) != 0;
  v.decision.absolute = (flags_ & kAbsolute) != 0;
  v.ddl = (flags_ & kDdl) != 0;
  v.ends_transaction = (flags_ & kEndsTransaction) != 0;
  v.changes_lexing = (flags_ & kChangesLexing) != 0;
  v.transaction_control = (flags_ & kTransactionControl) != 0;
  v.fingerprint = fingerprint_;
  v.write_class.klass = klass_;
  v.write_class.ends_transaction_only = (flags_ & kClassEndsTransactionOnly) != 0;
  v.write_class.transaction_control = (flags_ & kClassTransactionControl) != 0;
  // Never packed (packable()): empty in every cached verdict.
  v.wal_prepares.clear();
  v.wal_cursors.clear();
  v.wal_deallocates.clear();
  v.wal_deallocates_all = false;
}

}  // namespace segproxy::proxy
