#pragma once
// Internal to the write-ahead classes: the allow-list proof walk over one PostgreSQL
// SELECT / INSERT / UPDATE / DELETE / MERGE / COPY / LOCK statement (pg_proof.cpp).
// ReadOnly when everything is proven free of effects, Contained when its only effects are
// writes or locks on transactional tables with listed hooks, else Escaping with the first
// doubt as reason.
#include <pg_query/pg_query.pb-c.h>

#include "authz/wal/wal_catalog.hpp"
#include "authz/wal/write_class.hpp"

namespace segproxy::authz::wal {

MessageClass prove_pg(const PgQuery__Node* stmt, const ClassContext& ctx);

}  // namespace segproxy::authz::wal
