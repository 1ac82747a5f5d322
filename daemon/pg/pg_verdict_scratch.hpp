#pragma once
// The gate verdict the PostgreSQL sessions of one thread judge their statements into
// (issue 15: no allocation per statement). PgGate::check_into unpacks a cached verdict
// into it, reusing the capacity its strings and table list grew to; one per io_context
// (an Asio service: no global, no lock, since a session stays on its context's one
// thread), not one per session, so an idle session holds none of it.
//
// Valid until the thread's next statement is judged: a session uses it only inside one
// message's handler (on_query / on_parse run without suspending) and copies what it
// keeps.
#include "authz/gate/pg_verdict.hpp"
#include "daemon/net/asio.hpp"

namespace segproxy::proxy {

class PgVerdictScratch : public asio::execution_context::service {
 public:
  using key_type = PgVerdictScratch;  // Asio keys the service by this type (typeid)

  explicit PgVerdictScratch(asio::execution_context& ctx) : asio::execution_context::service(ctx) {}

  GateVerdict verdict;

  // The scratch of the context `ex` runs on.
  template <class Executor>
  static PgVerdictScratch& of(const Executor& ex) {
    return asio::use_service<PgVerdictScratch>(asio::query(ex, asio::execution::context));
  }

 private:
  void shutdown() override {}
};

}  // namespace segproxy::proxy
