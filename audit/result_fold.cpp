#include "audit/result_fold.hpp"

namespace segproxy::audit {

bool ResultFolder::add(std::optional<std::uint64_t> decision_seq, std::optional<std::uint64_t> rows,
                       std::optional<std::uint64_t> duration_us, std::string_view sqlstate,
                       std::string_view error) {
  if (size_ == entries_.size()) entries_.emplace_back();
  ResultEntry& e = entries_[size_++];
  e.seq = decision_seq;
  e.rows = rows;
  e.duration_us = duration_us;
  e.sqlstate.assign(sqlstate.substr(0, 5));
  std::size_t cut = std::min(error.size(), kMaxError);
  while (cut > 0 && cut < error.size() && (static_cast<unsigned char>(error[cut]) & 0xC0) == 0x80) --cut;
  e.error.assign(error.substr(0, cut));
  return size_ >= max_;
}

void ResultFolder::take(AuditRecord& r) {
  // Element-wise assignment reuses the record's and the entries' string capacity.
  r.results.resize(size_);
  for (std::size_t i = 0; i < size_; ++i) r.results[i] = entries_[i];
  size_ = 0;
}

}  // namespace segproxy::audit
