// Decision-cache key: a keyed hash (authz/sql/statement_hash: SipHash-2-4, the options' key) over a
// canonical serialisation of the parse tree, generic over the protobuf-c descriptors.
// Literal values (A_Const) and token positions are left out; everything else - node
// types, names, options, operators - is included, so two statements with equal
// fingerprints always classify the same way. (libpg_query's own fingerprint is not
// used: it ignores prepared-statement, cursor, savepoint and alias names, and its
// unkeyed XXH3 lets a client search for collisions offline.)
#include <cstring>
#include <string>

#include "authz/sql/pg_walker.hpp"
#include "authz/sql/statement_hash.hpp"

namespace segproxy::authz::sql::detail {
namespace {

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

std::uint64_t fingerprint_tree(const PgQuery__ParseResult* tree, const SipKey& key) {
  std::string buf;
  buf.reserve(512);
  serialise(buf, &tree->base, 0);
  return statement_hash(key, buf);  // never 0: 0 means "parse error"
}

}  // namespace segproxy::authz::sql::detail
