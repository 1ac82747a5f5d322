// The built-in tables of system catalog relations (catalog_relations.hpp). The
// Metadata lists hold what the metadata queries of drivers and tools read: psql's \d
// family, pg_dump, pgjdbc DatabaseMetaData, psycopg2 / node-postgres type lookups,
// DBeaver; mariadb CLI, mariadb-dump, Connector/J. Kept sorted (binary search).
#include "authz/sql/catalog_relations.hpp"

#include <algorithm>
#include <cctype>
#include <iterator>
#include <string>

namespace segproxy::authz::sql {
namespace {

// Every relation (table or view) of PostgreSQL 15's pg_catalog.
constexpr std::string_view kPgCatalogRelations[] = {
    "pg_aggregate", "pg_am", "pg_amop", "pg_amproc", "pg_attrdef", "pg_attribute",
    "pg_auth_members", "pg_authid", "pg_available_extension_versions",
    "pg_available_extensions", "pg_backend_memory_contexts", "pg_cast", "pg_class",
    "pg_collation", "pg_config", "pg_constraint", "pg_conversion", "pg_cursors",
    "pg_database", "pg_db_role_setting", "pg_default_acl", "pg_depend", "pg_description",
    "pg_enum", "pg_event_trigger", "pg_extension", "pg_file_settings",
    "pg_foreign_data_wrapper", "pg_foreign_server", "pg_foreign_table", "pg_group",
    "pg_hba_file_rules", "pg_ident_file_mappings", "pg_index", "pg_indexes", "pg_inherits",
    "pg_init_privs", "pg_language", "pg_largeobject", "pg_largeobject_metadata", "pg_locks",
    "pg_matviews", "pg_namespace", "pg_opclass", "pg_operator", "pg_opfamily",
    "pg_parameter_acl", "pg_partitioned_table", "pg_policies", "pg_policy",
    "pg_prepared_statements", "pg_prepared_xacts", "pg_proc", "pg_publication",
    "pg_publication_namespace", "pg_publication_rel", "pg_publication_tables", "pg_range",
    "pg_replication_origin", "pg_replication_origin_status", "pg_replication_slots",
    "pg_rewrite", "pg_roles", "pg_rules", "pg_seclabel", "pg_seclabels", "pg_sequence",
    "pg_sequences", "pg_settings", "pg_shadow", "pg_shdepend", "pg_shdescription",
    "pg_shmem_allocations", "pg_shseclabel", "pg_stat_activity", "pg_stat_all_indexes",
    "pg_stat_all_tables", "pg_stat_archiver", "pg_stat_bgwriter", "pg_stat_database",
    "pg_stat_database_conflicts", "pg_stat_gssapi", "pg_stat_progress_analyze",
    "pg_stat_progress_basebackup", "pg_stat_progress_cluster", "pg_stat_progress_copy",
    "pg_stat_progress_create_index", "pg_stat_progress_vacuum", "pg_stat_recovery_prefetch",
    "pg_stat_replication", "pg_stat_replication_slots", "pg_stat_slru", "pg_stat_ssl",
    "pg_stat_subscription", "pg_stat_subscription_stats", "pg_stat_sys_indexes",
    "pg_stat_sys_tables", "pg_stat_user_functions", "pg_stat_user_indexes",
    "pg_stat_user_tables", "pg_stat_wal", "pg_stat_wal_receiver", "pg_stat_xact_all_tables",
    "pg_stat_xact_sys_tables", "pg_stat_xact_user_functions", "pg_stat_xact_user_tables",
    "pg_statio_all_indexes", "pg_statio_all_sequences", "pg_statio_all_tables",
    "pg_statio_sys_indexes", "pg_statio_sys_sequences", "pg_statio_sys_tables",
    "pg_statio_user_indexes", "pg_statio_user_sequences", "pg_statio_user_tables",
    "pg_statistic", "pg_statistic_ext", "pg_statistic_ext_data", "pg_stats", "pg_stats_ext",
    "pg_stats_ext_exprs", "pg_subscription", "pg_subscription_rel", "pg_tables",
    "pg_tablespace", "pg_timezone_abbrevs", "pg_timezone_names", "pg_transform",
    "pg_trigger", "pg_ts_config", "pg_ts_config_map", "pg_ts_dict", "pg_ts_parser",
    "pg_ts_template", "pg_type", "pg_user", "pg_user_mapping", "pg_user_mappings",
    "pg_views"};

// pg_catalog relations that describe objects. Not here on purpose: pg_settings and
// pg_file_settings / pg_hba_file_rules / pg_config (server configuration), the
// pg_stat* / pg_locks / pg_cursors views (other sessions' activity and query text),
// pg_db_role_setting, pg_replication_* (Other: an exact rule may grant them), and the
// Values / Credentials ones below. pg_subscription is safe to list: PostgreSQL grants
// PUBLIC only its columns without the connection string (subconninfo); pg_dump counts
// its rows. pg_statistic_ext holds statistics definitions (the values are in
// pg_statistic_ext_data).
constexpr std::string_view kPgMetadata[] = {
    "pg_aggregate", "pg_am", "pg_amop", "pg_amproc", "pg_attrdef", "pg_attribute",
    "pg_auth_members", "pg_available_extension_versions", "pg_available_extensions", "pg_cast",
    "pg_class", "pg_collation", "pg_constraint", "pg_conversion", "pg_database",
    "pg_default_acl", "pg_depend", "pg_description", "pg_enum", "pg_event_trigger",
    "pg_extension", "pg_foreign_data_wrapper", "pg_foreign_server", "pg_foreign_table",
    "pg_index", "pg_indexes", "pg_inherits", "pg_init_privs", "pg_language",
    "pg_largeobject_metadata", "pg_matviews", "pg_namespace", "pg_opclass", "pg_operator",
    "pg_opfamily", "pg_partitioned_table", "pg_policies", "pg_policy", "pg_proc",
    "pg_publication", "pg_publication_namespace", "pg_publication_rel",
    "pg_publication_tables", "pg_range", "pg_rewrite", "pg_roles", "pg_rules", "pg_seclabel",
    "pg_seclabels", "pg_sequence", "pg_shdepend", "pg_shdescription", "pg_shseclabel",
    "pg_statistic_ext", "pg_subscription", "pg_tables", "pg_tablespace",
    "pg_timezone_abbrevs", "pg_timezone_names", "pg_transform", "pg_trigger", "pg_ts_config",
    "pg_ts_config_map", "pg_ts_dict", "pg_ts_parser", "pg_ts_template", "pg_type", "pg_views"};

// Column statistics (most common values, histograms), large object contents, sequence
// positions.
constexpr std::string_view kPgValues[] = {
    "pg_largeobject", "pg_sequences", "pg_statistic", "pg_statistic_ext_data",
    "pg_stats", "pg_stats_ext", "pg_stats_ext_exprs"};

// Password hashes; user mapping options (passwords of foreign servers).
constexpr std::string_view kPgCredentials[] = {
    "pg_authid", "pg_shadow", "pg_user_mapping", "pg_user_mappings"};

constexpr std::string_view kPgInfoSchemaMetadata[] = {
    "administrable_role_authorizations", "applicable_roles", "attributes",
    "character_sets", "check_constraint_routine_usage", "check_constraints",
    "collation_character_set_applicability", "collations", "column_column_usage",
    "column_domain_usage", "column_options", "column_privileges", "column_udt_usage",
    "columns", "constraint_column_usage", "constraint_table_usage", "data_type_privileges",
    "domain_constraints", "domain_udt_usage", "domains", "element_types", "enabled_roles",
    "foreign_data_wrapper_options", "foreign_data_wrappers", "foreign_server_options",
    "foreign_servers", "foreign_table_options", "foreign_tables",
    "information_schema_catalog_name", "key_column_usage", "parameters",
    "referential_constraints", "role_column_grants", "role_routine_grants",
    "role_table_grants", "role_udt_grants", "role_usage_grants", "routine_column_usage",
    "routine_privileges", "routine_routine_usage", "routine_sequence_usage",
    "routine_table_usage", "routines", "schemata", "sequences", "sql_features",
    "sql_implementation_info", "sql_parts", "sql_sizing", "table_constraints",
    "table_privileges", "tables", "transforms", "triggered_update_columns", "triggers",
    "udt_privileges", "usage_privileges", "user_defined_types", "view_column_usage",
    "view_routine_usage", "view_table_usage", "views"};

constexpr std::string_view kPgInfoSchemaCredentials[] = {
    "_pg_user_mappings", "user_mapping_options", "user_mappings"};

// MySQL / MariaDB information_schema (lower case): object descriptions. Not here:
// PROCESSLIST (other sessions' statements), GLOBAL_/SESSION_VARIABLES and _STATUS,
// INNODB_* (buffer pool pages, locks, statistics), CLIENT_/USER_STATISTICS, ...
constexpr std::string_view kMysqlInfoSchemaMetadata[] = {
    "applicable_roles", "character_sets", "check_constraints",
    "collation_character_set_applicability", "collations", "column_privileges", "columns",
    "enabled_roles", "engines", "events", "files", "key_column_usage", "keywords",
    "parameters", "partitions", "plugins", "referential_constraints", "routines",
    "schema_privileges", "schemata", "sql_functions", "statistics", "table_constraints",
    "table_privileges", "tables", "tablespaces", "triggers", "user_privileges", "views"};

// Histograms: MySQL 8's information_schema.COLUMN_STATISTICS; MariaDB's engine-
// independent statistics and InnoDB's persistent statistics in `mysql`.
constexpr std::string_view kMysqlValues[] = {
    "column_stats", "index_stats", "innodb_index_stats", "innodb_table_stats", "table_stats"};

// `mysql` tables holding password hashes, replication / federated passwords.
constexpr std::string_view kMysqlCredentials[] = {
    "global_priv", "password_history", "servers", "slave_master_info", "slave_relay_log_info",
    "user"};

static_assert(std::is_sorted(std::begin(kPgCatalogRelations), std::end(kPgCatalogRelations)));
static_assert(std::is_sorted(std::begin(kPgMetadata), std::end(kPgMetadata)));
static_assert(std::is_sorted(std::begin(kPgValues), std::end(kPgValues)));
static_assert(std::is_sorted(std::begin(kPgCredentials), std::end(kPgCredentials)));
static_assert(std::is_sorted(std::begin(kPgInfoSchemaMetadata), std::end(kPgInfoSchemaMetadata)));
static_assert(std::is_sorted(std::begin(kPgInfoSchemaCredentials), std::end(kPgInfoSchemaCredentials)));
static_assert(std::is_sorted(std::begin(kMysqlInfoSchemaMetadata), std::end(kMysqlInfoSchemaMetadata)));
static_assert(std::is_sorted(std::begin(kMysqlValues), std::end(kMysqlValues)));
static_assert(std::is_sorted(std::begin(kMysqlCredentials), std::end(kMysqlCredentials)));

template <std::size_t N>
bool in(const std::string_view (&list)[N], std::string_view name) {
  return std::binary_search(std::begin(list), std::end(list), name);
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

bool is_pg_catalog_relation(std::string_view name) { return in(kPgCatalogRelations, name); }

CatalogKind pg_catalog_kind(std::string_view schema, std::string_view name) {
  if (schema == "pg_catalog") {
    if (in(kPgCredentials, name)) return CatalogKind::Credentials;
    if (in(kPgValues, name)) return CatalogKind::Values;
    if (in(kPgMetadata, name)) return CatalogKind::Metadata;
    return CatalogKind::Other;
  }
  if (schema == "information_schema") {
    if (in(kPgInfoSchemaCredentials, name)) return CatalogKind::Credentials;
    if (in(kPgInfoSchemaMetadata, name)) return CatalogKind::Metadata;
    return CatalogKind::Other;
  }
  // TOAST tables hold the out-of-line values of other relations.
  if (schema.rfind("pg_toast", 0) == 0) return CatalogKind::Values;
  return CatalogKind::NotSystem;
}

CatalogKind mysql_catalog_kind(std::string_view database, std::string_view table) {
  const std::string db = lower(database);
  const std::string t = lower(table);
  if (db == "information_schema") {
    if (t == "column_statistics") return CatalogKind::Values;
    if (in(kMysqlInfoSchemaMetadata, t)) return CatalogKind::Metadata;
    return CatalogKind::Other;
  }
  if (db == "mysql") {
    if (in(kMysqlCredentials, t)) return CatalogKind::Credentials;
    if (in(kMysqlValues, t)) return CatalogKind::Values;
    return CatalogKind::Other;
  }
  if (db == "performance_schema" || db == "sys") return CatalogKind::Other;
  return CatalogKind::NotSystem;
}

}  // namespace segproxy::authz::sql
