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
// reports the requests the backend skipped. When the backend's answers cannot be
// followed any more (a COPY IN started by Execute or with messages queued behind it, a
// frontend message other than CopyData / CopyDone / CopyFail / Flush during COPY IN - a
// Sync there is ignored unless the COPY failed first -, a ReadyForQuery where none can
// come, over kMaxPending requests), it stops for
// good (lost()): nothing more is reported, as before this class existed. Allocates
// nothing while no request is pending (Fifo; issue 15).
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
  void lose();

  Fifo<Request> requests_;       // forwarded requests whose ReadyForQuery has not come
  std::uint32_t open_units_ = 0;  // extended messages forwarded after the last request
  std::uint32_t answered_ = 0;    // completions of the front request's (or the open) units
  bool skipping_ = false;         // the server discards to a Sync not yet forwarded
  bool copy_in_ = false;          // the server is in COPY IN (until the client's CopyDone / CopyFail)
  std::uint32_t early_copy_ends_ = 0;  // CopyDone / CopyFail forwarded before a CopyInResponse
  bool lost_ = false;
};

}  // namespace segproxy::protocols::pg
