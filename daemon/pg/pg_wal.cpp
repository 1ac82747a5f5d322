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
#include "daemon/pg/pg_wal_state.hpp"
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
  // Without an audit sink nothing is recorded: no records to number, wait for or
  // replace, and no names to follow for them (issue 15: no write-ahead state at all).
  if (svc_.audit == nullptr) return;
  wal_state_ = std::make_unique<WalState>(client_->lowest().get_executor(),
                                          static_cast<std::uint64_t>(svc_.audit->max_wait().count()));
  WalState& w = *wal_state_;
  if (const auto* pol = rt_->policy->policy(segment_)) w.ctx.default_schema = pol->default_schema;
  w.ctx.prepared = &w.sql_prepared;
  w.ctx.cursors = &w.cursors;
}

std::size_t PgSession::wal_held() const { return wal_gated_ ? wal_state_->rule.held() : 0; }
bool PgSession::wal_replacing() const { return wal_state_ != nullptr && wal_state_->replace.active; }
std::uint64_t PgSession::wal_settled() const { return wal_gated_ ? wal_state_->ledger.settled() : 0; }
std::uint64_t PgSession::wal_answer_needs() const { return wal_gated_ ? wal_state_->rule.answer_needs() : 0; }

const wal::ClassContext& PgSession::wal_context() {
  // THE place the WalCatalog enters the PostgreSQL session: the catalog the loader
  // published for this listener and database (daemon/catalog/wal_catalogs.hpp: relation
  // kinds, triggers, rules, policies, defaults, user-defined function and operator names).
  // Without one nothing relational is proven read-only and nothing is contained (every
  // write waits for its own record or for all of them).
  // The reader copies the slot's view only when a loader published into it (adopt()
  // resets it for a reloaded rt_); it keeps that view alive, and the context points into it.
  // Called only when gated (so the state exists).
  WalState& w = *wal_state_;
  const auto listener = static_cast<std::size_t>(listener_ - rt_->listeners.data());
  const WalCatalogView& view = w.catalog.view(rt_->wal_catalogs, listener, database_);
  const wal::WalCatalog* catalog = view.catalog.get();
  // Not trusted while a DDL let through is not yet committed or rolled back, nor when the
  // catalog's load began before this session's last DDL ended.
  const bool current = !ddl_pending_ && view.current_after(w.last_ddl);
  if (catalog != w.ctx.catalog || current != w.ctx.catalog_current) {
    w.ctx.catalog = catalog;
    w.ctx.catalog_current = current;
    gate_->wal_context_changed();  // cached verdicts carry classes of the old context
  }
  return w.ctx;
}

void PgSession::wal_remember(const GateVerdict& v) {
  if (!wal_state_) return;
  for (const auto& [name, c] : v.wal_prepares) {
    wal_defined(name, false);
    remember(wal_state_->sql_prepared, name, c);
  }
  for (const auto& [name, c] : v.wal_cursors) remember(wal_state_->cursors, name, c);
}

void PgSession::wal_forget_later(const pg::Close& close) {
  if (!wal_state_) return;
  if (wal_state_->forgets.size() >= kMaxWalNames) return;  // bounded: the name stays (folded classes, stricter)
  WalState::Forget f;
  f.kind = close.target == 'S' ? WalState::Forget::Kind::Statement : WalState::Forget::Kind::Portal;
  f.name.assign(close.name);
  f.request = wal_batch_ + 1;  // the Sync (or Query) that ends this batch
  wal_state_->forgets.push_back(std::move(f));
}

void PgSession::wal_forget_later(const GateVerdict& v) {
  if (!wal_state_) return;
  if (!v.wal_deallocates_all && v.wal_deallocates.empty()) return;
  // A text that also PREPAREs: its order is not followed here, so nothing it names (or,
  // for ALL, nothing at all) is forgotten; the tables keep folded classes (stricter).
  const auto prepared_here = [&](const std::string& name) {
    return std::any_of(v.wal_prepares.begin(), v.wal_prepares.end(), [&](const auto& p) { return p.first == name; });
  };
  const std::uint64_t request = wal_batch_ + 1;  // this Query's ReadyForQuery
  if (wal_state_->forgets.size() + v.wal_deallocates.size() > kMaxWalNames) return;  // bounded, as above
  if (v.wal_deallocates_all) {
    if (!v.wal_prepares.empty()) return;
    WalState::Forget f;
    f.kind = WalState::Forget::Kind::AllPrepared;
    f.request = request;
    wal_state_->forgets.push_back(std::move(f));
    return;
  }
  for (const std::string& name : v.wal_deallocates) {
    if (prepared_here(name)) continue;
    WalState::Forget f;
    f.kind = WalState::Forget::Kind::Prepared;
    f.name = name;
    f.request = request;
    wal_state_->forgets.push_back(std::move(f));
  }
}

