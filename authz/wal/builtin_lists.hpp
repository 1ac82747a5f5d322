#pragma once
// The fixed lists behind "read-only is proven, never assumed" (docs/audit.md
// "Write-ahead forwarding"): built-in functions, operators and cast target types with no
// side effect. Deliberately NOT the policy's safe-function list: advisory locks,
// pg_notify, sequences (nextval/currval/setval/lastval), lo_*, dblink*, set_config,
// pg_cancel/terminate_backend, txid_current (assigns an xid), pg_sleep, MySQL GET_LOCK,
// SLEEP, BENCHMARK, LAST_INSERT_ID, LOAD_FILE, NEXTVAL... are on none of them.
// Names are lower-case, without schema.
#include <string_view>

namespace segproxy::authz::wal {

bool pg_listed_function(std::string_view name);
bool pg_listed_operator(std::string_view name);
bool pg_listed_type(std::string_view name);
bool mysql_listed_function(std::string_view name);

}  // namespace segproxy::authz::wal
