// The write-ahead forwarding rule in a PostgreSQL session (issue 14; docs/audit.md "The
// guarantee"): every judged client message goes through one authz::wal::Forwarding,
// whose actions the session executes in order (Forward, Flush, Refuse, Cancel, Discard,
// ForwardCancel). Backend bytes reach the client only once the records of everything
// forwarded before they were read are durable (answer_ready). Records are numbered by
// the session's ledger (pg_wal_ledger.hpp), waits go through the thread's AuditWaiter.
#include <algorithm>
#include <utility>

#include "protocols/pg/encoder.hpp"
#include "daemon/net/backend_connector.hpp"
#include "daemon/pg/pg_deny.hpp"
#include "daemon/pg/pg_session.hpp"
#include "daemon/session/audit_waiter.hpp"

namespace segproxy::proxy {
namespace pg = protocols::pg;
namespace wal = authz::wal;

namespace {
constexpr const char* kAuditRefusal = "segproxy: the audit log cannot record this statement, so it was not run";
constexpr const char* kCancelled = "canceling statement due to user request";
constexpr std::size_t kMaxWalNames = 1024;  // remembered names per map; beyond: unknown (escaping)

std::uint64_t now_ms() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

bool extended(wal::MessageKind k) { return k == wal::MessageKind::PgExtended || k == wal::MessageKind::PgExecute; }

// A name defined again folds into the strictest class (the backend may keep the old one:
// a second PREPARE / DECLARE of a name fails there).
void remember(std::map<std::string, wal::MessageClass, std::less<>>& map, std::string name,
              const wal::MessageClass& c) {
  auto it = map.find(name);
  if (it != map.end()) {
    it->second.add(c);
    return;
  }
  if (map.size() >= kMaxWalNames) return;  // unknown later: escaping
  map.emplace(std::move(name), c);
}
}  // namespace

void PgSession::wal_start() {
  const auto& a = rt_->config.audit;
  wal_gated_ = svc_.audit != nullptr && svc_.audit_waiter != nullptr && a &&
               (a->durability == "group" || a->durability == "fsync_each") && a->on_failure == "fail_closed";
  if (const auto* pol = rt_->policy->policy(segment_)) wal_ctx_.default_schema = pol->default_schema;
  wal_ctx_.prepared = &wal_sql_prepared_;
  wal_ctx_.cursors = &wal_cursors_;
}

const wal::ClassContext& PgSession::wal_context() {
  // THE place the WalCatalog enters the PostgreSQL session: the catalog the loader
  // published for this listener and database (daemon/catalog/wal_catalogs.hpp: relation
  // kinds, triggers, rules, policies, defaults, user-defined function and operator names).
  // Without one nothing relational is proven read-only and nothing is contained (every
  // write waits for its own record or for all of them).
  // The reader copies the slot's view only when a loader published into it (adopt()
  // resets it for a reloaded rt_); it keeps that view alive, and wal_ctx_ points into it.
  const auto listener = static_cast<std::size_t>(listener_ - rt_->listeners.data());
  const WalCatalogView& view = wal_catalog_.view(rt_->wal_catalogs, listener, database_);
  const wal::WalCatalog* catalog = view.catalog.get();
  // Not trusted while a DDL let through is not yet committed or rolled back, nor when the
  // catalog's load began before this session's last DDL ended.
  const bool current = !ddl_pending_ && view.current_after(last_ddl_);
  if (catalog != wal_ctx_.catalog || current != wal_ctx_.catalog_current) {
    wal_ctx_.catalog = catalog;
    wal_ctx_.catalog_current = current;
    gate_->wal_context_changed();  // cached verdicts carry classes of the old context
  }
  return wal_ctx_;
}

void PgSession::wal_remember(const GateVerdict& v) {
  for (const auto& [name, c] : v.wal_prepares) {
    wal_defined(name, false);
    remember(wal_sql_prepared_, name, c);
  }
  for (const auto& [name, c] : v.wal_cursors) remember(wal_cursors_, name, c);
}

void PgSession::wal_forget_later(const pg::Close& close) {
  if (wal_forgets_.size() >= kMaxWalNames) return;  // bounded: the name stays (folded classes, stricter)
  WalForget f;
  f.kind = close.target == 'S' ? WalForget::Kind::Statement : WalForget::Kind::Portal;
  f.name.assign(close.name);
  f.request = wal_batch_ + 1;  // the Sync (or Query) that ends this batch
  wal_forgets_.push_back(std::move(f));
}

void PgSession::wal_forget_later(const GateVerdict& v) {
  if (!v.wal_deallocates_all && v.wal_deallocates.empty()) return;
  // A text that also PREPAREs: its order is not followed here, so nothing it names (or,
  // for ALL, nothing at all) is forgotten; the tables keep folded classes (stricter).
  const auto prepared_here = [&](const std::string& name) {
    return std::any_of(v.wal_prepares.begin(), v.wal_prepares.end(), [&](const auto& p) { return p.first == name; });
  };
  const std::uint64_t request = wal_batch_ + 1;  // this Query's ReadyForQuery
  if (wal_forgets_.size() + v.wal_deallocates.size() > kMaxWalNames) return;  // bounded, as above
  if (v.wal_deallocates_all) {
    if (!v.wal_prepares.empty()) return;
    WalForget f;
    f.kind = WalForget::Kind::AllPrepared;
    f.request = request;
    wal_forgets_.push_back(std::move(f));
    return;
  }
  for (const std::string& name : v.wal_deallocates) {
    if (prepared_here(name)) continue;
    WalForget f;
    f.kind = WalForget::Kind::Prepared;
    f.name = name;
    f.request = request;
    wal_forgets_.push_back(std::move(f));
  }
}

void PgSession::wal_defined(std::string_view name, bool portal) {
  if (wal_forgets_.empty()) return;
  for (auto it = wal_forgets_.begin(); it != wal_forgets_.end();) {
    const bool same_namespace = portal ? it->kind == WalForget::Kind::Portal : it->kind != WalForget::Kind::Portal;
    if (same_namespace && it->kind == WalForget::Kind::AllPrepared) {
      if (it->keep.size() >= kMaxWalNames) {
        it = wal_forgets_.erase(it);  // bounded: nothing is forgotten by it
        continue;
      }
      it->keep.emplace_back(name);
      ++it;
    } else if (same_namespace && it->name == name) {
      it = wal_forgets_.erase(it);
    } else {
      ++it;
    }
  }
}

void PgSession::wal_settle_forgets() {
  const std::uint64_t answered = ++wal_answered_;
  const bool failed = std::exchange(wal_request_failed_, false);
  std::size_t done = 0;
  for (; done < wal_forgets_.size() && wal_forgets_[done].request <= answered; ++done) {
    const WalForget& f = wal_forgets_[done];
    if (failed) continue;  // the backend may not have run it: the names stay
    const auto kept = [&](const std::string& name) {
      return std::find(f.keep.begin(), f.keep.end(), name) != f.keep.end();
    };
    switch (f.kind) {
      case WalForget::Kind::Statement:
        if (const auto it = wal_statements_.find(f.name); it != wal_statements_.end()) wal_statements_.erase(it);
        break;
      case WalForget::Kind::Portal:
        if (const auto it = wal_portals_.find(f.name); it != wal_portals_.end()) wal_portals_.erase(it);
        break;
      case WalForget::Kind::Prepared:
        if (const auto it = wal_sql_prepared_.find(f.name); it != wal_sql_prepared_.end()) wal_sql_prepared_.erase(it);
        if (const auto it = wal_statements_.find(f.name); it != wal_statements_.end()) wal_statements_.erase(it);
        break;
      case WalForget::Kind::AllPrepared:
        // Every named prepared statement (the unnamed one is not in the backend's table).
        std::erase_if(wal_sql_prepared_, [&](const auto& kv) { return !kept(kv.first); });
        std::erase_if(wal_statements_, [&](const auto& kv) { return !kv.first.empty() && !kept(kv.first); });
        break;
    }
  }
  wal_forgets_.erase(wal_forgets_.begin(), wal_forgets_.begin() + static_cast<std::ptrdiff_t>(done));
}

// The unnamed statement / portal is replaced by the next Parse / Bind; a named one that
// exists makes the backend refuse the new definition, so the classes fold (strictest).
bool PgSession::wal_remember_statement(std::string_view name, const wal::MessageClass& klass,
                                       std::shared_ptr<audit::AuditRecord> record) {
  wal_defined(name, false);
  auto it = wal_statements_.find(name);
  if (it == wal_statements_.end()) {
    if (wal_statements_.size() >= kMaxWalNames) return false;  // unknown at Bind: escaping
    it = wal_statements_.emplace(std::string(name), WalStatement{}).first;
    it->second.klass = klass;
  } else if (name.empty()) {
    it->second.klass = klass;
  } else {
    it->second.klass.add(klass);
  }
  it->second.record = std::move(record);
  return true;
}

const PgSession::WalStatement* PgSession::wal_statement(std::string_view name) const {
  const auto it = wal_statements_.find(name);
  return it == wal_statements_.end() ? nullptr : &it->second;
}

PgSession::WalPortal* PgSession::wal_bind_portal(const WalStatement* st, std::string_view portal) {
  auto it = wal_portals_.find(portal);
  if (st == nullptr) {
    if (it != wal_portals_.end()) {
      it->second.klass = wal::escaping("portal of an unknown statement");
      it->second.record.reset();
      it->second.unclaimed = false;
    }
    return nullptr;
  }
  wal_defined(portal, true);
  if (it == wal_portals_.end()) {
    if (wal_portals_.size() >= kMaxWalNames) return nullptr;  // Execute: unknown portal, escaping
    it = wal_portals_.emplace(std::string(portal), WalPortal{}).first;
    it->second.klass = st->klass;
  } else if (portal.empty()) {
    it->second.klass = st->klass;
  } else {
    it->second.klass.add(st->klass);
  }
  it->second.record = st->record;
  it->second.unclaimed = false;
  return &it->second;
}

PgSession::WalPortal* PgSession::wal_portal(std::string_view portal) {
  const auto it = wal_portals_.find(portal);
  return it == wal_portals_.end() ? nullptr : &it->second;
}

PgSession::WalRecord PgSession::wal_execution_record(WalPortal* portal, const authz::Decision& window) {
  if (svc_.audit == nullptr) return {};
  if (portal != nullptr && portal->unclaimed && portal->batch == wal_batch_) {
    // The portal's first Execute of its Bind's batch: recorded by the Bind's record,
    // appended before the Bind went out (the batch would have been refused otherwise).
    portal->unclaimed = false;
    return WalRecord{portal->local, false};
  }
  if (portal != nullptr && portal->record) return audit_append(*portal->record);
  GateVerdict unknown;
  unknown.decision = window;
  unknown.command = "EXECUTE";
  return audit_append(decision_record(unknown, ""));
}

void PgSession::wal_submit(wal::MessageKind kind, const wal::MessageClass& klass, WalRecord rec,
                           std::span<const std::uint8_t> frame, protocols::Bytes* owned) {
  wal_msg_.id = ++wal_next_id_;
  wal_msg_.frame = frame;
  wal_msg_.use_owned = owned != nullptr;
  if (owned != nullptr) wal_msg_.owned = std::move(*owned);
  wal_msg_.record = rec.local;
  wal_msg_.requests_before = wal_batch_;  // its own request_sent comes after this
  if ((kind == wal::MessageKind::PgQuery || kind == wal::MessageKind::PgFunctionCall) && wal_batch_open_) {
    wal_counts_trusted_ = false;  // the backend ignores it if the batch failed there
  }
  wal_msg_.kind = kind;
  wal_msg_.klass = klass.klass;
  wal_msg_.lasting = klass.klass == wal::WriteClass::Escaping || klass.klass == wal::WriteClass::CommitPoint ||
                     klass.transaction_control;
  const std::uint64_t now = now_ms();
  if (!wal_gated_) {
    // interval / fail_open (or no waiter): appended, never awaited; a record the sink
    // refused (fail_closed) still refuses its statement.
    wal::Action a{rec.refused ? wal::ActionKind::Refuse : wal::ActionKind::Forward, wal_msg_.id, 0, false};
    a.abort_transaction = rec.refused && txn_status_ != 'I';
    wal_actions_.push_back(a);
    run_wal_actions();
    return;
  }
  wal::Submission s = wal::Submission::of(wal_msg_.id, kind, klass, rec.local);
  if (!rec.refused && rec.local != 0 && wal_.write_failed() && !wal_replace_.active) {
    // The log takes records again: what needs one waits for it instead of being refused
    // (otherwise, with a newer record always pending, the rule could refuse commit points
    // forever). While answers are replaced it stays failed: nothing waits behind them.
    wal_.on_write_recovered(now, wal_actions_);
  }
  if (rec.refused) {
    // Not recordable: the rule refuses it (it waits for its own record, which failed).
    wal_.on_write_failure(now, wal_actions_);
    s.klass = wal::WriteClass::Escaping;
    s.ends_transaction_only = false;
  }
  wal_.submit(s, now, wal_actions_);
  wal_refresh(true);
  run_wal_actions();
}

void PgSession::wal_refresh(bool ok) {
  if (!wal_gated_) return;
  const std::uint64_t now = now_ms();
  if (!ok) wal_.on_write_failure(now, wal_actions_);
  std::uint64_t requests_before = 0;
  if (!ledger_.advance(*svc_.audit, &requests_before)) {
    wal_answers_failed(requests_before);  // replaced in place (pg_wal_replace.cpp) or FATAL
    if (wal_broken_) return;
  }
  wal_.on_durable(ledger_.settled(), now, wal_actions_);
  wal_.on_timer(now, wal_actions_);
}

void PgSession::run_wal_actions() {
  for (std::size_t i = 0; i < wal_actions_.size(); ++i) {
    const wal::Action a = wal_actions_[i];
    if (a.kind != wal::ActionKind::ForwardCancel && a.id != wal_msg_.id) {
      // At most one message is ever held (client_frames stops reading): cannot happen.
      svc_.log.error("audit.wal_action_unknown_message", {{"session", id_text_}});
      wal_fail_closed();
      continue;
    }
    switch (a.kind) {
      case wal::ActionKind::Forward:
        if (wal_msg_.use_owned) forward_owned(std::move(wal_msg_.owned));
        else forward(wal_msg_.frame);
        wal_msg_.use_owned = false;
        ledger_.forwarded(wal_msg_.record, wal_msg_.requests_before);
        if (wal_msg_.lasting) wal_lasting_request_ = wal_msg_.requests_before + 1;
        if (extended(wal_msg_.kind)) wal_batch_open_ = true;
        break;
      case wal::ActionKind::Flush: wal_flush_ = std::max(wal_flush_, a.record); break;
      case wal::ActionKind::Refuse: refuse_current(a, "58030", kAuditRefusal); break;
      case wal::ActionKind::Cancel: refuse_current(a, "57014", kCancelled); break;
      case wal::ActionKind::Discard: break;  // dropped: its batch already failed
      case wal::ActionKind::ForwardCancel: wal_backend_cancel(); break;
    }
  }
  wal_actions_.clear();
}

// The current message is never forwarded: extended ones fail their batch (discard to
// Sync, whose stand-in raises the error); the others are answered by a Query that raises
// it in order. A refused commit point inside a block rolls the block back first.
void PgSession::refuse_current(const wal::Action& a, const char* sqlstate, const char* message) {
  svc_.log.warn(a.kind == wal::ActionKind::Refuse ? "audit.refused_statement" : "session.held_statement_cancelled",
                {{"session", id_text_}, {"segment", segment_}, {"sqlstate", sqlstate}});
  // The client's own Sync replaced by a Query (a stand-in raise was noted when made).
  const bool replaces_sync = wal_msg_.kind == wal::MessageKind::PgSync && !wal_msg_.use_owned;
  wal_msg_.use_owned = false;
  if (extended(wal_msg_.kind)) {
    advance(State::Relaying, State::Discarding);
    pending_refusal_ = authz::Decision{false, "", message, sqlstate};
    pending_refusal_record_ = WalRecord{};
    return;
  }
  std::string text = pg_raise_statement(sqlstate, message, "");
  if (a.abort_transaction && wal_msg_.klass == wal::WriteClass::CommitPoint && (txn_status_ == 'T' || txn_status_ == 'E'))
    text = "ROLLBACK; " + text;
  protocols::Bytes q;
  pg::encode_frontend(q, pg::Query{std::move(text)});
  forward_owned(std::move(q));
  if (replaces_sync) note_forwarded(pg::Query{});  // a Query stands in for the Sync
}

void PgSession::wal_wake() {
  wal_wake_ = true;
  wal_gate_.cancel();
}

awaitable<void> PgSession::wal_flush_wait(std::shared_ptr<PgSession> self, audit::AuditTicket t) {
  const bool ok = co_await self->svc_.audit_waiter->wait(t);
  self->wal_waiting_ = false;
  if (self->closed()) co_return;
  self->wal_refresh(ok);
  self->wal_wake();
}

awaitable<bool> PgSession::wait_wal_held() {
  for (;;) {
    if (!wal_actions_.empty()) run_wal_actions();
    if (!co_await flush_to_backend()) co_return false;
    if (closed() || wal_broken_) co_return false;
    if (wal_.held() == 0) co_return true;
    if (!wal_waiting_ && wal_flush_ > ledger_.settled()) {
      if (const audit::AuditTicket* t = ledger_.ticket(wal_flush_)) {
        wal_waiting_ = true;
        auto self = shared_from_this();
        const audit::AuditTicket ticket = *t;
        asio::co_spawn(client_->lowest().get_executor(), wal_flush_wait(self, ticket), asio::detached);
      }
    }
    if (!wal_wake_) {
      error_code ignored;
      co_await wal_gate_.async_wait(asio::redirect_error(use_awaitable, ignored));
    }
    wal_wake_ = false;
  }
}

// true: settled up to `need`, or answers are being replaced (the relay then decides per
// request, relay_replacing). false: the session ends.
awaitable<bool> PgSession::answer_ready(std::uint64_t need) {
  while (ledger_.settled() < need && !closed() && !wal_broken_ && !wal_replace_.active) {
    const audit::AuditTicket* t = ledger_.ticket(need);
    if (t == nullptr) break;
    const audit::AuditTicket ticket = *t;
    const bool ok = co_await svc_.audit_waiter->wait(ticket);
    if (closed()) co_return false;
    wal_refresh(ok);
    wal_wake();  // the forwarding may have released a held message
  }
  co_return !closed() && !wal_broken_;
}

// A record of a message that went to the backend failed and its answers cannot be
// replaced in place (pg_wal_replace.cpp says when): its answer (or effect) cannot be
// vouched for. The session ends with FATAL 58030; closing the backend connection rolls
// back its open transaction.
void PgSession::wal_fail_closed() {
  if (wal_broken_) return;
  wal_broken_ = true;
  svc_.log.error("audit.answer_unrecorded", {{"session", id_text_}, {"segment", segment_}});
  close_reason_ = "audit log cannot record a forwarded statement";
  spawn_terminate("58030", "terminating connection: segproxy: the audit log cannot record a statement already sent "
                           "to the server; its transaction is rolled back");
}

void PgSession::wal_backend_cancel() {
  auto target = svc_.cancels.find(backend_pid_, proxy_secret_);
  if (!target) return;
  asio::co_spawn(client_->lowest().get_executor(),
                 send_backend_cancel(target->host, target->port, target->process_id, target->backend_secret,
                                     rt_->config.limits.backend_connect_timeout),
                 asio::detached);
}

void PgSession::cancel_requested() {
  if (closed()) return;
  if (!wal_gated_ || wal_.held() == 0) {
    wal_backend_cancel();
    return;
  }
  wal_.on_cancel(now_ms(), wal_actions_);
  // Executed by wait_wal_held (it owns the batch being written); a ForwardCancel at once.
  for (auto it = wal_actions_.begin(); it != wal_actions_.end();) {
    if (it->kind == wal::ActionKind::ForwardCancel) {
      wal_backend_cancel();
      it = wal_actions_.erase(it);
    } else {
      ++it;
    }
  }
  wal_wake();
}

}  // namespace segproxy::proxy
