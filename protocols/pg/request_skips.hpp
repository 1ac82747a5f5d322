#pragma once
// Which requests the backend skips, so that the relay's count of requests awaiting a
// ReadyForQuery is the server's (issues 12 and 14 leftovers).
//
// PostgreSQL 15 docs 55.2.3 and postgres.c (ignore_till_sync): after an error in an
// extended-protocol message the server discards every frontend message up to Sync - a
// simple Query or FunctionCall sent into that batch included, which then gets no
// ReadyForQuery of its own; the Sync gets one. Every other request (Query, FunctionCall,
// Sync) gets exactly one, but during COPY IN, where Sync is ignored (55.2.6).
//
// The server answers messages in order, and each extended message it runs with exactly
// one completion: Parse '1', Bind '2', Close '3', Describe 'T' or 'n' (of a statement:
// after its 't'), Execute 'C', 'I' or 's' (rows, notices and COPY OUT data before it).
// Counting completions tells which message an ErrorResponse answers: one of the
// extended messages sent before a request (the server now skips to the next Sync, and
// every Query / FunctionCall before that Sync is skipped), or the request itself (a
// Query's error ends with its own ReadyForQuery).
//
// Pure; BackendStream owns one (backend_decoder.hpp): told every frontend message the
// session forwards, in order, and the type of every complete backend message; it
// reports the requests the backend skipped.
//
// COPY IN started by an Execute (libpq's PQexecParams / PQexecPrepared of COPY FROM
// STDIN: Parse/Bind/Describe/Execute/Sync, then CopyData.../CopyDone/Sync): the server
// ignores the Sync sent before its CopyInResponse (55.2.6: Flush and Sync are ignored
// during COPY IN), so two Syncs get one ReadyForQuery. That Sync is reported skipped
// when the Execute completes ('C' after CopyDone, or 'E': the server then discards to
// the next Sync, as after any failed extended message), so the COPY's outcome is
// counted with it. Followed only when the Execute is the last extended message before
// that one Sync (or before none) and no copy message went ahead of the CopyInResponse.
//
// When the backend's answers cannot be followed any more (a COPY IN started by Execute
// with other messages queued behind it, a simple Query's COPY IN with messages queued
// behind its Query, a frontend message other than CopyData / CopyDone / CopyFail /
// Flush during COPY IN - a Sync there is ignored unless the COPY failed first -, a
// ReadyForQuery where none can come, over kMaxPending requests), it stops for good
// (lost()): nothing more is reported, as before this class existed. Allocates nothing
// while no request is pending (Fifo; issue 15).
#include <cstddef>
#include <cstdint>

#include "protocols/common/fifo.hpp"
#include "protocols/pg/messages.hpp"

namespace segproxy::protocols::pg {

class RequestSkips {
 public:
  static constexpr std::size_t kMaxPending = 65536;

  // A frontend message forwarded to the backend. True when it is a request the backend
  // is certain to skip already (a Query / FunctionCall while it discards to a Sync not
  // yet forwarded): the caller ends its accounting now.
  bool forwarded(const FrontendMessage& m);
  // A complete backend message of type `type`: how many forwarded requests the backend
  // has now skipped (0 almost always).
  std::uint32_t backend(char type);

  bool lost() const { return lost_; }
  std::size_t pending_requests() const { return requests_.size(); }

 private:
  struct Request {
    bool sync = false;        // a Sync (never skipped), else a Query / FunctionCall
    std::uint32_t units = 0;  // extended messages forwarded between the previous request and it
  };
  // The extended messages the front request (or, with none pending, the open ones) has.
  std::uint32_t front_units() const { return requests_.empty() ? open_units_ : requests_.front().units; }
  std::uint32_t skip_to_sync();  // an extended message failed: the skipped requests
  std::uint32_t copy_execute_ended(bool failed);  // the Execute that started a COPY IN completed
  void lose();

  Fifo<Request> requests_;       // forwarded requests whose ReadyForQuery has not come
  std::uint32_t open_units_ = 0;  // extended messages forwarded after the last request
  std::uint32_t answered_ = 0;    // completions of the front request's (or the open) units
  bool skipping_ = false;         // the server discards to a Sync not yet forwarded
  bool copy_in_ = false;          // the server is in COPY IN (until the client's CopyDone / CopyFail)
  bool copy_execute_ = false;     // the COPY IN (or its end) is the front request's (or the open) last Execute's
  bool ignored_sync_ = false;     // ...and the front request is the Sync the server ignored in it
  // Copy messages forwarded before a CopyInResponse: CopyDone / CopyFail, and CopyData
  // behind a Sync or open extended messages.
  std::uint32_t early_copy_ends_ = 0;
  bool lost_ = false;
};

}  // namespace segproxy::protocols::pg
