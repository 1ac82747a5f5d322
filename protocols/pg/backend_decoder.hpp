#pragma once
// Decoders for what a PostgreSQL server sends.
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "protocols/common/decoded.hpp"
#include "protocols/common/limits.hpp"
#include "protocols/pg/messages.hpp"
#include "protocols/pg/request_skips.hpp"
#include "protocols/pg/result_shape.hpp"

namespace segproxy::protocols::pg {

// One complete backend frame (type + length + body), buffered whole: for the startup /
// authentication phase. Bodies above limits.max_backend_control_message are Malformed.
Decoded<BackendFrame> decode_backend_frame(std::span<const std::uint8_t> in, const Limits& limits);

// Body parsers (input: BackendFrame::body). std::nullopt = malformed body.
std::optional<AuthenticationRequest> parse_authentication(std::span<const std::uint8_t> body);
std::optional<ParameterStatus> parse_parameter_status(std::span<const std::uint8_t> body);
std::optional<BackendKeyData> parse_backend_key_data(std::span<const std::uint8_t> body);
std::optional<char> parse_ready_for_query(std::span<const std::uint8_t> body);  // 'I','T','E'
std::optional<ErrorFields> parse_error_fields(std::span<const std::uint8_t> body);  // 'E' / 'N'
std::optional<ErrorView> parse_error_view(std::span<const std::uint8_t> body);      // same, no copy
std::optional<std::string_view> parse_command_complete(std::span<const std::uint8_t> body);
// SASL mechanism list of an AuthenticationSASL request.
std::optional<std::vector<std::string>> parse_sasl_mechanisms(std::span<const std::uint8_t> data);

// Streaming scanner for the relay phase: the proxy forwards backend bytes as they
// arrive and feeds the same bytes here to follow message boundaries. Only messages of
// the watched types are buffered (capped at limits.max_backend_control_message) and
// reported (to BackendDispatch in backend_callbacks.hpp, which types them once for the
// session); everything else (DataRow, CopyData, RowDescription, ...) is skipped without
// buffering, so memory stays bounded whatever the result size.
class BackendEvents {
 public:
  virtual ~BackendEvents() = default;
  virtual void on_backend_message(char type, std::span<const std::uint8_t> body) = 0;
  // A request the stream was told of (BackendStream::frontend_forwarded) that the backend
  // skipped: it gets no ReadyForQuery (request_skips.hpp). Reported after the message
  // that showed it (an ErrorResponse), once per request, in order.
  virtual void on_request_skipped() {}
};

// Framing: message boundaries, the length word and the cap on watched messages only.
// Structure (the relay, issue 12 item 4.4): also every type must be one a server sends
// after authentication, every length at most kMaxRelayMessage, and every body well-formed
// (backend_validator.hpp; DataRow checked column by column while it streams, so a bogus
// column count or length is found without buffering the row), and a DataRow's column
// count equals the field count of the RowDescription that certainly describes it
// (result_shape.hpp: the session reports the frontend messages it forwards).
enum class BackendCheck { Framing, Structure };

class BackendStream {
 public:
  // PostgreSQL builds no message above MaxAllocSize (1 GiB - 1).
  static constexpr std::size_t kMaxRelayMessage = 1024u * 1024u * 1024u;

