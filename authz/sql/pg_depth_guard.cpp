// Stack-exhaustion guards. libpg_query's tree output and protobuf-c's unpacker both
// recurse once per tree level, with no depth limit of their own: `SELECT 1+1+...+1`
// with ~40k terms or `SELECT 1 UNION SELECT 1 ...` (1 MB) crash libpg_query, ~2000 nested
// sub-selects crash the unpacker (8 MiB stack). A client must not be able to crash the
// proxy, so:
//  1. the text pre-scan (pg_text_limits.cpp) bounds the estimated nesting by
//     limits.max_parse_depth BEFORE calling libpg_query;
//  2. stack_room() >= stack_needed(depth) is checked before calling it, so a thread with
//     a smaller stack than the configured depth needs refuses (54001) instead of crashing;
//  3. wire_depth_exceeds: the message nesting of the protobuf bytes, measured
//     iteratively from the descriptors, checked BEFORE unpacking.
#include <pthread.h>

#include <cstdint>
#include <vector>

#include "authz/sql/pg_walker.hpp"

namespace segproxy::authz::sql::detail {

bool wire_depth_exceeds(const std::uint8_t* data, std::size_t len, std::size_t limit) {
  struct Frame {
    const ProtobufCMessageDescriptor* desc;
    std::size_t end;
  };
  std::vector<Frame> stack{{&pg_query__parse_result__descriptor, len}};
  std::size_t pos = 0;
  const auto varint = [&](std::uint64_t& out) {
    out = 0;
    for (int shift = 0; shift < 64 && pos < len; shift += 7) {
      const std::uint8_t b = data[pos++];
      out |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return true;
    }
    return false;
  };
  while (!stack.empty()) {
    if (pos >= stack.back().end) {
      pos = stack.back().end;
      stack.pop_back();
      continue;
    }
    std::uint64_t key = 0, v = 0;
    if (!varint(key)) return true;  // malformed: refuse
    switch (key & 7) {
      case 0: if (!varint(v)) return true; break;
      case 1: pos += 8; break;
      case 5: pos += 4; break;
      case 2: {
        if (!varint(v) || v > len - pos) return true;
        const auto* f = protobuf_c_message_descriptor_get_field(stack.back().desc,
                                                                static_cast<unsigned>(key >> 3));
        if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
          if (stack.size() >= limit) return true;
          stack.push_back({static_cast<const ProtobufCMessageDescriptor*>(f->descriptor),
                           pos + static_cast<std::size_t>(v)});
        } else {
          pos += static_cast<std::size_t>(v);
        }
        break;
      }
      default: return true;
    }
    if (pos > len) return true;
  }
  return false;
}

std::size_t stack_room() {
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) != 0) return 0;
  void* base = nullptr;
  std::size_t size = 0;
  const bool ok = pthread_attr_getstack(&attr, &base, &size) == 0;
  std::size_t guard = 0;
  pthread_attr_getguardsize(&attr, &guard);
  pthread_attr_destroy(&attr);
  if (!ok) return 0;
  // The real frame (not an ASan fake stack): the stack grows down towards `base`.
  const auto here = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
  const auto low = reinterpret_cast<std::uintptr_t>(base) + guard;
  return here > low ? here - low : 0;
}

std::size_t stack_needed(std::size_t depth) {
  // Measured (tests/unit/sql/pg_statement_limits_test.cpp, docs/policy.md): libpg_query
  // needs up to ~1.1 KiB per level of the estimate (nested sub-selects); the unpacker and
  // the walker stop at kMaxDepth tree levels. Doubled, plus a fixed reserve.
#if defined(__SANITIZE_ADDRESS__)
  constexpr std::size_t kScale = 4;  // ASan's redzones make every frame larger
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  constexpr std::size_t kScale = 4;
#else
  constexpr std::size_t kScale = 1;
#endif
#else
  constexpr std::size_t kScale = 1;
#endif
  return kScale * (512u * 1024u + depth * 2304u);
}

}  // namespace segproxy::authz::sql::detail

namespace segproxy::authz::sql {
std::size_t pg_parse_stack_needed(std::size_t max_parse_depth) { return detail::stack_needed(max_parse_depth); }
}  // namespace segproxy::authz::sql
