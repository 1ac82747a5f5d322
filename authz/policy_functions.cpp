// The built-in function tables of the policy engine, in one place (docs/policy.md).
//
// SAFE: pg_catalog functions that compute on their arguments or report harmless
// session facts. They are allowed for every segment (a `functions.deny` entry still
// removes one). Not here, hence denied unless listed in functions.allow: anything that
// reads or writes server state, files, settings, locks or other sessions
// (pg_terminate_backend, pg_advisory_lock, current_setting, pg_reload_conf, ...),
// and every user-defined or extension function.
//
// CATALOG: metadata helpers that psql's \d family, JDBC's DatabaseMetaData and
// psycopg2 call on pg_catalog rows (owner names, visibility, type names, definitions,
// sizes, privilege tests). They reveal schema metadata only, never table contents, and
// the catalog tables they are applied to still need a rule; they are safe as well.
//
// OPAQUE: functions whose text/oid arguments name what they read or write (SQL text,
// relations, sequences, large objects, server files, remote databases), so the table
// rules cannot see the access. Denied even when a functions.allow glob matches; only
// an exact, glob-free functions.allow entry naming the function allows it.
//
// pg_notify is neither: it is NOTIFY, so it needs the `notify` statement class (or an
// allow entry). set_config is allowed only as set_config('search_path', '', true|false)
// with constant arguments, the empty search_path (the classifier forbids every other call).
#include <algorithm>
#include <iterator>
#include <string_view>
#include <vector>

#include "authz/policy_engine.hpp"

