// SQL-level prepared statement names of a MySQL session (PREPARE s FROM '...' /
// EXECUTE s / DEALLOCATE PREPARE s): EXECUTE of a name the session has not PREPAREd
// through segproxy is refused, whatever the cached decision of its text says.
#include "daemon/mysql/mysql_errors.hpp"
#include "daemon/mysql/mysql_session.hpp"

namespace segproxy::proxy {

MysqlSession::Verdict MysqlSession::check_prepared_names(Verdict v) const {
  if (!v.allow || v.prepared_uses.empty()) return v;
  if (auto d = sql_prepared_.refuse_unknown(v.prepared_uses)) {
    v.allow = false;
    v.code = ER_SPECIFIC_ACCESS_DENIED;
    v.sqlstate = "42000";
    v.message = d->reason;
    v.rule_id.clear();
  }
  return v;
}

}  // namespace segproxy::proxy