void PgSession::wal_defined(std::string_view name, bool portal) {
  if (!wal_state_ || wal_state_->forgets.empty()) return;
  using Kind = WalState::Forget::Kind;
  auto& forgets = wal_state_->forgets;
  for (auto it = forgets.begin(); it != forgets.end();) {
    const bool same_namespace = portal ? it->kind == Kind::Portal : it->kind != Kind::Portal;
    if (same_namespace && it->kind == Kind::AllPrepared) {
      if (it->keep.size() >= kMaxWalNames) {
        it = forgets.erase(it);  // bounded: nothing is forgotten by it
        continue;
      }
      it->keep.emplace_back(name);
      ++it;
    } else if (same_namespace && it->name == name) {
      it = forgets.erase(it);
    } else {
      ++it;
    }
  }
}

void PgSession::wal_settle_forgets() {
  if (!wal_state_) return;
  WalState& w = *wal_state_;
  const std::uint64_t answered = ++w.answered;
  const bool failed = std::exchange(w.request_failed, false);
  const auto erase = [](auto& map, const std::string& name) {
    if (const auto it = map.find(name); it != map.end()) map.erase(it);
  };
  std::size_t done = 0;
  for (; done < w.forgets.size() && w.forgets[done].request <= answered; ++done) {
    const WalState::Forget& f = w.forgets[done];
    if (failed) continue;  // the backend may not have run it: the names stay
    const auto kept = [&](const std::string& name) {
      return std::find(f.keep.begin(), f.keep.end(), name) != f.keep.end();
    };
    switch (f.kind) {
      case WalState::Forget::Kind::Statement: erase(w.statements, f.name); break;
      case WalState::Forget::Kind::Portal: erase(w.portals, f.name); break;
      case WalState::Forget::Kind::Prepared:
        erase(w.sql_prepared, f.name);
        erase(w.statements, f.name);
        break;
      case WalState::Forget::Kind::AllPrepared:
        // Every named prepared statement (the unnamed one is not in the backend's table).
        std::erase_if(w.sql_prepared, [&](const auto& kv) { return !kept(kv.first); });
        std::erase_if(w.statements, [&](const auto& kv) { return !kv.first.empty() && !kept(kv.first); });
        break;
    }
  }
  w.forgets.erase(w.forgets.begin(), w.forgets.begin() + static_cast<std::ptrdiff_t>(done));
}

