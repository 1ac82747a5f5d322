// The fixed side-effect-free lists (builtin_lists.hpp). Adding a name here is a security
// decision: it must be a built-in that reads nothing but its arguments, the catalog or
// the clock, writes nothing, takes no lock beyond the statement's snapshot and signals
// nobody. (Not xml: its input parser may resolve external entities.)
#include "authz/wal/builtin_lists.hpp"

#include <algorithm>
#include <iterator>

namespace segproxy::authz::wal {
namespace {

template <std::size_t N>
constexpr bool sorted_contains(const std::string_view (&list)[N], std::string_view name) {
  return std::binary_search(std::begin(list), std::end(list), name);
}

// Each list is sorted (binary search; checked at compile time below).
constexpr std::string_view kPgFunctions[] = {
    "abs", "acos", "age", "array_agg", "array_append", "array_cat", "array_dims", "array_length",
    "array_lower", "array_ndims", "array_position", "array_positions", "array_prepend", "array_remove",
    "array_replace", "array_to_json", "array_to_string", "array_upper", "ascii", "asin", "atan", "atan2",
    "avg", "bit_and", "bit_length", "bit_or", "bool_and", "bool_or", "btrim", "cardinality", "cbrt", "ceil",
    "ceiling", "char_length", "character_length", "chr", "clock_timestamp", "concat", "concat_ws", "corr",
    "cos", "count", "covar_pop", "covar_samp", "cume_dist", "current_database", "current_schema",
    "current_schemas", "current_setting", "date_bin", "date_part", "date_trunc", "decode", "degrees",
    "dense_rank", "div", "encode", "every", "exp", "extract", "first_value", "floor", "format", "format_type",
    "gcd", "gen_random_uuid", "generate_series", "generate_subscripts", "initcap", "isfinite",
    "json_agg", "json_array_elements", "json_array_elements_text", "json_array_length", "json_build_array",
    "json_build_object", "json_each", "json_each_text", "json_extract_path", "json_extract_path_text",
    "json_object", "json_object_agg", "json_object_keys", "json_typeof", "jsonb_agg", "jsonb_array_elements",
    "jsonb_array_elements_text", "jsonb_array_length", "jsonb_build_array", "jsonb_build_object",
    "jsonb_each", "jsonb_each_text", "jsonb_extract_path", "jsonb_extract_path_text", "jsonb_insert",
    "jsonb_object", "jsonb_object_agg", "jsonb_object_keys", "jsonb_path_exists", "jsonb_path_query",
    "jsonb_pretty", "jsonb_set", "jsonb_strip_nulls", "jsonb_typeof", "justify_days", "justify_hours",
    "justify_interval", "lag", "last_value", "lcm", "lead", "left", "length", "ln", "log", "log10", "lower",
    "lpad", "ltrim", "make_date", "make_interval", "make_time", "make_timestamp", "make_timestamptz", "max",
    "md5", "min", "mod", "mode", "now", "nth_value", "ntile", "num_nonnulls", "num_nulls", "octet_length",
    "overlay", "percent_rank", "percentile_cont", "percentile_disc", "pg_backend_pid", "pg_column_size",
    "pg_typeof", "pi", "position", "pow", "power", "quote_ident", "quote_literal", "quote_nullable",
    "radians", "rank", "regexp_match", "regexp_matches", "regexp_replace", "regexp_split_to_array",
    "regexp_split_to_table", "repeat", "replace", "reverse", "right", "round", "row_number", "row_to_json",
    "rpad", "rtrim", "scale", "sha224", "sha256", "sha384", "sha512", "sign", "similar_to_escape", "sin",
    "split_part", "sqrt", "starts_with", "statement_timestamp", "stddev", "stddev_pop", "stddev_samp",
    "string_agg", "string_to_array", "strpos", "substr", "substring", "sum", "tan", "textcat", "timezone",
    "to_char", "to_date", "to_hex", "to_json", "to_jsonb", "to_number", "to_timestamp",
    "transaction_timestamp", "translate", "trim", "trunc", "unnest", "upper", "var_pop", "var_samp",
    "variance", "version", "width_bucket",
};

constexpr std::string_view kPgOperators[] = {
    "!=", "!~", "!~*", "!~~", "!~~*", "#", "#>", "#>>", "%", "&", "&&", "*", "+", "-", "->", "->>", "/", "<",
    "<<", "<=", "<>", "=", ">", ">=", ">>", "?", "?&", "?|", "@", "@>", "@?", "@@", "BETWEEN",
    "BETWEEN SYMMETRIC", "NOT BETWEEN", "NOT BETWEEN SYMMETRIC", "^", "|", "|/", "||", "||/", "~", "~*",
    "~~", "~~*",
};

constexpr std::string_view kPgTypes[] = {
    "bigint", "bit", "bool", "boolean", "bpchar", "bytea", "char", "character", "cidr", "date", "decimal",
    "double precision", "float", "float4", "float8", "inet", "int", "int2", "int4", "int8", "integer",
    "interval", "json", "jsonb", "macaddr", "money", "name", "numeric", "oid", "real", "regclass",
    "regnamespace", "regproc", "regtype", "smallint", "text", "time", "timestamp", "timestamptz", "timetz",
    "tsquery", "tsvector", "uuid", "varbit", "varchar", "xid",
};

constexpr std::string_view kMysqlFunctions[] = {
    "abs", "acos", "adddate", "addtime", "ascii", "asin", "atan", "atan2", "avg", "bin", "bit_and",
    "bit_count", "bit_length", "bit_or", "bit_xor", "cast", "ceil", "ceiling", "char", "char_length",
    "character_length", "coalesce", "concat", "concat_ws", "connection_id", "conv", "convert", "cos", "cot",
    "count", "crc32", "curdate", "current_date", "current_time", "current_timestamp", "current_user",
    "curtime", "database", "date", "date_add", "date_format", "date_sub", "datediff", "day", "dayname",
    "dayofmonth", "dayofweek", "dayofyear", "degrees", "dense_rank", "elt", "exp", "extract", "field",
    "find_in_set", "first_value", "floor", "format", "from_days", "from_unixtime", "greatest",
    "group_concat", "hex", "hour", "if", "ifnull", "inet_aton", "inet_ntoa", "instr", "isnull",
    "json_array", "json_contains", "json_extract", "json_keys", "json_length", "json_object",
    "json_unquote", "json_valid", "lag", "last_day", "last_value", "lcase", "lead", "least", "left",
    "length", "ln", "localtime", "localtimestamp", "locate", "log", "log10", "log2", "lower", "lpad",
    "ltrim", "makedate", "max", "md5", "mid", "min", "minute", "mod", "month", "monthname", "now",
    "nullif", "oct", "octet_length", "ord", "period_add", "period_diff", "pi", "position", "pow", "power",
    "quarter", "radians", "rank", "regexp_instr", "regexp_like", "regexp_replace", "regexp_substr",
    "repeat", "replace", "reverse", "right", "round", "row_number", "rpad", "rtrim", "schema", "second",
    "sha1", "sha2", "sign", "sin", "space", "sqrt", "std", "stddev", "str_to_date", "strcmp", "subdate",
    "substr", "substring", "sum", "sysdate", "tan", "time", "timestampadd", "timestampdiff", "to_days",
    "trim", "truncate", "ucase", "unhex", "unix_timestamp", "upper", "utc_date", "utc_time",
    "utc_timestamp", "variance", "version", "week", "weekday", "year",
};

static_assert(std::is_sorted(std::begin(kPgFunctions), std::end(kPgFunctions)));
static_assert(std::is_sorted(std::begin(kPgOperators), std::end(kPgOperators)));
static_assert(std::is_sorted(std::begin(kPgTypes), std::end(kPgTypes)));
static_assert(std::is_sorted(std::begin(kMysqlFunctions), std::end(kMysqlFunctions)));

}  // namespace

bool pg_listed_function(std::string_view name) { return sorted_contains(kPgFunctions, name); }
bool pg_listed_operator(std::string_view name) { return sorted_contains(kPgOperators, name); }
bool pg_listed_type(std::string_view name) { return sorted_contains(kPgTypes, name); }
bool mysql_listed_function(std::string_view name) { return sorted_contains(kMysqlFunctions, name); }

}  // namespace segproxy::authz::wal
