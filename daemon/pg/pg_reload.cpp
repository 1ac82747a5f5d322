// Configuration reload for a PostgreSQL session: adopt() moves the session to the new
// Runtime from its next statement on, or ends it (57P01) when its identity, segment,
// database, listener or backend credential no longer fit; a session still starting
// keeps the runtime until its relay begins (apply_pending_runtime).
#include "daemon/pg/pg_session.hpp"
#include "daemon/pg/pg_wal_state.hpp"
#include "daemon/session/runtime_fit.hpp"

namespace segproxy::proxy {

std::string PgSession::misfit(const Runtime& rt) const {
  return runtime_misfit(rt, {identity(), segment_, database_, listener_->cfg->name, backend_user_, minted_ != nullptr});
}

void PgSession::adopt(std::shared_ptr<const Runtime> rt) {
  if (closed() || state_ == State::Ending) return;
  if (!gate_) {
    pending_rt_ = std::move(rt);  // still starting: applied when the relay begins
    return;
  }
  if (const std::string why = misfit(*rt); !why.empty()) {
    terminate("57P01", "terminating connection: segproxy configuration reloaded: " + why, Termination::Close);
    return;
  }
  // The write-ahead catalog reader refers into the old Runtime's catalogs: let go of them
  // (and of the catalog the class context points into) before the old Runtime goes.
  if (wal_state_) {
    wal_state_->catalog.reset();
    wal_state_->ctx.catalog = nullptr;
    wal_state_->ctx.catalog_current = false;
  }
  if (!adopt_runtime(rt_, listener_, std::move(rt))) {  // runtime_misfit checked it; never adopt without one
    terminate("57P01", "terminating connection: segproxy configuration reloaded: listener gone", Termination::Close);
    return;
  }
  gate_->rebind(*rt_->policy, rt_->statement_limits);
  apply_segment_limits();
  if (outstanding_ > 0 && statement_timeout_.count() > 0) statement_timer_.arm(statement_timeout_);
  touch_idle();
  if (!gate_->window_grace()) {  // during the grace window_ counts down window_close_grace
    window_.disarm();
    schedule_window_close();
  }
}

std::string PgSession::apply_pending_runtime() {
  if (!pending_rt_) return {};
  auto rt = std::move(pending_rt_);
  pending_rt_.reset();
  if (std::string why = misfit(*rt); !why.empty()) return why;
  adopt(std::move(rt));
  return {};
}

}  // namespace segproxy::proxy
