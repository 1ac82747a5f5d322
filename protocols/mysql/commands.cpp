// Command packets (page_protocol_command_phase_text.html, _ps.html, _utility.html) and
// the binary parameter block of COM_STMT_EXECUTE (page_protocol_com_stmt_execute.html,
// page_protocol_binary_resultset.html "Binary Protocol Value").
#include "protocols/mysql/commands.hpp"

#include <cstdio>
#include <string>

namespace segproxy::protocols::mysql {

namespace {

using Result = Decoded<Command>;
constexpr std::uint8_t kParameterCountAvailable = 0x08;
constexpr std::size_t kMaxParams = 65535;  // placeholders per statement

Result bad(std::uint8_t code, const char* why) { return Result::malformed(command_name(code) + ": " + why); }

template <class T>
Result done(T cmd, std::size_t n) {
  return Result::ok(Command{std::move(cmd)}, n);
}

bool refused(std::uint8_t code, bool& known) {
  switch (static_cast<CommandCode>(code)) {
    case CommandCode::Sleep: case CommandCode::CreateDb: case CommandCode::DropDb: case CommandCode::Refresh:
    case CommandCode::Shutdown: case CommandCode::ProcessInfo: case CommandCode::Connect: case CommandCode::Debug:
    case CommandCode::Time: case CommandCode::DelayedInsert: case CommandCode::ChangeUser:
    case CommandCode::BinlogDump: case CommandCode::TableDump: case CommandCode::ConnectOut:
    case CommandCode::RegisterSlave: case CommandCode::Daemon: case CommandCode::BinlogDumpGtid:
    case CommandCode::Clone: case CommandCode::SubscribeGroupReplicationStream: case CommandCode::StmtBulkExecute:
      known = true;
      return true;
    case CommandCode::Quit: case CommandCode::InitDb: case CommandCode::Query: case CommandCode::FieldList:
    case CommandCode::Statistics: case CommandCode::ProcessKill: case CommandCode::Ping:
    case CommandCode::StmtPrepare: case CommandCode::StmtExecute: case CommandCode::StmtSendLongData:
    case CommandCode::StmtClose: case CommandCode::StmtReset: case CommandCode::SetOption:
    case CommandCode::StmtFetch: case CommandCode::ResetConnection:
      known = true;
      return false;
  }
  known = false;
  return true;
}

// One binary protocol value of the given type (low byte = MYSQL_TYPE_*).
bool read_binary_value(LeReader& r, std::uint16_t type, std::span<const std::uint8_t>& value) {
  auto fixed = [&](std::size_t n) {
    value = r.bytes(n);
    return r.ok();
  };
  auto sized = [&](std::initializer_list<std::uint8_t> allowed) {
    const std::uint8_t n = r.u8();
    if (!r.ok() || std::find(allowed.begin(), allowed.end(), n) == allowed.end()) return false;
    return fixed(n);
  };
  switch (type & 0xFF) {
    case 0x06: value = {}; return true;                       // NULL
    case 0x01: return fixed(1);                              // TINY
    case 0x02: case 0x0D: return fixed(2);                   // SHORT, YEAR
    case 0x03: case 0x09: case 0x04: return fixed(4);        // LONG, INT24, FLOAT
    case 0x05: case 0x08: return fixed(8);                   // DOUBLE, LONGLONG
    case 0x07: case 0x0A: case 0x0C: case 0x0E: case 0x11: case 0x12:  // date/time stamps
      return sized({0, 4, 7, 11});
    case 0x0B: case 0x13: return sized({0, 8, 12});          // TIME
    case 0x00: case 0x0F: case 0x10:                         // DECIMAL, VARCHAR, BIT
    case 0xF5: case 0xF6: case 0xF7: case 0xF8: case 0xF9:   // JSON .. TINY_BLOB
    case 0xFA: case 0xFB: case 0xFC: case 0xFD: case 0xFE: case 0xFF:
      value = r.lenenc_bytes();
      return r.ok();
    default: return false;
  }
}

// null bitmap, new-params-bound flag, [types (+ names)], values.
bool read_param_block(LeReader& r, std::size_t n, bool with_names, std::span<const std::uint16_t> previous_types,
                      const std::vector<bool>& long_data, ExecuteParams& out, std::string& why) {
  out.count = n;
  const auto bitmap = r.bytes((n + 7) / 8);
  out.new_params_bound = r.u8() == 1;
  if (!r.ok()) return why = "truncated null bitmap", false;
  if (out.new_params_bound) {
    for (std::size_t i = 0; i < n && r.ok(); ++i) {
      out.types.push_back(r.u16());
      if (with_names) out.names.push_back(r.lenenc_string());
    }
    if (!r.ok()) return why = "truncated parameter types", false;
  } else {
    if (previous_types.size() != n) return why = "no parameter types bound", false;
    out.types.assign(previous_types.begin(), previous_types.end());
  }
  for (std::size_t i = 0; i < n; ++i) {
    const bool null = (bitmap[i / 8] >> (i % 8)) & 1;
    out.is_null.push_back(null);
    std::span<const std::uint8_t> v;
    const bool long_sent = i < long_data.size() && long_data[i];
    if (!null && !long_sent && !read_binary_value(r, out.types[i], v)) return why = "bad parameter value", false;
    out.values.push_back(v);
  }
  return true;
}

Result parse_query(std::span<const std::uint8_t> p, Capabilities caps) {
  LeReader r(p.subspan(1));
  ComQuery q;
  if (has(caps, CLIENT_QUERY_ATTRIBUTES)) {
    const std::uint64_t n = r.lenenc();
    const std::uint64_t sets = r.lenenc();
    if (!r.ok() || sets != 1 || n > kMaxParams) return bad(0x03, "bad query attribute counts");
    if (n > 0) {
      ExecuteParams params;
      std::string why;
      if (!read_param_block(r, static_cast<std::size_t>(n), true, {}, {}, params, why) || !params.new_params_bound)
        return bad(0x03, "bad query attributes");
    }
    q.attributes = n;
  }
  q.sql = r.rest_string();
  return done(q, p.size());
}

}  // namespace

std::string command_name(std::uint8_t code) {
  switch (static_cast<CommandCode>(code)) {
    case CommandCode::Sleep: return "COM_SLEEP";
    case CommandCode::Quit: return "COM_QUIT";
    case CommandCode::InitDb: return "COM_INIT_DB";
    case CommandCode::Query: return "COM_QUERY";
    case CommandCode::FieldList: return "COM_FIELD_LIST";
    case CommandCode::CreateDb: return "COM_CREATE_DB";
    case CommandCode::DropDb: return "COM_DROP_DB";
    case CommandCode::Refresh: return "COM_REFRESH";
    case CommandCode::Shutdown: return "COM_SHUTDOWN";
    case CommandCode::Statistics: return "COM_STATISTICS";
    case CommandCode::ProcessInfo: return "COM_PROCESS_INFO";
    case CommandCode::Connect: return "COM_CONNECT";
    case CommandCode::ProcessKill: return "COM_PROCESS_KILL";
    case CommandCode::Debug: return "COM_DEBUG";
    case CommandCode::Ping: return "COM_PING";
    case CommandCode::Time: return "COM_TIME";
    case CommandCode::DelayedInsert: return "COM_DELAYED_INSERT";
    case CommandCode::ChangeUser: return "COM_CHANGE_USER";
    case CommandCode::BinlogDump: return "COM_BINLOG_DUMP";
    case CommandCode::TableDump: return "COM_TABLE_DUMP";
    case CommandCode::ConnectOut: return "COM_CONNECT_OUT";
    case CommandCode::RegisterSlave: return "COM_REGISTER_SLAVE";
    case CommandCode::StmtPrepare: return "COM_STMT_PREPARE";
    case CommandCode::StmtExecute: return "COM_STMT_EXECUTE";
    case CommandCode::StmtSendLongData: return "COM_STMT_SEND_LONG_DATA";
    case CommandCode::StmtClose: return "COM_STMT_CLOSE";
    case CommandCode::StmtReset: return "COM_STMT_RESET";
    case CommandCode::SetOption: return "COM_SET_OPTION";
    case CommandCode::StmtFetch: return "COM_STMT_FETCH";
    case CommandCode::Daemon: return "COM_DAEMON";
    case CommandCode::BinlogDumpGtid: return "COM_BINLOG_DUMP_GTID";
    case CommandCode::ResetConnection: return "COM_RESET_CONNECTION";
    case CommandCode::Clone: return "COM_CLONE";
    case CommandCode::SubscribeGroupReplicationStream: return "COM_SUBSCRIBE_GROUP_REPLICATION_STREAM";
    case CommandCode::StmtBulkExecute: return "COM_STMT_BULK_EXECUTE";
  }
  char buf[24];
  std::snprintf(buf, sizeof buf, "COM_UNKNOWN(0x%02x)", code);
  return buf;
}

Decoded<Command> decode_command(std::span<const std::uint8_t> payload, Capabilities caps) {
  if (payload.empty()) return Result::malformed("empty command packet");
  const std::uint8_t code = payload[0];
  const std::size_t n = payload.size();
  bool known = false;
  if (refused(code, known)) return done(ComRefused{code, known}, n);
  LeReader r(payload.subspan(1));
  auto exactly = [&](std::size_t size) { return n == size + 1; };
  switch (static_cast<CommandCode>(code)) {
    case CommandCode::Quit:
      if (!exactly(0)) return bad(code, "unexpected body");
      return done(ComQuit{}, n);
    case CommandCode::Ping:
      if (!exactly(0)) return bad(code, "unexpected body");
      return done(ComPing{}, n);
    case CommandCode::Statistics:
      if (!exactly(0)) return bad(code, "unexpected body");
      return done(ComStatistics{}, n);
    case CommandCode::ResetConnection:
      if (!exactly(0)) return bad(code, "unexpected body");
      return done(ComResetConnection{}, n);
    case CommandCode::InitDb: return done(ComInitDb{r.rest_string()}, n);
    case CommandCode::Query: return parse_query(payload, caps);
    case CommandCode::StmtPrepare: return done(ComStmtPrepare{r.rest_string()}, n);
    case CommandCode::FieldList: {
      ComFieldList f;
      f.table = r.cstring();
      if (!r.ok()) return bad(code, "unterminated table name");
      f.wildcard = r.rest_string();
      return done(f, n);
    }
    case CommandCode::ProcessKill: {
      if (!exactly(4)) return bad(code, "body is not a 4-byte connection id");
      return done(ComProcessKill{r.u32()}, n);
    }
    case CommandCode::StmtExecute: {
      ComStmtExecute e;
      e.statement_id = r.u32();
      e.flags = r.u8();
      e.iteration_count = r.u32();
      if (!r.ok()) return bad(code, "truncated header");
      e.params = r.rest();
      return done(e, n);
    }
    case CommandCode::StmtSendLongData: {
      ComStmtSendLongData d;
      d.statement_id = r.u32();
      d.param_id = r.u16();
      if (!r.ok()) return bad(code, "truncated header");
      d.data = r.rest();
      return done(d, n);
    }
    case CommandCode::StmtClose:
      if (!exactly(4)) return bad(code, "body is not a 4-byte statement id");
      return done(ComStmtClose{r.u32()}, n);
    case CommandCode::StmtReset:
      if (!exactly(4)) return bad(code, "body is not a 4-byte statement id");
      return done(ComStmtReset{r.u32()}, n);
    case CommandCode::StmtFetch: {
      if (!exactly(8)) return bad(code, "body is not a statement id and a row count");
      ComStmtFetch f;
      f.statement_id = r.u32();
      f.num_rows = r.u32();
      return done(f, n);
    }
    case CommandCode::SetOption:
      if (!exactly(2)) return bad(code, "body is not a 2-byte option");
      return done(ComSetOption{r.u16()}, n);
    default:
      break;
  }
  return done(ComRefused{code, known}, n);
}

namespace {

struct Encoder {
  LeWriter& w;
  void operator()(const ComQuit&) { w.u8(0x01); }
  void operator()(const ComInitDb& c) { w.u8(0x02); w.bytes(c.schema); }
  void operator()(const ComQuery& c) { w.u8(0x03); w.bytes(c.sql); }
  void operator()(const ComFieldList& c) { w.u8(0x04); w.cstring(c.table); w.bytes(c.wildcard); }
  void operator()(const ComStatistics&) { w.u8(0x09); }
  void operator()(const ComProcessKill& c) { w.u8(0x0C); w.u32(c.connection_id); }
  void operator()(const ComPing&) { w.u8(0x0E); }
  void operator()(const ComStmtPrepare& c) { w.u8(0x16); w.bytes(c.sql); }
  void operator()(const ComStmtExecute& c) {
    w.u8(0x17);
    w.u32(c.statement_id);
    w.u8(c.flags);
    w.u32(c.iteration_count);
    w.bytes(c.params);
  }
  void operator()(const ComStmtSendLongData& c) {
    w.u8(0x18);
    w.u32(c.statement_id);
    w.u16(c.param_id);
    w.bytes(c.data);
  }
  void operator()(const ComStmtClose& c) { w.u8(0x19); w.u32(c.statement_id); }
  void operator()(const ComStmtReset& c) { w.u8(0x1A); w.u32(c.statement_id); }
  void operator()(const ComStmtFetch& c) { w.u8(0x1C); w.u32(c.statement_id); w.u32(c.num_rows); }
  void operator()(const ComSetOption& c) { w.u8(0x1B); w.u16(c.option); }
  void operator()(const ComResetConnection&) { w.u8(0x1F); }
  void operator()(const ComRefused& c) { w.u8(c.code); }
};

struct CodeOf {
  std::uint8_t operator()(const ComRefused& c) const { return c.code; }
  std::uint8_t operator()(const ComQuery&) const { return 0x03; }
  std::uint8_t operator()(const ComStmtPrepare&) const { return 0x16; }
  std::uint8_t operator()(const ComStmtExecute&) const { return 0x17; }
  std::uint8_t operator()(const ComStmtSendLongData&) const { return 0x18; }
  std::uint8_t operator()(const ComInitDb&) const { return 0x02; }
  std::uint8_t operator()(const ComFieldList&) const { return 0x04; }
  template <class T>
  std::uint8_t operator()(const T& c) const {  // fixed-size commands: encode them
    Bytes b;
    LeWriter w(b);
    Encoder{w}(c);
    return b[0];
  }
};

}  // namespace

std::uint8_t command_code(const Command& cmd) { return std::visit(CodeOf{}, cmd); }

void encode_command(Bytes& out, const Command& cmd) {
  LeWriter w(out);
  std::visit(Encoder{w}, cmd);
}

Decoded<ExecuteParams> decode_execute_params(const ComStmtExecute& exec, std::size_t param_count,
                                             std::span<const std::uint16_t> previous_types,
                                             const std::vector<bool>& long_data, Capabilities caps) {
  using R = Decoded<ExecuteParams>;
  LeReader r(exec.params);
  ExecuteParams out;
  std::size_t n = param_count;
  const bool attrs = has(caps, CLIENT_QUERY_ATTRIBUTES);
  if (attrs && (exec.flags & kParameterCountAvailable) != 0) {
    const std::uint64_t sent = r.lenenc();
    if (!r.ok() || sent < param_count || sent > kMaxParams)
      return R::malformed("COM_STMT_EXECUTE: bad parameter count");
    n = static_cast<std::size_t>(sent);
  }
  if (n > kMaxParams) return R::malformed("COM_STMT_EXECUTE: too many parameters");
  if (n > 0) {
    std::string why;
    if (!read_param_block(r, n, attrs, previous_types, long_data, out, why))
      return R::malformed("COM_STMT_EXECUTE: " + why);
  }
  if (!r.at_end()) return R::malformed("COM_STMT_EXECUTE: trailing bytes after parameters");
  return R::ok(std::move(out), exec.params.size());
}

}  // namespace segproxy::protocols::mysql
