#pragma once
// Typed backend messages for the relay. BackendStream (backend_decoder.hpp) follows the
// message boundaries and checks structure; BackendDispatch types each watched message
// ONCE and calls one callback per message type with views into the stream's buffer
// (valid only during the call: nothing is copied). The session implements
// BackendCallbacks and never looks at a type byte or a raw body.
// Shape: Envoy contrib/postgres_proxy DecoderCallbacks (read, never copied).
// Spec: PostgreSQL 15 docs 55.7 "Message Formats", 55.8 "Error and Notice Message Fields".
#include <cstdint>
#include <span>
#include <string_view>

#include "protocols/pg/backend_decoder.hpp"

namespace segproxy::protocols::pg {

class BackendCallbacks {
 public:
  virtual ~BackendCallbacks() = default;
  // 'Z': `status` is 'I' (idle), 'T' (in a transaction) or 'E' (failed transaction).
  virtual void on_ready_for_query(char status) = 0;
  // 'C': the command tag, e.g. "SELECT 5", "INSERT 0 1".
  virtual void on_command_complete(std::string_view tag) = 0;
  // 'E' (parse_error_view: views into the body).
  virtual void on_error_response(const ErrorView& error) = 0;
  // 'S'.
  virtual void on_parameter_status(std::string_view name, std::string_view value) = 0;
  // 'G': the backend entered COPY IN.
  virtual void on_copy_in_response() = 0;
  // '1' ParseComplete / '2' BindComplete, reported only while the dispatch was asked to
  // (BackendDispatch::report_completions): `nth` counts the messages of that type since
  // the last ReadyForQuery, this one included (1: the first of its batch).
  virtual void on_extended_complete(char /*type*/, std::uint32_t /*nth*/) {}
  // A Query / FunctionCall sent into an extended batch the backend failed, so skipped: it gets
  // no ReadyForQuery (request_skips.hpp). After the ErrorResponse that showed it.
  virtual void on_request_skipped() {}
  // A watched message of one of the types above whose body is not what its type
  // requires. Only possible with BackendCheck::Framing (Structure refuses it first).
  virtual void on_malformed_body(char /*type*/) {}
};

// The adapter between the scanner and the typed callbacks: one switch on the type byte,
// one parse of the body. Watched types without a callback (notices, notifications,
// CloseComplete, ...) are relayed without being reported.
// ParseComplete / BindComplete are counted per batch (up to ReadyForQuery) and reported
// only while report_completions(true): the session drops the ones answering the Parse /
// Bind of a refusal it raised in place of a Sync (daemon/pg/pg_deny.cpp), which the
// client never sent. Otherwise a count and one branch is all they cost.
class BackendDispatch final : public BackendEvents {
 public:
  explicit BackendDispatch(BackendCallbacks& callbacks) : callbacks_(callbacks) {}
  void on_backend_message(char type, std::span<const std::uint8_t> body) override;
  void on_request_skipped() override { callbacks_.on_request_skipped(); }
  void report_completions(bool on) { report_completions_ = on; }

 private:
  BackendCallbacks& callbacks_;
  std::uint32_t parse_completes_ = 0;  // '1' since the last 'Z'
  std::uint32_t bind_completes_ = 0;   // '2' since the last 'Z'
  bool report_completions_ = false;
};

}  // namespace segproxy::protocols::pg