// The unnamed statement / portal is replaced by the next Parse / Bind; a named one that
// exists makes the backend refuse the new definition, so the classes fold (strictest).
bool PgSession::wal_remember_statement(std::string_view name, const wal::MessageClass& klass,
                                       std::shared_ptr<audit::AuditRecord> record) {
  if (!wal_state_) return false;  // no audit: nothing to remember it for
  wal_defined(name, false);
  auto& statements = wal_state_->statements;
  auto it = statements.find(name);
  if (it == statements.end()) {
    if (statements.size() >= kMaxWalNames) return false;  // unknown at Bind: escaping
    it = statements.emplace(std::string(name), WalStatement{}).first;
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
  if (!wal_state_) return nullptr;
  const auto it = wal_state_->statements.find(name);
  return it == wal_state_->statements.end() ? nullptr : &it->second;
}

PgSession::WalPortal* PgSession::wal_bind_portal(const WalStatement* st, std::string_view portal) {
  if (!wal_state_) return nullptr;
  auto& portals = wal_state_->portals;
  auto it = portals.find(portal);
  if (st == nullptr) {
    if (it != portals.end()) {
      it->second.klass = wal::escaping("portal of an unknown statement");
      it->second.record.reset();
      it->second.unclaimed = false;
    }
    return nullptr;
  }
  wal_defined(portal, true);
  if (it == portals.end()) {
    if (portals.size() >= kMaxWalNames) return nullptr;  // Execute: unknown portal, escaping
    it = portals.emplace(std::string(portal), WalPortal{}).first;
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
  if (!wal_state_) return nullptr;
  const auto it = wal_state_->portals.find(portal);
  return it == wal_state_->portals.end() ? nullptr : &it->second;
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
  wal::Forwarding& rule = wal_state_->rule;  // gated: the state exists
  wal::Submission s = wal::Submission::of(wal_msg_.id, kind, klass, rec.local);
  if (!rec.refused && rec.local != 0 && rule.write_failed() && !wal_state_->replace.active) {
    // The log takes records again: what needs one waits for it instead of being refused
    // (otherwise, with a newer record always pending, the rule could refuse commit points
    // forever). While answers are replaced it stays failed: nothing waits behind them.
    rule.on_write_recovered(now, wal_actions_);
  }
  if (rec.refused) {
    // Not recordable: the rule refuses it (it waits for its own record, which failed).
    rule.on_write_failure(now, wal_actions_);
    s.klass = wal::WriteClass::Escaping;
    s.ends_transaction_only = false;
  }
  rule.submit(s, now, wal_actions_);
  wal_refresh(true);
  run_wal_actions();
}

void PgSession::wal_refresh(bool ok) {
  if (!wal_gated_) return;
  WalState& w = *wal_state_;
  const std::uint64_t now = now_ms();
  if (!ok) w.rule.on_write_failure(now, wal_actions_);
  std::uint64_t requests_before = 0;
  if (!w.ledger.advance(*svc_.audit, &requests_before)) {
    wal_answers_failed(requests_before);  // replaced in place (pg_wal_replace.cpp) or FATAL
    if (wal_broken_) return;
  }
  w.rule.on_durable(w.ledger.settled(), now, wal_actions_);
  w.rule.on_timer(now, wal_actions_);
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
        if (wal_msg_.use_owned) {
          if (wal_msg_.kind == wal::MessageKind::PgSync) trim_raise_replies();  // pg_raise_at_sync
          forward_owned(std::move(wal_msg_.owned));
        } else {
          forward(wal_msg_.frame);
        }
        wal_msg_.use_owned = false;
        if (wal_gated_) wal_state_->ledger.forwarded(wal_msg_.record, wal_msg_.requests_before);
        if (wal_msg_.lasting) wal_lasting_request_ = wal_msg_.requests_before + 1;
        if (extended(wal_msg_.kind)) {
          wal_batch_open_ = true;
          // The client's own: each is answered by ParseComplete / BindComplete (pg_reply_trim.cpp).
          batch_parses_ += wal_msg_.frame[0] == 'P';
          batch_binds_ += wal_msg_.frame[0] == 'B';
        } else if (wal_msg_.kind != wal::MessageKind::PgCopyData) {
          batch_parses_ = 0;  // the batch ends here (one ReadyForQuery)
          batch_binds_ = 0;
        }
        break;
      case wal::ActionKind::Flush: wal_state_->flush = std::max(wal_state_->flush, a.record); break;
      case wal::ActionKind::Refuse: refuse_current(a, "58030", kAuditRefusal); break;
      case wal::ActionKind::Cancel: refuse_current(a, "57014", kCancelled); break;
      case wal::ActionKind::Discard: break;  // dropped: its batch already failed
      case wal::ActionKind::ForwardCancel: wal_backend_cancel(); break;
    }
  }
  wal_actions_.clear();
}

// The current message is never forwarded: extended ones fail their batch (discard to
// Sync, whose stand-in raises the error); a Sync by the extended raise (pg_raise_at_sync);
// the others by a Query that raises it in order. A refused commit point inside a block
// rolls the block back first.
void PgSession::refuse_current(const wal::Action& a, const char* sqlstate, const char* message) {
  svc_.log.warn(a.kind == wal::ActionKind::Refuse ? "audit.refused_statement" : "session.held_statement_cancelled",
                {{"session", id_text_}, {"segment", segment_}, {"sqlstate", sqlstate}});
  // A Sync (the client's own, or a raise standing in for one: noted when made) is
  // replaced by the extended raise (pg_raise_at_sync): the backend may have failed the
  // batch already and would skip a Query.
  const bool at_sync = wal_msg_.kind == wal::MessageKind::PgSync;
  const bool replaces_sync = at_sync && !wal_msg_.use_owned;
  wal_msg_.use_owned = false;
  if (extended(wal_msg_.kind)) {
    advance(State::Relaying, State::Discarding);
    pending_refusal_ = std::make_unique<authz::Decision>(authz::Decision{false, "", message, sqlstate});
    pending_refusal_record_ = WalRecord{};
    return;
  }
  std::string text = pg_raise_statement(sqlstate, message, "");
  // A Sync's class is empty (read-only), never a commit point: the raise is one statement.
  if (!at_sync && a.abort_transaction && wal_msg_.klass == wal::WriteClass::CommitPoint &&
      (txn_status_ == 'T' || txn_status_ == 'E'))
    text = "ROLLBACK; " + text;
  protocols::Bytes q;
  if (at_sync) {
    trim_raise_replies();
    q = pg_raise_at_sync(text);
  } else {
    pg::encode_frontend(q, pg::Query{std::move(text)});
  }
  forward_owned(std::move(q));
  batch_parses_ = 0;  // the raise ends the batch (one ReadyForQuery)
  batch_binds_ = 0;
  // The raise stands in for the Sync (noted as a Sync: its own ReadyForQuery ends the
  // batch) and replaces the unnamed statement and portal.
  if (replaces_sync) frontend_state_.forwarded(pg::Query{});
}

