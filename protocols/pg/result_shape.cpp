#include "protocols/pg/result_shape.hpp"

#include <type_traits>
#include <variant>

namespace segproxy::protocols::pg {

void ResultShape::reset_all() {
  batches_.clear();
  describes_popped_ += describes_.size();
  describes_.clear();
  awaiting_follow_.reset();
  fields_.reset();
  fields_describe_.reset();
}

bool ResultShape::full() {
  if (batches_.size() >= kMaxPending || describes_.size() >= kMaxPending) {
    lost_ = true;
    reset_all();
  }
  return lost_;
}

ResultShape::DescribeReq* ResultShape::describe(std::uint64_t seq) {
  if (seq < describes_popped_ || seq - describes_popped_ >= describes_.size()) return nullptr;
  return &describes_[static_cast<std::size_t>(seq - describes_popped_)];
}

const ResultShape::DescribeReq* ResultShape::describe(std::uint64_t seq) const {
  if (seq < describes_popped_ || seq - describes_popped_ >= describes_.size()) return nullptr;
  return &describes_[static_cast<std::size_t>(seq - describes_popped_)];
}

ResultShape::Batch& ResultShape::open_extended() {
  if (batches_.empty() || !batches_.back().open) batches_.push_back(Batch{Kind::Extended, true, 0, 0});
  return batches_.back();
}

// Whether the message after a Describe of a portal is an Execute of that portal.
void ResultShape::resolve_follow(const FrontendMessage& m) {
  if (!awaiting_follow_ || std::holds_alternative<Flush>(m)) return;
  DescribeReq* d = describe(*awaiting_follow_);
  awaiting_follow_.reset();
  if (d == nullptr) return;
  const auto* e = std::get_if<Execute>(&m);
  d->follow = e != nullptr && e->portal == d->name ? Follow::Execute : Follow::Other;
}

void ResultShape::forwarded(const FrontendMessage& m) {
  if (lost_ || full()) return;
  resolve_follow(m);
  std::visit(
      [&](const auto& msg) {
        using T = std::decay_t<decltype(msg)>;
        (void)msg;
        if constexpr (std::is_same_v<T, Query>) {
          if (!batches_.empty() && batches_.back().open) {
            // A Query inside an unfinished extended batch: one ReadyForQuery ends both.
            batches_.back().kind = Kind::Unchecked;
            batches_.back().open = false;
          } else {
            batches_.push_back(Batch{Kind::Simple, false, 0, 0});
          }
        } else if constexpr (std::is_same_v<T, Describe>) {
          ++open_extended().describes;
          describes_.push_back(DescribeReq{msg.target == 'P', std::string(msg.name), Follow::Unknown});
          if (msg.target == 'P') awaiting_follow_ = describes_popped_ + describes_.size() - 1;
        } else if constexpr (std::is_same_v<T, Parse> || std::is_same_v<T, Bind> || std::is_same_v<T, Execute> ||
                             std::is_same_v<T, Close> || std::is_same_v<T, Flush>) {
          open_extended();
        } else if constexpr (std::is_same_v<T, Sync>) {
          open_extended().open = false;
        } else if constexpr (std::is_same_v<T, FunctionCall>) {
          if (!batches_.empty() && batches_.back().open) {
            // As a Query: its ReadyForQuery (if the batch did not fail) ends both.
            batches_.back().kind = Kind::Unchecked;
            batches_.back().open = false;
          } else {
            batches_.push_back(Batch{Kind::Unchecked, false, 0, 0});
          }
        }
        // CopyData / CopyDone / CopyFail belong to the Query in COPY IN; Terminate ends it all.
      },
      m);
}

void ResultShape::backend(char type, std::span<const std::uint8_t> body) {
  if (lost_) return;
  switch (type) {
    case 'N':  // asynchronous: may come anywhere, between a RowDescription and its rows too
    case 'A':
    case 'S':
      return;
    case 'T': {
      fields_.reset();
      fields_describe_.reset();
      if (batches_.empty() || body.size() < 2) return;
      Batch& b = batches_.front();
      const std::size_t n = static_cast<std::size_t>((body[0] << 8) | body[1]);
      if (b.kind == Kind::Simple) {
        fields_ = n;
      } else if (b.kind == Kind::Extended && b.answered < b.describes) {
        // The front batch's Describes are the first ones pending.
        const std::size_t i = b.answered++;
        if (describes_[i].portal) {
          fields_ = n;
          fields_describe_ = describes_popped_ + i;
        }
      }
      return;
    }
    case 'n':  // NoData answers a Describe too
      if (!batches_.empty() && batches_.front().kind == Kind::Extended &&
          batches_.front().answered < batches_.front().describes)
        ++batches_.front().answered;
      break;
    case 'Z':
      fields_.reset();
      fields_describe_.reset();
      end_front_batch();
      return;
    default:
      break;
  }
  // Anything else ('C', 'I', 'E', 's', '1', '2', '3', 't', 'G', 'H', 'W', 'V', 'n', ...)
  // ends what a RowDescription described.
  fields_.reset();
  fields_describe_.reset();
}

// The front batch's request is answered (ReadyForQuery) or was skipped by the backend.
void ResultShape::end_front_batch() {
  if (batches_.empty()) return;
  const Batch b = batches_.front();
  if (b.open) {
    // The end of a batch still open cannot be told apart: stop checking.
    lost_ = true;
    reset_all();
    return;
  }
  const std::uint64_t end = describes_popped_ + b.describes;
  if (awaiting_follow_ && *awaiting_follow_ < end) awaiting_follow_.reset();
  for (std::size_t i = 0; i < b.describes && !describes_.empty(); ++i) {
    describes_.pop_front();
    ++describes_popped_;
  }
  batches_.pop_front();
}

void ResultShape::request_skipped() {
  if (lost_) return;
  fields_.reset();
  fields_describe_.reset();
  end_front_batch();
}

std::optional<std::size_t> ResultShape::expected_columns() const {
  if (lost_ || !fields_) return std::nullopt;
  if (fields_describe_) {
    const DescribeReq* d = describe(*fields_describe_);
    if (d == nullptr || d->follow != Follow::Execute) return std::nullopt;
  }
  return fields_;
}

}  // namespace segproxy::protocols::pg
