// Decision-cache key: a keyed hash (SipHash-2-4, per-process random key) over a
// canonical serialisation of the parse tree, generic over the protobuf-c descriptors.
// Literal values (A_Const) and token positions are left out; everything else - node
// types, names, options, operators - is included, so two statements with equal
// fingerprints always classify the same way. (libpg_query's own fingerprint is not
// used: it ignores prepared-statement, cursor, savepoint and alias names, and its
// unkeyed XXH3 lets a client search for collisions offline.)
#include <array>
#include <cstring>
#include <random>
#include <string>

#include "authz/sql/pg_walker.hpp"

namespace segproxy::authz::sql::detail {
namespace {

std::uint64_t rotl(std::uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

std::uint64_t siphash24(const std::array<std::uint64_t, 2>& key, const std::string& data) {
  std::uint64_t v0 = 0x736f6d6570736575ULL ^ key[0];
  std::uint64_t v1 = 0x646f72616e646f6dULL ^ key[1];
  std::uint64_t v2 = 0x6c7967656e657261ULL ^ key[0];
  std::uint64_t v3 = 0x7465646279746573ULL ^ key[1];
  const auto round = [&] {
    v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32);
    v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;
    v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;
    v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32);
  };
  const std::size_t len = data.size();
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  std::size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    std::uint64_t m = 0;
    for (int k = 7; k >= 0; --k) m = (m << 8) | p[i + static_cast<std::size_t>(k)];
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
  std::uint64_t b = static_cast<std::uint64_t>(len) << 56;
  for (std::size_t k = 0; i + k < len; ++k) b |= static_cast<std::uint64_t>(p[i + k]) << (8 * k);
  v3 ^= b;
  round();
  round();
  v0 ^= b;
  v2 ^= 0xff;
  for (int r = 0; r < 4; ++r) round();
  return v0 ^ v1 ^ v2 ^ v3;
}

const std::array<std::uint64_t, 2>& process_key() {
  static const std::array<std::uint64_t, 2> key = [] {
    std::random_device rd;
    std::array<std::uint64_t, 2> k{};
    for (auto& w : k) w = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
    return k;
  }();
  return key;
}

void put_u64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void put_str(std::string& out, const char* s) {
  const std::size_t n = s ? std::strlen(s) : 0;
  put_u64(out, n);
  out.append(s ? s : "", n);
}

bool ignored_field(const char* name) {
  return std::strcmp(name, "location") == 0 || std::strcmp(name, "stmt_location") == 0 ||
         std::strcmp(name, "stmt_len") == 0;
}

std::size_t scalar_size(ProtobufCType t) {
  switch (t) {
    case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64: case PROTOBUF_C_TYPE_DOUBLE:
      return 8;
    case PROTOBUF_C_TYPE_BOOL:
      return sizeof(protobuf_c_boolean);
    default:
      return 4;  // int32 family, uint32, enum, float
  }
}

void serialise(std::string& out, const ProtobufCMessage* m, int depth) {
  if (!m) {
    out.push_back('\0');
    return;
  }
  const auto* d = m->descriptor;
  out.append(d->short_name);
  out.push_back('{');
  if (d == &pg_query__a__const__descriptor || depth > kMaxDepth) {  // literal value: left out
    out.push_back('}');
    return;
  }
  if (d == &pg_query__node__descriptor) {  // oneof of ~250 members: only one is set
    const auto* n = reinterpret_cast<const PgQuery__Node*>(m);
    put_u64(out, static_cast<std::uint64_t>(n->node_case));
    serialise(out, node_inner(n), depth + 1);
    out.push_back('}');
    return;
  }
  const char* base = reinterpret_cast<const char*>(m);
  for (unsigned i = 0; i < d->n_fields; ++i) {
    const auto& f = d->fields[i];
    if ((f.flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
        *reinterpret_cast<const std::uint32_t*>(base + f.quantifier_offset) != f.id)
      continue;
    if (ignored_field(f.name)) continue;
    put_u64(out, f.id);
    const char* member = base + f.offset;
    if (f.label == PROTOBUF_C_LABEL_REPEATED) {
      const auto n = *reinterpret_cast<const std::size_t*>(base + f.quantifier_offset);
      put_u64(out, n);
      const char* arr = *reinterpret_cast<const char* const*>(member);
      for (std::size_t k = 0; k < n; ++k) {
        if (f.type == PROTOBUF_C_TYPE_MESSAGE)
          serialise(out, reinterpret_cast<const ProtobufCMessage* const*>(arr)[k], depth + 1);
        else if (f.type == PROTOBUF_C_TYPE_STRING)
          put_str(out, reinterpret_cast<const char* const*>(arr)[k]);
        else if (f.type == PROTOBUF_C_TYPE_BYTES)
          out.push_back('?');  // not used by pg_query.proto
        else
          out.append(arr + k * scalar_size(f.type), scalar_size(f.type));
      }
      continue;
    }
    switch (f.type) {
      case PROTOBUF_C_TYPE_MESSAGE:
        serialise(out, *reinterpret_cast<const ProtobufCMessage* const*>(member), depth + 1);
        break;
      case PROTOBUF_C_TYPE_STRING:
        put_str(out, *reinterpret_cast<const char* const*>(member));
        break;
      case PROTOBUF_C_TYPE_BYTES: {
        const auto* b = reinterpret_cast<const ProtobufCBinaryData*>(member);
        put_u64(out, b->len);
        out.append(reinterpret_cast<const char*>(b->data), b->len);
        break;
      }
      default:
        out.append(member, scalar_size(f.type));
        break;
    }
  }
  out.push_back('}');
}

}  // namespace

std::uint64_t fingerprint_tree(const PgQuery__ParseResult* tree) {
  std::string buf;
  buf.reserve(512);
  serialise(buf, &tree->base, 0);
  const std::uint64_t h = siphash24(process_key(), buf);
  return h == 0 ? 1 : h;  // 0 means "parse error"
}

}  // namespace segproxy::authz::sql::detail
