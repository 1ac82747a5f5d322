#pragma once
// Which RowDescription a backend DataRow belongs to (issue 12 leftovers, item 3), so
// the relay can check that a DataRow has exactly as many columns as the RowDescription
// it follows. Pure; BackendStream (Structure mode) owns one and the session tells it
// every frontend message it forwards, in order.
//
// PostgreSQL 15 docs 55.2.2 / 55.2.3: a simple Query's result sets are each a
// RowDescription followed by their DataRows (then CommandComplete); in the extended
// protocol DataRows come from Execute, and a RowDescription answers Describe - of a
// portal (its result shape) or of a statement (after a ParameterDescription). Responses
// come in the order of the requests; after an ErrorResponse the server skips to Sync.
//
// A DataRow is checked only when the RowDescription it directly follows (nothing but
// asynchronous NoticeResponse / NotificationResponse / ParameterStatus between them)
// certainly describes it:
//  - in the answer to a simple Query (or the first one of a mixed batch is not: see
//    below), the RowDescription starting that result set;
//  - in an extended batch (up to Sync), a RowDescription answering Describe of portal P
//    when the next forwarded message after that Describe (Flush aside) was Execute of P.
// Everything else is left unchecked, never guessed: DataRows after BindComplete, a
// statement Describe, PortalSuspended (a later Execute continues without a new
// description), a Query sent inside an unfinished extended batch, a fast-path call.
// ReadyForQuery ends the batch a request opened (one per Query, Sync, FunctionCall), and
// so does request_skipped() for a Query / FunctionCall the backend skipped (it was
// discarding to Sync): every request, Execute and Sync included, must be reported.
// Bounded: past kMaxPending batches or describes nothing more is checked (fail-safe for
// the client, never a false refusal).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "protocols/common/fifo.hpp"
#include "protocols/pg/messages.hpp"

namespace segproxy::protocols::pg {

class ResultShape {
 public:
  static constexpr std::size_t kMaxPending = 65536;

  // A frontend message the session forwarded to the backend.
  void forwarded(const FrontendMessage& m);
  // A complete backend message other than DataRow ('T': `body` is its body).
  void backend(char type, std::span<const std::uint8_t> body);
  // The backend skipped the front batch's request (a Query / FunctionCall sent into an
  // extended batch it had failed; request_skips.hpp): no ReadyForQuery ends it.
  void request_skipped();
  // The column count a DataRow arriving now must have; nullopt: not checked.
  std::optional<std::size_t> expected_columns() const;

  std::size_t pending_batches() const { return batches_.size(); }

 private:
  enum class Follow : std::uint8_t { Unknown, Execute, Other };
  struct DescribeReq {
    bool portal = false;
    std::string name;
    Follow follow = Follow::Unknown;
  };
  enum class Kind : std::uint8_t { Simple, Extended, Unchecked };
  struct Batch {
    Kind kind = Kind::Simple;
    bool open = false;  // extended: no Sync yet
    std::size_t describes = 0;  // its Describes: the next ones in describes_ after earlier batches'
    std::size_t answered = 0;   // describes answered by RowDescription / NoData
  };

  Batch& open_extended();
  void resolve_follow(const FrontendMessage& m);
  bool full();
  void reset_all();
  void end_front_batch();
  // The Describe numbered `seq` (describes_popped_ numbers describes_.front()), if pending.
  DescribeReq* describe(std::uint64_t seq);
  const DescribeReq* describe(std::uint64_t seq) const;

  // One queue for the batches and one for all their Describes (a queue per batch would
  // allocate per batch); both allocate nothing while empty (issue 15: idle sessions).
  Fifo<Batch> batches_;
  Fifo<DescribeReq> describes_;
  std::uint64_t describes_popped_ = 0;
  std::optional<std::uint64_t> awaiting_follow_;  // the last Describe portal, next message unknown
  bool lost_ = false;                             // over kMaxPending: nothing is checked any more
  // After a RowDescription: its field count, and for an extended one the Describe whose
  // follower decides whether the rows are its portal's.
  std::optional<std::size_t> fields_;
  std::optional<std::uint64_t> fields_describe_;
};

}  // namespace segproxy::protocols::pg
