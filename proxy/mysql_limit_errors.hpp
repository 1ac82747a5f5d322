#pragma once
// The MySQL ERR for a statement refused over limits.* (the classifier's SQLSTATE 54000 /
// 54001, authz/sql/statement_limits.hpp). Errors that keep the session, unlike
// ER_NET_PACKET_TOO_LARGE, which clients treat as a lost connection (docs/mysql.md,
// "Statement limits").
#include <cstdint>
#include <optional>
#include <string_view>

#include "authz/sql/statement_limits.hpp"

namespace segproxy::proxy {

struct MysqlLimitError {
  std::uint16_t code;
  const char* sqlstate;
};

inline std::optional<MysqlLimitError> mysql_limit_error(std::string_view decision_sqlstate) {
  if (decision_sqlstate == authz::sql::kSqlstateProgramLimitExceeded) return MysqlLimitError{1162, "42000"};  // ER_TOO_LONG_STRING
  if (decision_sqlstate == authz::sql::kSqlstateStatementTooComplex) return MysqlLimitError{1436, "HY000"};  // ER_STACK_OVERRUN_NEED_MORE
  return std::nullopt;
}

}  // namespace segproxy::proxy