namespace segproxy::authz {
namespace {

constexpr std::string_view kSafe[] = {
    "abs", "age", "array_agg", "array_append", "array_cat", "array_dims", "array_fill",
    "array_length", "array_lower", "array_ndims", "array_position", "array_positions",
    "array_prepend", "array_remove", "array_replace", "array_to_json", "array_to_string",
    "array_upper", "ascii", "avg", "bit_and", "bit_length", "bit_or", "bool_and", "bool_or",
    "btrim", "cardinality", "cbrt", "ceil", "ceiling", "char_length", "character_length",
    "chr", "clock_timestamp", "coalesce", "concat", "concat_ws", "corr", "count",
    "covar_pop", "covar_samp", "cume_dist", "current_catalog", "current_database",
    "current_date", "current_schema", "current_schemas", "current_time",
    "current_timestamp", "current_user", "date_bin", "date_part", "date_trunc", "decode",
    "degrees", "dense_rank", "div", "encode", "every", "exp", "extract", "factorial",
    "first_value", "floor", "format", "gcd", "gen_random_uuid", "generate_series",
    "generate_subscripts", "greatest", "initcap", "isfinite", "json_agg",
    "json_array_elements", "json_array_elements_text", "json_array_length",
    "json_build_array", "json_build_object", "json_each", "json_each_text",
    "json_extract_path", "json_extract_path_text", "json_object", "json_object_agg",
    "json_object_keys", "json_strip_nulls", "json_typeof", "jsonb_agg",
    "jsonb_array_elements", "jsonb_array_elements_text", "jsonb_array_length",
    "jsonb_build_array", "jsonb_build_object", "jsonb_each", "jsonb_each_text",
    "jsonb_extract_path", "jsonb_extract_path_text", "jsonb_insert", "jsonb_object",
    "jsonb_object_agg", "jsonb_object_keys", "jsonb_path_exists", "jsonb_path_match",
    "jsonb_path_query", "jsonb_path_query_array", "jsonb_path_query_first", "jsonb_pretty",
    "jsonb_set", "jsonb_strip_nulls", "jsonb_typeof", "justify_days", "justify_hours",
    "justify_interval", "lag", "last_value", "lcm", "lead", "least", "left", "length",
    "ln", "localtime", "localtimestamp", "log", "log10", "lower", "lpad", "ltrim",
    "make_date", "make_interval", "make_time", "make_timestamp", "make_timestamptz",
    "max", "md5", "min", "mod", "mode", "now", "nth_value", "ntile", "nullif",
    "num_nonnulls", "num_nulls", "octet_length", "overlay", "percent_rank",
    "percentile_cont", "percentile_disc", "pg_backend_pid", "pg_current_xact_id",
    "pg_postmaster_start_time", "pg_sleep", "pg_sleep_for", "pg_typeof", "pi", "position",
    "pow", "power", "quote_ident", "quote_literal", "quote_nullable", "radians", "random",
    "rank", "regexp_count", "regexp_instr", "regexp_like", "regexp_match",
    "regexp_matches", "regexp_replace", "regexp_split_to_array", "regexp_split_to_table",
    "regexp_substr", "repeat", "replace", "reverse", "right", "round", "row_number",
    "row_to_json", "rpad", "rtrim", "session_user", "sha224", "sha256", "sha384",
    "sha512", "sign", "split_part", "sqrt", "starts_with", "statement_timestamp",
    "stddev", "stddev_pop", "stddev_samp", "string_agg", "string_to_array", "strpos",
    "substr", "substring", "sum", "timeofday", "to_char", "to_date", "to_hex", "to_json",
    "to_jsonb", "to_number", "to_timestamp", "transaction_timestamp", "translate", "trim",
    "trunc", "txid_current", "unnest", "upper", "user", "var_pop", "var_samp", "variance",
    "version", "width_bucket",
    // Type-named conversion calls (written as functions: text(x), int4(x), ...).
    "bool", "date", "float4", "float8", "int2", "int4", "int8", "interval", "numeric",
    "text", "time", "timestamp", "timestamptz", "uuid", "varchar",
    // JSON to rows (values only).
    "json_populate_record", "json_populate_recordset", "json_to_record", "json_to_recordset",
    "jsonb_populate_record", "jsonb_populate_recordset", "jsonb_to_record", "jsonb_to_recordset",
    // Releases only the session's own advisory locks (connection-pool resets send it).
    "pg_advisory_unlock_all",
    // Full-text search on values.
    "plainto_tsquery", "phraseto_tsquery", "setweight", "to_tsquery", "to_tsvector",
    "ts_headline", "ts_rank", "ts_rank_cd", "websearch_to_tsquery"};

constexpr std::string_view kCatalog[] = {
    "acldefault", "col_description", "format_type", "has_any_column_privilege", "has_column_privilege",
    "has_database_privilege", "has_function_privilege", "has_schema_privilege",
    "has_sequence_privilege", "has_table_privilege", "has_type_privilege", "obj_description",
    "pg_char_to_encoding", "pg_collation_is_visible", "pg_conversion_is_visible",
    "pg_encoding_to_char", "pg_function_is_visible", "pg_get_constraintdef", "pg_get_expr",
    "pg_get_function_arguments", "pg_get_function_identity_arguments", "pg_get_function_result",
    "pg_get_indexdef", "pg_get_partition_constraintdef", "pg_get_partkeydef", "pg_get_ruledef",
    "pg_get_serial_sequence", "pg_get_statisticsobjdef_columns", "pg_get_triggerdef",
    "pg_get_userbyid", "pg_get_viewdef", "pg_has_role", "pg_indexes_size", "pg_opclass_is_visible",
    "pg_operator_is_visible", "pg_opfamily_is_visible", "pg_partition_ancestors",
    "pg_partition_root", "pg_partition_tree", "pg_relation_is_publishable", "pg_tablespace_location",
    "pg_get_function_sqlbody", "pg_get_statisticsobjdef", "pg_get_statisticsobjdef_expressions", "pg_get_publication_tables",
    "pg_describe_object", "pg_identify_object", "pg_get_keywords", "pg_options_to_table", "pg_get_replica_identity_index",
    "pg_relation_size", "pg_size_pretty", "pg_statistics_obj_is_visible", "pg_table_is_visible",
    "pg_table_size", "pg_total_relation_size", "pg_ts_config_is_visible", "pg_ts_dict_is_visible",
    "pg_ts_parser_is_visible", "pg_ts_template_is_visible", "pg_type_is_visible",
    "pg_database_size", "pg_get_functiondef", "pg_is_in_recovery",
    "shobj_description"};

// information_schema's internal helpers, used by its views and by catalog queries
// (pgjdbc getPrimaryKeys: information_schema._pg_expandarray). Pure functions of their
// arguments and pg_catalog rows.
constexpr std::string_view kInfoSchema[] = {
    "_pg_char_max_length", "_pg_char_octet_length", "_pg_datetime_precision", "_pg_expandarray",
    "_pg_index_position", "_pg_interval_type", "_pg_numeric_precision",
    "_pg_numeric_precision_radix", "_pg_numeric_scale", "_pg_truetypid", "_pg_truetypmod"};

constexpr std::string_view kOpaque[] = {
    // SQL text or relation names as text
    "cursor_to_xml", "cursor_to_xmlschema", "database_to_xml",
    "database_to_xml_and_xmlschema", "database_to_xmlschema", "query_to_xml",
    "query_to_xml_and_xmlschema", "query_to_xmlschema", "schema_to_xml",
    "schema_to_xml_and_xmlschema", "schema_to_xmlschema", "table_to_xml",
    "table_to_xml_and_xmlschema", "table_to_xmlschema", "ts_rewrite", "ts_stat",
    // sequences named by text / regclass
    "currval", "nextval", "setval",
    // server files
    "pg_file_write", "pg_ls_dir", "pg_read_binary_file", "pg_read_file", "pg_stat_file",
    // large objects (by oid, outside table ACLs)
    "lo_close", "lo_creat", "lo_create", "lo_export", "lo_from_bytea", "lo_get",
    "lo_import", "lo_open", "lo_put", "lo_truncate", "lo_unlink", "loread", "lowrite"};

// MySQL/MariaDB built-ins that compute on their arguments or report harmless session
// facts. Not here (denied unless functions.allow lists them): SLEEP, BENCHMARK, the lock
// functions (GET_LOCK ...), LOAD_FILE, replication waits (MASTER_POS_WAIT ...),
// sequences (NEXTVAL, SETVAL, LASTVAL) and every UDF or stored function.
constexpr std::string_view kMysqlSafe[] = {
    "abs", "acos", "adddate", "addtime", "ascii", "asin", "atan", "atan2", "avg", "bin", "bit_and",
    "bit_count", "bit_length", "bit_or", "bit_xor", "cast", "ceil", "ceiling", "char", "char_length",
    "character_length", "charset", "coalesce", "coercibility", "collation", "concat", "concat_ws",
    "connection_id", "conv", "convert", "convert_tz", "cos", "cot", "count", "crc32", "cume_dist", "curdate",
    "current_date", "current_role", "current_time", "current_timestamp", "current_user", "curtime", "database",
    "date", "date_add", "date_format", "date_sub", "datediff", "day", "dayname", "dayofmonth", "dayofweek",
    "dayofyear", "degrees", "dense_rank", "elt", "exp", "export_set", "extract", "field", "find_in_set",
    "first_value", "floor", "format", "found_rows", "from_base64", "from_days", "from_unixtime", "greatest",
    "group_concat", "hex", "hour", "if", "ifnull", "inet6_aton", "inet6_ntoa", "inet_aton", "inet_ntoa",
    "insert", "instr", "interval", "isnull", "json_array", "json_arrayagg", "json_contains",
    "json_contains_path", "json_depth", "json_extract", "json_insert", "json_keys", "json_length",
    "json_merge", "json_merge_patch", "json_merge_preserve", "json_object", "json_objectagg", "json_quote",
    "json_remove", "json_replace", "json_search", "json_set", "json_type", "json_unquote", "json_valid",
    "lag", "last_day", "last_insert_id", "last_value", "lcase", "lead", "least", "left", "length", "ln",
    "localtime", "localtimestamp", "locate", "log", "log10", "log2", "lower", "lpad", "ltrim", "make_set",
    "makedate", "maketime", "max", "md5", "microsecond", "mid", "min", "minute", "mod", "month",
    "monthname", "now", "nth_value", "ntile", "nullif", "oct", "octet_length", "ord", "percent_rank",
    "period_add", "period_diff", "pi", "position", "pow", "power", "quarter", "quote", "radians", "rand",
    "rank", "regexp_instr", "regexp_like", "regexp_replace", "regexp_substr", "repeat", "replace",
    "reverse", "right", "round", "row_count", "row_number", "rpad", "rtrim", "schema", "sec_to_time",
    "second", "session_user", "sha", "sha1", "sha2", "sign", "sin", "soundex", "space", "sqrt", "std",
    "stddev", "stddev_pop", "stddev_samp", "str_to_date", "strcmp", "subdate", "substr", "substring",
    "substring_index", "subtime", "sum", "sysdate", "system_user", "tan", "time", "time_format",
    "time_to_sec", "timediff", "timestamp", "timestampadd", "timestampdiff", "to_base64", "to_days",
    "to_seconds", "trim", "truncate", "ucase", "unhex", "unix_timestamp", "upper", "user", "utc_date",
    "utc_time", "utc_timestamp", "uuid", "uuid_short", "values", "var_pop", "var_samp", "variance",
    "version", "week", "weekday", "weekofyear", "year", "yearweek"};

}  // namespace

bool is_safe_mysql_builtin_function(std::string_view name) {
  return std::find(std::begin(kMysqlSafe), std::end(kMysqlSafe), name) != std::end(kMysqlSafe);
}

bool is_safe_builtin_function(std::string_view name) {
  static const std::vector<std::string_view> sorted = [] {
    std::vector<std::string_view> v(std::begin(kSafe), std::end(kSafe));
    v.insert(v.end(), std::begin(kCatalog), std::end(kCatalog));
    std::sort(v.begin(), v.end());
    return v;
  }();
  return std::binary_search(sorted.begin(), sorted.end(), name);
}

bool is_large_object_function(std::string_view name) {
  // lo_import / lo_export (one or two arguments) read and write server files: never here.
  static constexpr std::string_view kLargeObject[] = {
      "lo_close", "lo_creat", "lo_create", "lo_from_bytea", "lo_get", "lo_lseek", "lo_lseek64", "lo_open",
      "lo_put", "lo_tell", "lo_tell64", "lo_truncate", "lo_truncate64", "lo_unlink", "loread", "lowrite"};
  return std::find(std::begin(kLargeObject), std::end(kLargeObject), name) != std::end(kLargeObject);
}

bool is_safe_information_schema_function(std::string_view name) {
  return std::find(std::begin(kInfoSchema), std::end(kInfoSchema), name) != std::end(kInfoSchema);
}

bool is_opaque_function(std::string_view name) {
  if (name.rfind("dblink", 0) == 0) return true;  // dblink extension: remote SQL text
  return std::find(std::begin(kOpaque), std::end(kOpaque), name) != std::end(kOpaque);
}

}  // namespace segproxy::authz
