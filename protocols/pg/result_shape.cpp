#include "protocols/pg/result_shape.hpp"

#include <type_traits>
#include <variant>

namespace segproxy::protocols::pg {

bool ResultShape::full() {
  if (batches_.size() >= kMaxPending || describes_ >= kMaxPending) {
    lost_ = true;
    batches_.clear();
    describes_ = 0;
    awaiting_follow_ = nullptr;
    fields_.reset();
    fields_describe_ = nullptr;
  }
  return lost_;
}

ResultShape::Batch& ResultShape::open_extended() {
  if (batches_.empty() || !batches_.back().open) batches_.push_back(Batch{Kind::Extended, true, {}, 0});
  return batches_.back();
}

// Whether the message after a Describe of a portal is an Execute of that portal.
void ResultShape::resolve_follow(const FrontendMessage& m) {
  if (awaiting_follow_ == nullptr || std::holds_alternative<Flush>(m)) return;
  const auto* e = std::get_if<Execute>(&m);
  awaiting_follow_->follow = e != nullptr && e->portal == awaiting_follow_->name ? Follow::Execute : Follow::Other;
  awaiting_follow_ = nullptr;
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
            batches_.push_back(Batch{Kind::Simple, false, {}, 0});
          }
        } else if constexpr (std::is_same_v<T, Describe>) {
          Batch& b = open_extended();
          b.describes.push_back(DescribeReq{msg.target == 'P', std::string(msg.name), Follow::Unknown});
          ++describes_;
          if (msg.target == 'P') awaiting_follow_ = &b.describes.back();
        } else if constexpr (std::is_same_v<T, Parse> || std::is_same_v<T, Bind> || std::is_same_v<T, Execute> ||
                             std::is_same_v<T, Close> || std::is_same_v<T, Flush>) {
          open_extended();
        } else if constexpr (std::is_same_v<T, Sync>) {
          open_extended().open = false;
        } else if constexpr (std::is_same_v<T, FunctionCall>) {
          if (!batches_.empty() && batches_.back().open) batches_.back().kind = Kind::Unchecked;
          batches_.push_back(Batch{Kind::Unchecked, false, {}, 0});
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
      fields_describe_ = nullptr;
      if (batches_.empty() || body.size() < 2) return;
      Batch& b = batches_.front();
      const std::size_t n = static_cast<std::size_t>((body[0] << 8) | body[1]);
      if (b.kind == Kind::Simple) {
        fields_ = n;
      } else if (b.kind == Kind::Extended && b.answered < b.describes.size()) {
        const DescribeReq& d = b.describes[b.answered++];
        if (d.portal) {
          fields_ = n;
          fields_describe_ = &d;
        }
      }
      return;
    }
    case 'n':  // NoData answers a Describe too
      if (!batches_.empty() && batches_.front().kind == Kind::Extended &&
          batches_.front().answered < batches_.front().describes.size())
        ++batches_.front().answered;
      break;
    case 'Z':
      fields_.reset();
      fields_describe_ = nullptr;
      if (!batches_.empty()) {
        const Batch& b = batches_.front();
        for (const auto& d : b.describes) {
          if (&d == awaiting_follow_) awaiting_follow_ = nullptr;
        }
        describes_ -= b.describes.size();
        if (b.open) {
          // ReadyForQuery for a batch still open cannot be told apart: stop checking.
          lost_ = true;
          batches_.clear();
          describes_ = 0;
          awaiting_follow_ = nullptr;
          return;
        }
        batches_.pop_front();
      }
      return;
    default:
      break;
  }
  // Anything else ('C', 'I', 'E', 's', '1', '2', '3', 't', 'G', 'H', 'W', 'V', 'n', ...)
  // ends what a RowDescription described.
  fields_.reset();
  fields_describe_ = nullptr;
}

std::optional<std::size_t> ResultShape::expected_columns() const {
  if (lost_ || !fields_) return std::nullopt;
  if (fields_describe_ != nullptr && fields_describe_->follow != Follow::Execute) return std::nullopt;
  return fields_;
}

}  // namespace segproxy::protocols::pg
