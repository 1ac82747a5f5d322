#pragma once
// The MySQL / MariaDB error codes the proxy itself answers with (names as in MySQL's
// mysqld_error.h, which the session code does not include), and the ERR for a statement
// refused over limits.* (the classifier's SQLSTATE 54000 / 54001,
// authz/sql/statement_limits.hpp): errors that keep the session, unlike
// ER_NET_PACKET_TOO_LARGE, which clients treat as a lost connection (docs/mysql.md,
// "Statement limits").
#include <cstdint>
#include <optional>
#include <string_view>

#include "authz/sql/statement_limits.hpp"

namespace segproxy::proxy {

inline constexpr std::uint16_t ER_ERROR_ON_WRITE = 1026;
inline constexpr std::uint16_t ER_DBACCESS_DENIED = 1044;
inline constexpr std::uint16_t ER_UNKNOWN_COM = 1047;
inline constexpr std::uint16_t ER_PARSE = 1064;
inline constexpr std::uint16_t ER_NO_SUCH_THREAD_OWNER = 1095;  // ER_KILL_DENIED_ERROR
inline constexpr std::uint16_t ER_TABLEACCESS_DENIED = 1142;
inline constexpr std::uint16_t ER_ERROR_DURING_COMMIT = 1180;  // COMMIT of a rolled-back transaction
inline constexpr std::uint16_t ER_SPECIFIC_ACCESS_DENIED = 1227;
inline constexpr std::uint16_t ER_NOT_SUPPORTED = 1235;
inline constexpr std::uint16_t ER_UNKNOWN_STMT_HANDLER = 1243;
inline constexpr std::uint16_t ER_INVALID_CHARACTER_STRING = 1300;
inline constexpr std::uint16_t ER_XAER_RMFAIL = 1399;  // "cannot be executed in this transaction state"
inline constexpr std::uint16_t ER_CONNECTION_KILLED = 1927;  // MariaDB; MySQL clients show it as is

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
