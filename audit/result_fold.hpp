#pragma once
// Outcome data of a session, folded: one `statement.result` record carries the outcomes
// (rows, duration, SQLSTATE, error) of up to `max_entries` statements in order, so the log
// holds about one record per statement (the decision) instead of two. Outcomes gate
// nothing: a session submits the fold when it is full and at its end, without waiting.
// Not thread-safe: one per session.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "audit/record.hpp"

namespace segproxy::audit {

class ResultFolder {
 public:
  static constexpr std::size_t kDefaultEntries = 32;
  static constexpr std::size_t kMaxError = 256;  // bytes of error text kept per entry

  explicit ResultFolder(std::size_t max_entries = kDefaultEntries) : max_(max_entries ? max_entries : 1) {}

  // One statement's outcome. true: the fold is full, submit it now (take()).
  bool add(std::optional<std::uint64_t> decision_seq, std::optional<std::uint64_t> rows,
           std::optional<std::uint64_t> duration_us, std::string_view sqlstate, std::string_view error);
  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }
  // Moves the folded outcomes into r.results (r's other fields untouched); the folder is
  // empty afterwards and keeps its buffers.
  void take(AuditRecord& r);

 private:
  std::vector<ResultEntry> entries_;  // the first size_ are in use
  std::size_t size_ = 0;
  std::size_t max_;
};

}  // namespace segproxy::audit