  explicit BackendStream(const Limits& limits, BackendCheck check = BackendCheck::Framing);
  // Watched types: 'Z' ReadyForQuery, 'E' ErrorResponse, 'C' CommandComplete,
  // 'S' ParameterStatus, 'G'/'H'/'W' Copy{In,Out,Both}Response, 'R' Authentication,
  // 'K' BackendKeyData, 'A' NotificationResponse, 'N' NoticeResponse, 'I' EmptyQueryResponse,
  // '1' ParseComplete, '2' BindComplete, '3' CloseComplete, 's' PortalSuspended.
  // Returns Malformed (with error()) on a length < 4 or an oversized watched message;
  // otherwise Ok (all bytes consumed, possibly mid-message).
  DecodeStatus feed(std::span<const std::uint8_t> data, BackendEvents& events);
  const std::string& error() const { return error_; }
  // A frontend message forwarded to this backend (in order): requests the backend skips
  // are followed (request_skips.hpp) and, in Structure mode, DataRows matched with their
  // RowDescription. True when `m` is a request the backend is certain to skip already
  // (no on_request_skipped comes for it: the caller ends its accounting).
  bool frontend_forwarded(const FrontendMessage& m) {
    told_ = true;
    if (check_ == BackendCheck::Structure) shape_.forwarded(m);
    if (!skips_.forwarded(m)) return false;
    if (check_ == BackendCheck::Structure) shape_.request_skipped();
    return true;
  }
  // DataRows whose column count was checked against their RowDescription (Structure).
  std::uint64_t rows_checked() const { return rows_checked_; }
  // Whether skipped requests are still followed (false once the pairing of requests
  // and answers is lost: request_skips.hpp; feed then reports Malformed).
  bool follows_skips() const { return !skips_.lost(); }
  // True when the stream sits exactly on a message boundary.
  bool at_boundary() const;
  // After Malformed: how many bytes at the start of the last fed span are complete,
  // checked messages (the offending message starts there), or npos when the offending
  // message began in an earlier feed (part of it may already have been relayed).
  std::size_t clean_prefix() const { return clean_prefix_; }
  // After Ok mid-message: where the unfinished message starts in the last fed span, or
  // npos when it began in an earlier feed (or the stream is on a boundary).
  std::size_t pending_start() const { return at_boundary() ? std::string::npos : msg_start_; }
  // While a watched message is being reported (BackendEvents::on_backend_message): where
  // it starts in the span being fed, or npos when it began in an earlier feed.
  std::size_t message_start() const { return msg_start_; }
  // The type of the last message that ended (0 before the first): with at_boundary(),
  // whether the bytes fed so far end right after a ReadyForQuery.
  char last_complete() const { return last_complete_; }

 private:
  DecodeStatus fail(std::string error);
  DecodeStatus fail_unfollowed();  // RequestSkips lost the pairing of requests and answers
  // Fails closed when the pairing is lost; only for a stream told the frontend messages
  // (a stream fed backend bytes alone follows framing and structure only).
  bool unpaired() const { return told_ && skips_.lost_pairing(); }
  bool scan_row(std::span<const std::uint8_t> part, std::size_t left_after);

  // The one limit it applies (limits.max_backend_control_message), copied: a reference
  // would dangle for BackendStream s{Limits{}}, and the whole Limits is 80 bytes per
  // session (issue 15: memory per idle session).
  std::size_t max_control_message_;
  BackendCheck check_;
  bool told_ = false;  // frontend_forwarded was called
  bool buffered_ = false;  // the body is collected: watched, or checked whole
  std::size_t msg_start_ = 0;  // offset of the current message in the current feed (npos: earlier feed)
  std::size_t clean_prefix_ = 0;
  // DataRow check (Structure): Int16 count, then per column Int32 length (-1 = NULL) + value.
  enum class RowPhase : std::uint8_t { Count, Length, Value, Done };
  RowPhase row_phase_ = RowPhase::Done;
  bool streamed_ = false;  // the current message is a 'D' or 'V' (scan_row, not buffered)
  std::uint8_t acc_[4] = {};
  std::size_t acc_have_ = 0;
  std::uint32_t cols_left_ = 0;
  std::size_t value_left_ = 0;
  std::uint8_t header_[5] = {};
  std::size_t header_have_ = 0;
  char type_ = 0;
  char last_complete_ = 0;
  std::size_t body_left_ = 0;
  bool watched_ = false;
  std::vector<std::uint8_t> body_;
  std::string error_;
  ResultShape shape_;
  RequestSkips skips_;
  std::uint64_t rows_checked_ = 0;
  std::string row_error_;  // a DataRow whose column count contradicts its RowDescription
};

}  // namespace segproxy::protocols::pg
