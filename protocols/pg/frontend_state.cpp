// COPY sub-protocol and extended-query name tracking (see frontend_state.hpp).
// Spec: PostgreSQL 15 docs 55.2.3 (Extended Query: named statements last until Close or
// session end; named portals until Close or transaction end; a Query destroys the
// unnamed statement and portal), 55.2.6 (COPY), src/backend/tcop/postgres.c.
#include "protocols/pg/frontend_state.hpp"

#include <variant>

namespace segproxy::protocols::pg {

namespace {

constexpr std::size_t kMaxNameInError = 64;

std::string quoted(std::string_view name) {
  std::string out = "\"";
  for (std::size_t i = 0; i < name.size() && i < kMaxNameInError; ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    out += (c >= 0x20 && c != '"' && c != 0x7f) ? static_cast<char>(c) : '?';
  }
  if (name.size() > kMaxNameInError) out += "...";
  return out + "\"";
}

FrontendCheck refuse(const char* sqlstate, std::string message) {
  return FrontendCheck{FrontendCheck::Action::Refuse, sqlstate, std::move(message)};
}

FrontendCheck no_statement(std::string_view name) {
  return refuse("26000", name.empty() ? "segproxy: unnamed prepared statement does not exist"
                                      : "segproxy: prepared statement " + quoted(name) + " does not exist");
}

FrontendCheck no_portal(std::string_view name) {
  return refuse("34000", name.empty() ? "segproxy: unnamed portal does not exist"
                                      : "segproxy: portal " + quoted(name) + " does not exist");
}

}  // namespace

FrontendCheck FrontendState::check(const FrontendMessage& m) const {
  if (std::holds_alternative<CopyData>(m) || std::holds_alternative<CopyDone>(m) ||
      std::holds_alternative<CopyFail>(m)) {
    if (copy_in_ || requests_sent_ > ready_received_) return {};
    return FrontendCheck{FrontendCheck::Action::Drop, "", ""};
  }
  if (const auto* p = std::get_if<Parse>(&m)) {
    if (statement_count() >= max_names_ && !has_statement(p->statement))
      return refuse("54000", "segproxy: too many prepared statements in this session");
    return {};
  }
  if (const auto* b = std::get_if<Bind>(&m)) {
    if (!has_statement(b->statement)) return no_statement(b->statement);
    if (portal_count() >= max_names_ && !has_portal(b->portal))
      return refuse("54000", "segproxy: too many open portals in this session");
    return {};
  }
  if (const auto* d = std::get_if<Describe>(&m)) {
    if (d->target == 'S') return has_statement(d->name) ? FrontendCheck{} : no_statement(d->name);
    return has_portal(d->name) ? FrontendCheck{} : no_portal(d->name);
  }
  if (const auto* e = std::get_if<Execute>(&m)) {
    return has_portal(e->portal) ? FrontendCheck{} : no_portal(e->portal);
  }
  return {};
}

void FrontendState::forwarded(const FrontendMessage& m) {
  if (const auto* p = std::get_if<Parse>(&m)) {
    if (p->statement.empty()) unnamed_statement_ = true;
    else if (!statements_.contains(p->statement)) statements_.emplace(p->statement);
  } else if (const auto* b = std::get_if<Bind>(&m)) {
    if (b->portal.empty()) {
      unnamed_portal_ = true;
      unnamed_portal_bound_ = requests_sent_;
    } else if (auto it = portals_.find(b->portal); it != portals_.end()) {
      it->second = requests_sent_;
    } else {
      portals_.emplace(std::string(b->portal), requests_sent_);
    }
  } else if (const auto* c = std::get_if<Close>(&m)) {
    if (c->target == 'S') {
      if (c->name.empty()) unnamed_statement_ = false;
      else statements_.erase(std::string(c->name));
    } else if (c->name.empty()) {
      unnamed_portal_ = false;
    } else {
      portals_.erase(std::string(c->name));
    }
  } else if (std::holds_alternative<Query>(m)) {
    unnamed_statement_ = false;
    unnamed_portal_ = false;
  }
}

void FrontendState::ready_for_query(char status) {
  copy_in_ = false;
  ++ready_received_;
  if (status == 'I') {
    // Outside a transaction: every portal bound before this request's end is gone.
    if (unnamed_portal_ && unnamed_portal_bound_ < ready_received_) unnamed_portal_ = false;
    if (!portals_.empty()) std::erase_if(portals_, [&](const auto& kv) { return kv.second < ready_received_; });
  }
}

void FrontendState::backend(char type, std::span<const std::uint8_t> body) {
  switch (type) {
    case 'G':  // CopyInResponse
      copy_in_started();
      break;
    case 'C':  // CommandComplete
    case 'E':  // ErrorResponse
      command_ended();
      break;
    case 'Z':  // ReadyForQuery
      ready_for_query(body.size() == 1 ? static_cast<char>(body[0]) : '\0');
      break;
    default:
      break;
  }
}

}  // namespace segproxy::protocols::pg
