// Configuration reload for a PostgreSQL session: adopt() moves the session to the new
// Runtime from its next statement on, or ends it (57P01) when its identity, segment,
// database, listener or backend credential no longer fit; a session still starting
// keeps the runtime until its relay begins (apply_pending_runtime).
#include <algorithm>

#include "daemon/pg/pg_session.hpp"

namespace segproxy::proxy {

std::string PgSession::misfit(const Runtime& rt) const {
  auto match = rt.mapper->map(identity_);
  if (!match) return "identity \"" + identity_.display() + "\" is no longer mapped to any segment";
  if (match->segment != segment_) {
    return "identity \"" + identity_.display() + "\" now maps to segment \"" + match->segment + "\"; reconnect";
  }
  auto seg = rt.config.segments.find(segment_);
  if (seg == rt.config.segments.end()) return "segment \"" + segment_ + "\" no longer exists";
  const auto& dbs = seg->second.databases;
  if (std::find(dbs.begin(), dbs.end(), database_) == dbs.end()) {
    return "database \"" + database_ + "\" is no longer permitted for segment \"" + segment_ + "\"";
  }
  const bool has_listener = std::any_of(rt.listeners.begin(), rt.listeners.end(),
                                        [&](const ListenerRuntime& l) { return l.cfg->name == listener_->cfg->name; });
  if (!has_listener) return "listener \"" + listener_->cfg->name + "\" no longer exists";
  const auto* cred = rt.credentials->find(segment_, listener_->cfg->name);
  if (cred == nullptr || cred->is_dynamic() != minted_.has_value() || (!minted_ && cred->user != backend_user_)) {
    return "the backend credential of segment \"" + segment_ + "\" changed";
  }
  return {};
}

void PgSession::adopt(std::shared_ptr<const Runtime> rt) {
  if (closed() || state_ == State::Ending) return;
  if (!gate_) {
    pending_rt_ = std::move(rt);  // still starting: applied when the relay begins
    return;
  }
  if (const std::string why = misfit(*rt); !why.empty()) {
    terminate("57P01", "terminating connection: segproxy configuration reloaded: " + why, "session.close");
    return;
  }
  rt_ = std::move(rt);
  for (const auto& l : rt_->listeners) {
    if (l.cfg->name == listener_->cfg->name) listener_ = &l;
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