void PgSession::wal_wake() {
  if (!wal_state_) return;
  wal_state_->wake = true;
  wal_state_->gate.cancel();
}

awaitable<void> PgSession::wal_flush_wait(std::shared_ptr<PgSession> self, audit::AuditTicket t) {
  const bool ok = co_await self->svc_.audit_waiter->wait(t);
  self->wal_state_->waiting = false;
  if (self->closed()) co_return;
  self->wal_refresh(ok);
  self->wal_wake();
}

awaitable<bool> PgSession::wait_wal_held() {
  WalState& w = *wal_state_;  // something is held: the session is gated
  for (;;) {
    if (!wal_actions_.empty()) run_wal_actions();
    if (!co_await flush_to_backend()) co_return false;
    if (closed() || wal_broken_) co_return false;
    if (w.rule.held() == 0) co_return true;
    if (!w.waiting && w.flush > w.ledger.settled()) {
      if (const audit::AuditTicket* t = w.ledger.ticket(w.flush)) {
        w.waiting = true;
        auto self = shared_from_this();
        const audit::AuditTicket ticket = *t;
        asio::co_spawn(client_->lowest().get_executor(), wal_flush_wait(self, ticket), asio::detached);
      }
    }
    if (!w.wake) {
      error_code ignored;
      co_await w.gate.async_wait(asio::redirect_error(use_awaitable, ignored));
    }
    w.wake = false;
  }
}

// true: settled up to `need`, or answers are being replaced (the relay then decides per
// request, relay_replacing). false: the session ends.
awaitable<bool> PgSession::answer_ready(std::uint64_t need) {
  while (wal_state_->ledger.settled() < need && !closed() && !wal_broken_ && !wal_state_->replace.active) {
    const audit::AuditTicket* t = wal_state_->ledger.ticket(need);
    if (t == nullptr) break;
    const audit::AuditTicket ticket = *t;
    const bool ok = co_await svc_.audit_waiter->wait(ticket);
    if (closed()) co_return false;
    wal_refresh(ok);
    wal_wake();  // the forwarding may have released a held message
  }
  co_return !closed() && !wal_broken_;
}

PgSession::WalSettle PgSession::wal_settle_now(std::uint64_t need) {
  WalState& w = *wal_state_;  // need > 0: the session is gated
  while (w.ledger.settled() < need && !closed() && !wal_broken_ && !w.replace.active) {
    const audit::AuditTicket* t = w.ledger.ticket(need);
    if (t == nullptr) break;
    const std::optional<bool> ok = svc_.audit_waiter->begin(w.answer_wait, *t);
    if (!ok) return WalSettle::Wait;
    wal_refresh(*ok);
    wal_wake();  // the forwarding may have released a held message
  }
  return !closed() && !wal_broken_ ? WalSettle::Ready : WalSettle::Stop;
}

asio::steady_timer& PgSession::wal_answer_slot() { return wal_state_->answer_wait.timer; }

void PgSession::wal_settle_resumed() {
  const bool ok = svc_.audit_waiter->finish(wal_state_->answer_wait);
  if (closed()) return;  // wal_settle_now says Stop
  wal_refresh(ok);
  wal_wake();
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
  if (!wal_gated_ || wal_state_->rule.held() == 0) {
    wal_backend_cancel();
    return;
  }
  wal_state_->rule.on_cancel(now_ms(), wal_actions_);
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
