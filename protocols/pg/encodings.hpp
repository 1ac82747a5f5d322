#pragma once
// PostgreSQL's client encodings (PostgreSQL 15 src/common/encnames.c), in ONE table: each
// name and alias PostgreSQL accepts, its canonical name, and how segproxy's classifier
// can read text in it (the glibc iconv name that converts it to UTF-8 as PostgreSQL
// does). Pure data: no conversion here (authz/sql/pg_transcode does it).
#include <optional>
#include <span>
#include <string_view>

namespace segproxy::protocols::pg {

enum class EncodingSupport {
  Utf8,      // UTF8: the text is classified as it is (and must be valid UTF-8)
  SqlAscii,  // SQL_ASCII: the server does no conversion; bytes are read in server_encoding
  Iconv,     // converted to UTF-8 with iconv_name before classification
  Refused,   // cannot be followed faithfully: statements are refused (`refusal` says why)
};

struct PgEncoding {
  std::string_view name;        // PostgreSQL's canonical name (as ParameterStatus reports it)
  EncodingSupport support;
  std::string_view iconv_name;  // Iconv only
  std::string_view refusal;     // Refused only
};

// `name` as PostgreSQL matches it (case-insensitive, non-alphanumerics ignored: "utf-8",
// "Shift_JIS", "win932", "ISO-8859-1" ...). nullopt: not a PostgreSQL encoding name.
std::optional<PgEncoding> find_pg_encoding(std::string_view name);

// Every canonical encoding (for tests and docs).
std::span<const PgEncoding> all_pg_encodings();

}  // namespace segproxy::protocols::pg
