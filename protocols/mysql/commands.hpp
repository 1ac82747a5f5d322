#pragma once
// Command phase, client -> server (page_protocol_command_phase.html). A command is the
// payload of one logical message whose first byte is the command code. Decoded commands
// are views into the payload. Commands the proxy must not forward (replication, user
// change, server administration, internal ones) decode to ComRefused so the session
// answers them with an ERR and stays usable; only a known command whose body does not
// match its structure is Malformed.
#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "protocols/common/decoded.hpp"
#include "protocols/mysql/capabilities.hpp"
#include "protocols/mysql/wire.hpp"

namespace segproxy::protocols::mysql {

enum class CommandCode : std::uint8_t {
  Sleep = 0x00,
  Quit = 0x01,
  InitDb = 0x02,
  Query = 0x03,
  FieldList = 0x04,
  CreateDb = 0x05,
  DropDb = 0x06,
  Refresh = 0x07,
  Shutdown = 0x08,
  Statistics = 0x09,
  ProcessInfo = 0x0A,
  Connect = 0x0B,
  ProcessKill = 0x0C,
  Debug = 0x0D,
  Ping = 0x0E,
  Time = 0x0F,
  DelayedInsert = 0x10,
  ChangeUser = 0x11,
  BinlogDump = 0x12,
  TableDump = 0x13,
  ConnectOut = 0x14,
  RegisterSlave = 0x15,
  StmtPrepare = 0x16,
  StmtExecute = 0x17,
  StmtSendLongData = 0x18,
  StmtClose = 0x19,
  StmtReset = 0x1A,
  SetOption = 0x1B,
  StmtFetch = 0x1C,
  Daemon = 0x1D,
  BinlogDumpGtid = 0x1E,
  ResetConnection = 0x1F,
  Clone = 0x20,                            // MySQL 8
  SubscribeGroupReplicationStream = 0x21,  // MySQL 8
  StmtBulkExecute = 0xFA,                  // MariaDB
};

// "COM_QUERY", ..., or "COM_UNKNOWN(0x..)".
std::string command_name(std::uint8_t code);

struct ComQuit { bool operator==(const ComQuit&) const = default; };
struct ComInitDb { std::string_view schema; bool operator==(const ComInitDb&) const = default; };
// With CLIENT_QUERY_ATTRIBUTES the query is preceded by typed attributes (MySQL
// 8.0.23+); `attributes` = their count, their values are validated but not kept. The
// proxy does not advertise the capability (see capabilities.hpp).
struct ComQuery {
  std::string_view sql;
  std::uint64_t attributes = 0;
  bool operator==(const ComQuery&) const = default;
};
struct ComFieldList {
  std::string_view table;
  std::string_view wildcard;
  bool operator==(const ComFieldList&) const = default;
};
struct ComStatistics { bool operator==(const ComStatistics&) const = default; };
struct ComProcessKill {
  std::uint32_t connection_id = 0;
  bool operator==(const ComProcessKill&) const = default;
};
struct ComPing { bool operator==(const ComPing&) const = default; };
struct ComStmtPrepare { std::string_view sql; bool operator==(const ComStmtPrepare&) const = default; };
// The parameter block needs the statement's parameter count (from its PrepareOk):
// decode it with decode_execute_params().
struct ComStmtExecute {
  std::uint32_t statement_id = 0;
  std::uint8_t flags = 0;  // CURSOR_TYPE_* (0x01 read-only cursor), PARAMETER_COUNT_AVAILABLE 0x08
  std::uint32_t iteration_count = 1;
  std::span<const std::uint8_t> params;  // everything after iteration_count
  bool operator==(const ComStmtExecute& o) const {
    return statement_id == o.statement_id && flags == o.flags && iteration_count == o.iteration_count &&
           std::equal(params.begin(), params.end(), o.params.begin(), o.params.end());
  }
};
struct ComStmtSendLongData {
  std::uint32_t statement_id = 0;
  std::uint16_t param_id = 0;
  std::span<const std::uint8_t> data;
  bool operator==(const ComStmtSendLongData& o) const {
    return statement_id == o.statement_id && param_id == o.param_id &&
           std::equal(data.begin(), data.end(), o.data.begin(), o.data.end());
  }
};
struct ComStmtClose { std::uint32_t statement_id = 0; bool operator==(const ComStmtClose&) const = default; };
struct ComStmtReset { std::uint32_t statement_id = 0; bool operator==(const ComStmtReset&) const = default; };
struct ComStmtFetch {
  std::uint32_t statement_id = 0;
  std::uint32_t num_rows = 0;
  bool operator==(const ComStmtFetch&) const = default;
};
struct ComSetOption {  // 0 = MYSQL_OPTION_MULTI_STATEMENTS_ON, 1 = _OFF
  std::uint16_t option = 0;
  bool operator==(const ComSetOption&) const = default;
};
struct ComResetConnection { bool operator==(const ComResetConnection&) const = default; };
// Known-but-refused (COM_CHANGE_USER, COM_BINLOG_DUMP(_GTID), COM_REGISTER_SLAVE,
// COM_SHUTDOWN, ...) and unknown command codes (known == false).
struct ComRefused {
  std::uint8_t code = 0;
  bool known = false;
  bool operator==(const ComRefused&) const = default;
};

using Command = std::variant<ComQuit, ComInitDb, ComQuery, ComFieldList, ComStatistics, ComProcessKill, ComPing,
                             ComStmtPrepare, ComStmtExecute, ComStmtSendLongData, ComStmtClose, ComStmtReset,
                             ComStmtFetch, ComSetOption, ComResetConnection, ComRefused>;

// The command code byte of a decoded command.
std::uint8_t command_code(const Command& cmd);

// `caps`: the capabilities negotiated with the client (CLIENT_QUERY_ATTRIBUTES changes
// COM_QUERY and COM_STMT_EXECUTE). An empty payload is Malformed.
Decoded<Command> decode_command(std::span<const std::uint8_t> payload, Capabilities caps);
// The exact inverse for every alternative but ComRefused (code byte only) and ComQuery
// with attributes (written without them).
void encode_command(Bytes& out, const Command& cmd);

// ---- COM_STMT_EXECUTE parameters (binary protocol values) ----
struct ExecuteParams {
  std::size_t count = 0;
  bool new_params_bound = false;
  std::vector<std::uint16_t> types;        // type | 0x8000 (unsigned); as bound now or before
  std::vector<std::string_view> names;     // CLIENT_QUERY_ATTRIBUTES only
  std::vector<bool> is_null;
  std::vector<std::span<const std::uint8_t>> values;  // raw binary values (empty for NULL / long data)
};
// `param_count`: from the statement's PrepareOk. `previous_types`: the types bound by
// the previous execution of this statement (needed when new-params-bound is 0).
// `long_data[i]` true: parameter i was sent with COM_STMT_SEND_LONG_DATA, so its value
// is not in this packet. Unknown types, lengths past the end and trailing bytes are
// Malformed.
Decoded<ExecuteParams> decode_execute_params(const ComStmtExecute& exec, std::size_t param_count,
                                             std::span<const std::uint16_t> previous_types,
                                             const std::vector<bool>& long_data, Capabilities caps);

}  // namespace segproxy::protocols::mysql
