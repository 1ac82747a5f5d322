#pragma once
// Follows backend -> client packets in the command phase to know where each command's
// response ends and what it said, without buffering rows: the relay forwards backend
// bytes unchanged and feeds the same bytes here.
//
// Usage: after forwarding a command (decoded with decode_command), call expect(cmd,
// message.next_seq()); feed() every backend chunk; ResponseEvents::on_response() fires
// once per completed response, in command order (pipelined commands are queued).
// Commands that get no response (COM_QUIT, COM_STMT_CLOSE, COM_STMT_SEND_LONG_DATA) are
// ignored by expect().
//
// Result-set shapes followed: text and binary result sets with or without
// CLIENT_DEPRECATE_EOF (a 0xFE packet shorter than 0xFFFFFF / 9 bytes ends the rows),
// SERVER_MORE_RESULTS_EXISTS chains, cursors (SERVER_STATUS_CURSOR_EXISTS after the
// metadata), MariaDB metadata caching (MARIADB_CLIENT_CACHE_METADATA: a
// metadata_follows byte after the column count) and MariaDB progress reports (ERR
// 0xFFFF, skipped). Not followed: MySQL's CLIENT_OPTIONAL_RESULTSET_METADATA and
// CLIENT_QUERY_ATTRIBUTES response variants (never negotiated by the proxy).
// Status flags: an ERR carries none, so the summary keeps the last reported status (a
// deadlock rollback is only visible at the next OK).
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/common/decoded.hpp"
#include "protocols/common/fifo.hpp"
#include "protocols/common/limits.hpp"
#include "protocols/mysql/capabilities.hpp"
#include "protocols/mysql/commands.hpp"
#include "protocols/mysql/framer.hpp"
#include "protocols/mysql/messages.hpp"

namespace segproxy::protocols::mysql {

// The shape of the response a command gets.
enum class ResponseKind {
  None,        // COM_QUIT, COM_STMT_CLOSE, COM_STMT_SEND_LONG_DATA
  OkOrErr,     // COM_INIT_DB, COM_PING, COM_RESET_CONNECTION, COM_STMT_RESET, COM_PROCESS_KILL, COM_SET_OPTION (EOF too)
  Query,       // COM_QUERY: OK / ERR / LOCAL INFILE / text result sets, chained by MORE_RESULTS_EXISTS
  Prepare,     // COM_STMT_PREPARE: COM_STMT_PREPARE_OK + parameter and column definitions
  Execute,     // COM_STMT_EXECUTE: OK / ERR / binary result sets (a cursor ends after the metadata)
  Fetch,       // COM_STMT_FETCH: binary rows + terminator
  FieldList,   // COM_FIELD_LIST: column definitions + terminator
  Statistics,  // COM_STATISTICS: one string packet
};
ResponseKind response_kind(const Command& cmd);

struct ResponseSummary {
  std::uint8_t command = 0;  // command code
  bool error = false;
  ErrPacket err;                    // when error
  std::uint64_t affected_rows = 0;  // summed over the OK packets of the response
  std::uint64_t last_insert_id = 0; // of the last OK packet
  std::uint16_t warnings = 0;       // of the last OK/EOF packet
  StatusFlags status = 0;           // of the last OK/EOF packet
  std::uint64_t rows = 0;           // rows over all result sets
  std::uint32_t result_sets = 0;
  std::uint32_t oks = 0;
  std::optional<PrepareOk> prepared;      // COM_STMT_PREPARE: statement id, columns, params
  bool cursor_opened = false;             // COM_STMT_EXECUTE with a cursor
  bool local_infile_requested = false;    // the backend asked for a LOCAL file (refused)
  std::optional<std::string> schema;      // SESSION_TRACK_SCHEMA change
  std::optional<std::string> transaction_state;  // SESSION_TRACK_TRANSACTION_STATE
  std::string info;                       // of the last OK packet
  std::string statistics;                 // COM_STATISTICS text

