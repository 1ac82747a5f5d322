#pragma once
// Internal to audit/file_sink.cpp (queue, writer thread) and audit/file_sink_chain.cpp
// (chain and segment writer): the helpers both halves of FileSink use.
#include <stdexcept>
#include <string>
#include <string_view>

#include "audit/record_codec.hpp"
#include "audit/sink.hpp"

namespace segproxy::audit::file_sink_detail {

inline bool is_internal(const AuditSink::OnDurable& done) { return !done; }

// encode_record's canonical key order is seq, ts, instance, event, ..., prev_hash, hash:
// the fields the writer assigns (seq, ts, instance, prev_hash, hash) are the first three
// and the last two. With those cleared, encode_record(r, false) is exactly
// kBodyPrefix + body + kBodySuffix, where body (starting with ,"event":) holds every
// submitted field in canonical form; the writer splices the assigned fields around it.
inline constexpr std::string_view kBodyPrefix = R"({"seq":0,"ts":"")";
inline constexpr std::string_view kBodySuffix = R"(,"prev_hash":""})";

inline std::string encode_body(AuditRecord& r) {
  r.seq = 0;
  r.ts.clear();
  r.instance.clear();
  r.prev_hash.clear();
  r.hash.clear();
  std::string s = encode_record(r, /*with_hash=*/false);
  if (s.size() < kBodyPrefix.size() + kBodySuffix.size() ||
      std::string_view(s).substr(0, kBodyPrefix.size()) != kBodyPrefix ||
      std::string_view(s).substr(s.size() - kBodySuffix.size()) != kBodySuffix)
    throw std::logic_error("audit record encoding is not spliceable");
  s.resize(s.size() - kBodySuffix.size());
  s.erase(0, kBodyPrefix.size());
  return s;
}

}  // namespace segproxy::audit::file_sink_detail
