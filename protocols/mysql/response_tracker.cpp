// Command-phase response tracking (page_protocol_com_query_response.html,
// page_protocol_com_query_response_text_resultset.html, page_protocol_com_stmt_prepare.html,
// page_protocol_binary_resultset.html, page_protocol_com_stmt_fetch.html,
// page_protocol_com_field_list.html, page_protocol_com_statistics.html).
// One handler per state; each names the part of the response it reads.
#include "protocols/mysql/response_tracker.hpp"

#include "protocols/mysql/packets.hpp"
#include "protocols/mysql/response_validator.hpp"

namespace segproxy::protocols::mysql {

namespace {

struct KindOf {
  ResponseKind operator()(const ComQuit&) const { return ResponseKind::None; }
  ResponseKind operator()(const ComStmtClose&) const { return ResponseKind::None; }
  ResponseKind operator()(const ComStmtSendLongData&) const { return ResponseKind::None; }
  ResponseKind operator()(const ComQuery&) const { return ResponseKind::Query; }
  ResponseKind operator()(const ComStmtPrepare&) const { return ResponseKind::Prepare; }
  ResponseKind operator()(const ComStmtExecute&) const { return ResponseKind::Execute; }
  ResponseKind operator()(const ComStmtFetch&) const { return ResponseKind::Fetch; }
  ResponseKind operator()(const ComFieldList&) const { return ResponseKind::FieldList; }
  ResponseKind operator()(const ComStatistics&) const { return ResponseKind::Statistics; }
  ResponseKind operator()(const ComRefused&) const { return ResponseKind::OkOrErr; }  // never forwarded
  template <class T>
  ResponseKind operator()(const T&) const {
    return ResponseKind::OkOrErr;  // InitDb, Ping, ResetConnection, StmtReset, ProcessKill, SetOption
  }
};

// No server sends more columns than a prepare OK can announce (Int16); MySQL and MariaDB
// stop at 4096. A larger count would make the tracker wait for definitions forever.
constexpr std::uint64_t kMaxResultColumns = 65535;

bool whole(const StreamedMessage& m, std::string& error) {
  if (m.complete()) return true;
  error = "backend control packet larger than the limit";
  return false;
}

}  // namespace

ResponseKind response_kind(const Command& cmd) { return std::visit(KindOf{}, cmd); }

ResponseTracker::ResponseTracker(Capabilities caps, const Limits& limits, StatusFlags initial_status)
    : caps_(caps),
      stream_(limits.max_mysql_backend_control, limits.max_mysql_backend_message),
      status_(initial_status) {}

void ResponseTracker::expect(const Command& cmd, std::uint8_t response_seq) {
  const ResponseKind kind = response_kind(cmd);
  if (kind == ResponseKind::None) return;
  pending_.push_back(Pending{command_code(cmd), kind, response_seq});
  if (!active_) start_next();
}

void ResponseTracker::start_next() {
  active_ = false;
  column_types_.clear();
  types_known_ = false;
  if (pending_.empty()) return;
  active_ = true;
  summary_ = ResponseSummary{};
  summary_.command = pending_.front().command;
  summary_.status = status_;  // an ERR carries no status: the last reported one stands
  expected_seq_ = pending_.front().seq;
  state_ = pending_.front().kind == ResponseKind::Fetch ? State::Rows : State::First;
}

void ResponseTracker::complete() {
  status_ = summary_.status;
  pending_.pop_front();
  ResponseSummary done = std::move(summary_);
  start_next();
  if (events_ != nullptr) events_->on_response(done);
}

DecodeStatus ResponseTracker::feed(std::span<const std::uint8_t> data, ResponseEvents& events) {
  events_ = &events;
  const DecodeStatus s = stream_.feed(data, *this);
  events_ = nullptr;
  return s;
}

bool ResponseTracker::on_message(const StreamedMessage& m, std::string& error) {
  if (!active_) {
    // Unsolicited ERR (shutdown, timeout, KILL) before the server closes the connection.
    if (is_err(m.head, m.size) && whole(m, error)) {
      auto err = decode_err(m.head, caps_);
      if (err.status != DecodeStatus::Ok) return error = err.error, false;
      if (events_ != nullptr) events_->on_unsolicited_error(err.value);
      return true;
    }
    error = "backend sent a packet while no command was outstanding";
    return false;
  }
  if (m.first_seq != expected_seq_) {
    error = "backend packet sequence id " + std::to_string(m.first_seq) + ", expected " +
            std::to_string(expected_seq_);
    return false;
  }
  expected_seq_ = static_cast<std::uint8_t>(m.last_seq + 1);
  // MariaDB progress report (MARIADB_CLIENT_PROGRESS): an ERR-shaped packet with code
  // 0xFFFF that does not end anything. The proxy never negotiates it; tolerated anyway.
  if (has(caps_, MARIADB_CLIENT_PROGRESS) && is_err(m.head, m.size) && m.head.size() >= 3 && m.head[1] == 0xFF &&
      m.head[2] == 0xFF)
    return true;
  switch (state_) {
    case State::First: return on_first(m, error);
    case State::ColumnDefs: return on_column_def(m, error);
    case State::ColumnsEof: return on_columns_eof(m, error);
    case State::Rows: return on_row(m, error);
    case State::PrepareParams:
    case State::PrepareColumns: return on_prepare_def(m, error);
    case State::PrepareParamsEof:
    case State::PrepareColumnsEof: return on_prepare_eof(m, error);
    case State::FieldList: return on_field_list(m, error);
  }
  return false;
}

bool ResponseTracker::take_err(const StreamedMessage& m, std::string& error) {
  if (!whole(m, error)) return false;
  auto err = decode_err(m.head, caps_);
  if (err.status != DecodeStatus::Ok) return error = err.error, false;
  summary_.error = true;
  summary_.err = std::move(err.value);
  complete();
  return true;
}

// OK packet (0x00, or 0xFE ending a result set with CLIENT_DEPRECATE_EOF).
bool ResponseTracker::take_ok(const StreamedMessage& m, bool eof_header, std::string& error) {
  if (!whole(m, error)) return false;
  auto ok = decode_ok(m.head, caps_, eof_header);
  if (ok.status != DecodeStatus::Ok) return error = ok.error, false;
  summary_.affected_rows += ok.value.affected_rows;
  summary_.last_insert_id = ok.value.last_insert_id;
  summary_.warnings = ok.value.warnings;
  summary_.status = ok.value.status;
  summary_.info = std::move(ok.value.info);
  if (ok.value.session_state) {
    if (ok.value.session_state->schema) summary_.schema = ok.value.session_state->schema;
    if (ok.value.session_state->transaction_state)
      summary_.transaction_state = ok.value.session_state->transaction_state;
  }
  return true;
}

bool ResponseTracker::take_eof(const StreamedMessage& m, std::string& error) {
  auto eof = decode_eof(m.head, caps_);
  if (eof.status != DecodeStatus::Ok) return error = eof.error, false;
  summary_.warnings = eof.value.warnings;
  summary_.status = eof.value.status;
  return true;
}

// End of rows / field list: EOF, or OK with a 0xFE header under CLIENT_DEPRECATE_EOF.
bool ResponseTracker::take_terminator(const StreamedMessage& m, std::string& error) {
  if (has(caps_, CLIENT_DEPRECATE_EOF)) return take_ok(m, true, error);
  return take_eof(m, error);
}

// First packet of a response, or of the next result after SERVER_MORE_RESULTS_EXISTS.
bool ResponseTracker::on_first(const StreamedMessage& m, std::string& error) {
  const ResponseKind kind = pending_.front().kind;
  if (is_err(m.head, m.size)) return take_err(m, error);
  switch (kind) {
    case ResponseKind::Statistics:
      if (!whole(m, error)) return false;
      summary_.statistics = std::string(as_string_view(m.head));
      complete();
      return true;
    case ResponseKind::OkOrErr:
      // COM_SET_OPTION answers with an EOF packet (an OK-as-EOF with DEPRECATE_EOF).
      if (is_eof(m.head, m.size)) {
        if (!take_terminator(m, error)) return false;
      } else if (!is_ok(m.head, m.size) || !take_ok(m, false, error)) {
        if (error.empty()) error = "expected OK or ERR from the backend";
        return false;
      } else {
        ++summary_.oks;
      }
      complete();
      return true;
    case ResponseKind::Prepare: {
      if (!whole(m, error)) return false;
      auto p = decode_prepare_ok(m.head);
      if (p.status != DecodeStatus::Ok) return error = p.error, false;
      summary_.prepared = p.value;
      summary_.warnings = p.value.warnings;  // a prepare reports no status
      left_ = p.value.num_params;
      if (left_ > 0) {
        state_ = State::PrepareParams;
        return true;
      }
      after_prepare_params();
      return true;
    }
    case ResponseKind::FieldList:
      state_ = State::FieldList;
      return on_field_list(m, error);
    case ResponseKind::Query:
    case ResponseKind::Execute:
    case ResponseKind::Fetch:
    case ResponseKind::None:
      break;
  }
  if (m.size > 0 && m.head[0] == kLocalInfileHeader && kind == ResponseKind::Query) {
    if (!whole(m, error)) return false;
    summary_.local_infile_requested = true;
    const std::uint8_t reply_seq = expected_seq_;
    expected_seq_ = static_cast<std::uint8_t>(reply_seq + 1);  // the proxy's empty packet
    if (events_ != nullptr) events_->on_local_infile_request(as_string_view(m.head.subspan(1)), reply_seq);
    return true;  // still First: OK / ERR follows
  }
  if (is_ok(m.head, m.size)) {
    if (!take_ok(m, false, error)) return false;
    ++summary_.oks;
    if ((summary_.status & SERVER_MORE_RESULTS_EXISTS) == 0) complete();
    return true;
  }
  if (!whole(m, error)) return false;
  ++summary_.result_sets;
  if (has(caps_, MARIADB_CLIENT_CACHE_METADATA)) {
    // MariaDB metadata caching (text and binary result sets): int<lenenc> column count,
    // int<1> metadata_follows; when 0 the column definitions are skipped (the client
    // kept them from the prepare).
    LeReader r(m.head);
    const std::uint64_t count = r.lenenc();
    const std::uint8_t follows = r.u8();
    if (!r.at_end() || count == 0 || count > kMaxResultColumns) return error = "result set: bad column count", false;
    column_types_.clear();
    types_known_ = follows != 0;
    if (follows == 0) {
      state_ = has(caps_, CLIENT_DEPRECATE_EOF) ? State::Rows : State::ColumnsEof;
      return true;
    }
    left_ = count;
    state_ = State::ColumnDefs;
    return true;
  }
  auto n = decode_column_count(m.head);
  if (n.status != DecodeStatus::Ok) return error = n.error, false;
  if (n.value > kMaxResultColumns) return error = "result set: impossible column count", false;
  left_ = n.value;
  column_types_.clear();
  types_known_ = true;
  state_ = State::ColumnDefs;
  return true;
}

// Result set metadata: one ColumnDefinition41 per column.
bool ResponseTracker::on_column_def(const StreamedMessage& m, std::string& error) {
  if (m.size == 0) return error = "empty column definition", false;
  if (!whole(m, error)) return false;
  if (!valid_column_definition(m.head, false, has(caps_, MARIADB_CLIENT_EXTENDED_TYPE_INFO))) return error = "backend sent a malformed column definition", false;
  if (const auto type = column_definition_type(m.head, has(caps_, MARIADB_CLIENT_EXTENDED_TYPE_INFO))) {
    column_types_.push_back(*type);
  }
  if (--left_ > 0) return true;
  state_ = has(caps_, CLIENT_DEPRECATE_EOF) ? State::Rows : State::ColumnsEof;
  return true;
}

// The EOF after the column definitions (without CLIENT_DEPRECATE_EOF). With a cursor
// (COM_STMT_EXECUTE, SERVER_STATUS_CURSOR_EXISTS) the response ends here.
bool ResponseTracker::on_columns_eof(const StreamedMessage& m, std::string& error) {
  if (!is_eof(m.head, m.size)) return error = "expected EOF after column definitions", false;
  if (!take_eof(m, error)) return false;
  if (pending_.front().kind == ResponseKind::Execute && (summary_.status & SERVER_STATUS_CURSOR_EXISTS) != 0) {
    summary_.cursor_opened = true;
    complete();
    return true;
  }
  state_ = State::Rows;
  return true;
}

// Rows (text or binary) until the terminator; ERR ends the response mid-result.
bool ResponseTracker::on_row(const StreamedMessage& m, std::string& error) {
  if (is_err(m.head, m.size)) return take_err(m, error);
  const bool terminator = has(caps_, CLIENT_DEPRECATE_EOF) ? is_ok_eof_terminator(m.head, m.size)
                                                           : is_eof(m.head, m.size);
  if (!terminator) {
    if (m.size == 0) return error = "empty row packet", false;
    // Text rows held whole: every length-encoded value inside the packet (issue 12 item 4.4).
    if (pending_.front().kind == ResponseKind::Query && m.complete() && !valid_text_row(m.head))
      return error = "backend sent a malformed text row", false;
    // Binary rows held whole: checked against the result set's column types (issue 12
    // leftovers, item 4).
    if (pending_.front().kind == ResponseKind::Execute && m.complete() && types_known_ &&
        !valid_binary_row(m.head, column_types_))
      return error = "backend sent a malformed binary row", false;
    ++summary_.rows;
    return true;
  }
  if (!take_terminator(m, error)) return false;
  const ResponseKind kind = pending_.front().kind;
  if (kind == ResponseKind::Execute && (summary_.status & SERVER_STATUS_CURSOR_EXISTS) != 0) {
    summary_.cursor_opened = true;  // DEPRECATE_EOF: the metadata ends with the cursor's OK
    complete();
    return true;
  }
  if (kind != ResponseKind::Fetch && (summary_.status & SERVER_MORE_RESULTS_EXISTS) != 0) {
    state_ = State::First;
    return true;
  }
  complete();
  return true;
}

// COM_STMT_PREPARE_OK is followed by num_params then num_columns definitions, each block
// closed by an EOF unless CLIENT_DEPRECATE_EOF.
bool ResponseTracker::on_prepare_def(const StreamedMessage& m, std::string& error) {
  if (m.size == 0) return error = "empty definition in prepare response", false;
  if (!whole(m, error)) return false;
  if (!valid_column_definition(m.head, false, has(caps_, MARIADB_CLIENT_EXTENDED_TYPE_INFO))) return error = "backend sent a malformed column definition", false;
  if (--left_ > 0) return true;
  const bool params = state_ == State::PrepareParams;
  if (!has(caps_, CLIENT_DEPRECATE_EOF)) {
    state_ = params ? State::PrepareParamsEof : State::PrepareColumnsEof;
    return true;
  }
  if (params) {
    after_prepare_params();
  } else {
    complete();
  }
  return true;
}

bool ResponseTracker::on_prepare_eof(const StreamedMessage& m, std::string& error) {
  if (!is_eof(m.head, m.size)) return error = "expected EOF after definitions in prepare response", false;
  const StatusFlags keep = summary_.status;
  if (!take_eof(m, error)) return false;
  summary_.status = keep;
  if (state_ == State::PrepareParamsEof) {
    after_prepare_params();
  } else {
    complete();
  }
  return true;
}

void ResponseTracker::after_prepare_params() {
  left_ = summary_.prepared->num_columns;
  if (left_ > 0) {
    state_ = State::PrepareColumns;
    return;
  }
  complete();
}

// COM_FIELD_LIST: column definitions (with default values) until EOF / OK-as-EOF.
bool ResponseTracker::on_field_list(const StreamedMessage& m, std::string& error) {
  if (is_err(m.head, m.size)) return take_err(m, error);
  if (is_ok_eof_terminator(m.head, m.size) && (is_eof(m.head, m.size) || has(caps_, CLIENT_DEPRECATE_EOF))) {
    if (!take_terminator(m, error)) return false;
    complete();
    return true;
  }
  if (m.size == 0) return error = "empty column definition", false;
  if (!whole(m, error)) return false;
  if (!valid_column_definition(m.head, true, has(caps_, MARIADB_CLIENT_EXTENDED_TYPE_INFO))) return error = "backend sent a malformed column definition", false;
  ++summary_.rows;  // one per column
  return true;
}

}  // namespace segproxy::protocols::mysql
