#pragma once
// Which requests the backend skips, so that the relay's count of requests awaiting a
// ReadyForQuery is the server's (issues 12 and 14 leftovers).
//
// PostgreSQL 15 docs 55.2.3 and postgres.c (ignore_till_sync): after an error in an
// extended-protocol message the server discards every frontend message up to Sync - a
// simple Query or FunctionCall sent into that batch included, which then gets no
// ReadyForQuery of its own; the Sync gets one. Every other request (Query, FunctionCall,
// Sync) gets exactly one, but a Sync the server reads during COPY IN (55.2.6).
//
// The server answers messages in order, and each extended message it runs with exactly
// one completion: Parse '1', Bind '2', Close '3', Describe 'T' or 'n' (of a statement:
// after its 't'), Execute 'C', 'I' or 's' (rows, notices and COPY OUT data before it).
// Counting completions tells which message an ErrorResponse answers: one of the
// extended messages sent before a request (the server now skips to the next Sync, and
// every Query / FunctionCall before that Sync is skipped), or the request itself (a
// Query's error ends with its own ReadyForQuery).
//
// COPY IN (copyfromparse.c CopyGetData, checked against PostgreSQL 15): once the server
// sent CopyInResponse it reads the messages that follow the one that started the COPY
// (a Query, or an Execute) as COPY input: CopyData, Flush and Sync (both ignored) until
// CopyDone / CopyFail; any other message fails the COPY with 08P01 and then ends the
// connection (FATAL "protocol synchronization was lost"). A COPY that fails on its own
// (bad data, CopyFail, a trigger, a view without INSTEAD OF trigger, a cancel) stops
// reading: what follows is read at top level (copy messages ignored there; after a COPY
// started by Execute, discarded up to the next Sync). The *region* of a COPY is what was
// forwarded after its start up to its CopyDone / CopyFail or the first message of another
// kind; only the Syncs in it can be skipped:
//  - the COPY completed ('C'): every Sync in the region was read and ignored: skipped;
//  - the COPY failed: a Sync with no copy message behind it in the region was not read
//    by the COPY (the COPY reads a Sync only on its way to the next message); a Sync
//    before the region's first copy message (libpq's Sync after the Execute of COPY FROM
//    STDIN, data pipelined behind it) is counted as read: the COPY failed on that data
//    or the CopyFail (not when it failed before reading anything while the data was
//    already on its way: then one ReadyForQuery more comes, which no request explains,
//    and the stream is lost, below); a Sync between copy messages cannot be placed
//    (the failure may be on data before or after it): lost.
// Each forwarded request carries how many copy messages (and CopyDone / CopyFail) went
// before it, so the region of a COPY that starts after messages were queued behind its
// start is known at CopyInResponse. Hot path: a type check per message and, for copy
// messages, two counters; the region state is touched only during a COPY.
//
// When the backend's answers cannot be followed (a Sync between copy messages of a COPY
// that failed, a Sync queued behind a Query's second COPY, a ReadyForQuery where none
// can come, CopyBoth), it stops for good (lost_pairing()): BackendStream then fails the
// stream, so the session ends with a protocol error instead of drifting (a later
// request awaited for ever, outcomes recorded against the wrong request). Over
// kMaxPending requests (or extended messages) it only stops following (lost(), as
// before). Allocates nothing while no request is pending (Fifo; issue 15).
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
  // Lost where answers and requests no longer pair up (every loss but the caps on
  // pending requests, which only stop the following, as before).
  bool lost_pairing() const { return lost_ && pairing_lost_; }
  const char* lost_reason() const { return lost_reason_; }
  std::size_t pending_requests() const { return requests_.size(); }

 private:
  // Copy messages (CopyData / CopyDone / CopyFail) forwarded before a point, and how
  // many of them were CopyDone / CopyFail.
  struct Pos {
    std::uint64_t copies = 0;
    std::uint64_t ends = 0;
  };
  struct Request {
    bool sync = false;        // a Sync (never skipped outside COPY), else a Query / FunctionCall
    std::uint32_t units = 0;  // extended messages forwarded between the previous request and it
    Pos at;                   // before the request itself
    Pos first;                // before its first extended message (at, without any)
    Pos last;                 // before its last extended message (at, without any)
  };
  // The extended messages the front request (or, with none pending, the open ones) has.
  std::uint32_t front_units() const { return requests_.empty() ? open_units_ : requests_.front().units; }
  Pos now() const { return Pos{copies_, ends_}; }
  std::uint32_t skip_to_sync();  // an extended message failed: the skipped requests
  std::uint32_t pop_skipped(std::uint32_t n);  // the first n pending requests were skipped
  // CopyInResponse: the COPY starts at the front request (simple) or at its (or the
  // open) extended message number answered_ + 1 (extended).
  void copy_started(bool extended);
  void region_add_copies(bool end);
  void region_add_sync() { ++(region_copies_ ? trailing_syncs_ : pre_syncs_); }
  // The COPY's outcome: how many of the region's Syncs the server read (and ignored).
  std::uint32_t copy_consumed(bool failed);
  std::uint32_t copy_execute_ended(bool failed);  // the Execute that started a COPY IN completed
  void lose(const char* why, bool pairing = true);

  Fifo<Request> requests_;       // forwarded requests whose ReadyForQuery has not come
  std::uint32_t open_units_ = 0;  // extended messages forwarded after the last request
  Pos open_first_;               // before the first of them
  Pos open_last_;                // before the last of them
  std::uint32_t answered_ = 0;    // completions of the front request's (or the open) units
  bool skipping_ = false;         // the server discards to a Sync not yet forwarded
  std::uint64_t copies_ = 0;      // copy messages forwarded
  std::uint64_t ends_ = 0;        // CopyDone / CopyFail forwarded
  std::uint64_t last_end_copies_ = 0;  // copies_ right after the last CopyDone / CopyFail
  // The COPY IN in progress (CopyInResponse seen, its outcome not yet).
  bool copy_ = false;
  bool copy_execute_ = false;    // ...started by an Execute (else by the front Query)
  bool region_open_ = false;     // forwarded messages still join its region
  bool region_copies_ = false;   // the region has a copy message
  std::uint32_t pre_syncs_ = 0;  // Syncs in the region before its first copy message
  std::uint32_t mid_syncs_ = 0;  // Syncs in the region between copy messages
  std::uint32_t trailing_syncs_ = 0;  // Syncs in the region after its last copy message
  // Simple Query COPY: region Syncs skipped once the front Query's ReadyForQuery comes;
  // the copy end the front Query's last COPY used (1-based count of ends), 0: none yet.
  std::uint32_t skip_behind_front_ = 0;
  std::uint64_t front_copy_end_ = 0;
  bool lost_ = false;
  bool pairing_lost_ = false;
  const char* lost_reason_ = "";
};

}  // namespace segproxy::protocols::pg