  bool in_transaction() const { return (status & SERVER_STATUS_IN_TRANS) != 0; }
  bool autocommit() const { return (status & SERVER_STATUS_AUTOCOMMIT) != 0; }
};

class ResponseEvents {
 public:
  virtual ~ResponseEvents() = default;
  virtual void on_response(const ResponseSummary& summary) = 0;
  // LOAD DATA LOCAL: the backend (0xFB) asks for a client file. The proxy never sends
  // one: the session must write an empty packet with sequence id `reply_seq` to the
  // backend (and not forward the 0xFB packet to the client); the tracker then expects
  // the backend's OK/ERR with reply_seq + 1.
  virtual void on_local_infile_request(std::string_view filename, std::uint8_t reply_seq) {
    (void)filename;
    (void)reply_seq;
  }
  // An ERR while no command is outstanding (server shutdown, wait_timeout, KILL): the
  // backend closes the connection next.
  virtual void on_unsolicited_error(const ErrPacket& err) { (void)err; }
};

class ResponseTracker : private MessageSink {
 public:
  // `caps`: the capabilities negotiated with the backend. `initial_status`: from the
  // login's OK packet.
  ResponseTracker(Capabilities caps, const Limits& limits, StatusFlags initial_status = 0);

  void expect(const Command& cmd, std::uint8_t response_seq);
  // Consumes all bytes (Ok) or reports Malformed (error()): sequence ids out of order,
  // a packet that does not fit the expected response, an oversized control packet.
  DecodeStatus feed(std::span<const std::uint8_t> data, ResponseEvents& events);

  bool idle() const { return pending_.empty() && stream_.at_boundary(); }
  // Part of a packet (header or payload) has arrived, the rest has not.
  bool mid_packet() const { return !stream_.at_boundary(); }
  // The sequence id the next packet of the response in progress must carry (where a
  // packet boundary is: an ERR the proxy writes in the backend's place takes it).
  std::uint8_t next_seq() const { return expected_seq_; }
  std::size_t pending() const { return pending_.size(); }
  StatusFlags status() const { return status_; }
  bool in_transaction() const { return (status_ & SERVER_STATUS_IN_TRANS) != 0; }
  const std::string& error() const { return stream_.error(); }

 private:
  enum class State {
    First, ColumnDefs, ColumnsEof, Rows, PrepareParams, PrepareParamsEof, PrepareColumns, PrepareColumnsEof,
    FieldList,
  };
  struct Pending {
    std::uint8_t command = 0;
    ResponseKind kind = ResponseKind::None;
    std::uint8_t seq = 0;
  };

  bool on_message(const StreamedMessage& m, std::string& error) override;
  bool on_first(const StreamedMessage& m, std::string& error);
  bool on_column_def(const StreamedMessage& m, std::string& error);
  bool on_columns_eof(const StreamedMessage& m, std::string& error);
  bool on_row(const StreamedMessage& m, std::string& error);
  bool on_prepare_def(const StreamedMessage& m, std::string& error);
  bool on_prepare_eof(const StreamedMessage& m, std::string& error);
  bool on_field_list(const StreamedMessage& m, std::string& error);
  bool take_ok(const StreamedMessage& m, bool eof_header, std::string& error);
  bool take_eof(const StreamedMessage& m, std::string& error);
  bool take_err(const StreamedMessage& m, std::string& error);
  bool take_terminator(const StreamedMessage& m, std::string& error);  // after rows / definitions
  void after_prepare_params();
  void start_next();
  void complete();

  Capabilities caps_;
  MessageStream stream_;
  StatusFlags status_;
  Fifo<Pending> pending_;  // allocates nothing while empty (issue 15: idle sessions)
  bool active_ = false;
  State state_ = State::First;
  std::uint8_t expected_seq_ = 0;
  std::uint64_t left_ = 0;  // definitions left in the current block
  // The current result set's column types, from its definitions (binary rows are checked
  // against them); types_known_ false when the definitions were not sent (MariaDB
  // metadata caching) or for COM_STMT_FETCH rows (the cursor's metadata came earlier).
  std::vector<std::uint8_t> column_types_;
  bool types_known_ = false;
  ResponseSummary summary_;
  ResponseEvents* events_ = nullptr;
};

}  // namespace segproxy::protocols::mysql
