// Stack-exhaustion guards. libpg_query's tree output and protobuf-c's unpacker both
// recurse once per tree level, with no depth limit of their own: `SELECT 1+1+...+1`
// with ~40k terms crashes libpg_query, ~2000 nested sub-selects crash the unpacker (8 MiB
// stack). A client must not be able to crash the proxy, so:
//  1. text_depth_estimate: a conservative lexical bound on the tree depth, checked
//     BEFORE calling libpg_query (string literals, quoted identifiers, dollar quotes and
//     comments are skipped; each paren level and each operator since the last comma at
//     that level counts);
//  2. wire_depth_exceeds: the message nesting of the protobuf bytes, measured
//     iteratively from the descriptors, checked BEFORE unpacking.
#include <cctype>
#include <cstring>
#include <vector>

#include "authz/sql/pg_walker.hpp"

namespace segproxy::authz::sql::detail {

std::size_t text_depth_estimate(std::string_view sql) {
  std::vector<std::size_t> runs{0};
  std::size_t sum = 0, worst = 0;  // sum = paren levels * 2 + operators in the open runs
  const std::size_t n = sql.size();
  for (std::size_t i = 0; i < n;) {
    const char c = sql[i];
    if (c == '\'' || c == '"') {  // '...' (also E'..' with \' escapes) or "..."
      const bool escapes = c == '\'' && i > 0 && (sql[i - 1] == 'E' || sql[i - 1] == 'e');
      for (++i; i < n; ++i) {
        if (escapes && sql[i] == '\\') { ++i; continue; }
        if (sql[i] == c) {
          if (i + 1 < n && sql[i + 1] == c) { ++i; continue; }
          break;
        }
      }
      ++i;
    } else if (c == '-' && i + 1 < n && sql[i + 1] == '-') {
      while (i < n && sql[i] != '\n') ++i;
    } else if (c == '/' && i + 1 < n && sql[i + 1] == '*') {
      int level = 0;
      for (; i < n; ++i) {
        if (sql[i] == '/' && i + 1 < n && sql[i + 1] == '*') { ++level; ++i; }
        else if (sql[i] == '*' && i + 1 < n && sql[i + 1] == '/') { ++i; if (--level == 0) { ++i; break; } }
      }
    } else if (c == '$' && (i == 0 || !(std::isalnum(static_cast<unsigned char>(sql[i - 1])) || sql[i - 1] == '_'))) {
      std::size_t j = i + 1;
      while (j < n && (std::isalnum(static_cast<unsigned char>(sql[j])) || sql[j] == '_') &&
             !std::isdigit(static_cast<unsigned char>(sql[i + 1])))
        ++j;
      if (j < n && sql[j] == '$') {  // $tag$ ... $tag$
        const std::string_view tag = sql.substr(i, j - i + 1);
        const auto end = sql.find(tag, j + 1);
        i = end == std::string_view::npos ? n : end + tag.size();
      } else {
        ++i;  // $1 parameter
      }
    } else if (c == '(' || c == '[') {
      runs.push_back(0);
      sum += 2;
      ++i;
    } else if (c == ')' || c == ']') {
      if (runs.size() > 1) {
        sum -= runs.back() + 2;
        runs.pop_back();
      }
      ++i;
    } else if (c == ',' || c == ';') {
      sum -= runs.back();
      runs.back() = 0;
      ++i;
    } else if (std::strchr("+-*/<>=~!@#%^&|`?:", c) != nullptr) {
      ++runs.back();
      ++sum;
      ++i;
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      const std::size_t start = i;
      while (i < n && (std::isalnum(static_cast<unsigned char>(sql[i])) || sql[i] == '_')) ++i;
      const auto word = lower_ascii(sql.substr(start, i - start));
      if (word == "not" || word == "is" || word == "isnull" || word == "notnull" || word == "collate" ||
          word == "at") {  // prefix/postfix chains
        ++runs.back();
        ++sum;
      }
    } else {
      ++i;
    }
    worst = std::max(worst, sum);
  }
  return worst;
}

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

}  // namespace segproxy::authz::sql::detail
