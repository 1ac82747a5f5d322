#pragma once
// Pure pieces of dynamic PostgreSQL credentials (proxy/dynamic_credentials): identity
// hashes, the role comment marker, timestamps and the SQL text of each step. Every
// identifier and literal goes through a SqlQuoter (PQescapeIdentifier /
// PQescapeLiteral in production); raw values are never concatenated into SQL.
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace segproxy::proxy {

// 8 lower-case hex characters of SHA-256(identity_key).
std::string identity_id8(std::string_view identity_key);

// The comment the proxy puts on every role it mints: "segproxy:<instance>:<expires_unix>".
inline constexpr std::string_view kMarkerPrefix = "segproxy:";
std::string format_marker(std::string_view instance, std::chrono::system_clock::time_point expires_at);
struct Marker {
  std::string instance;
  std::int64_t expires_unix = 0;
};
// nullopt unless `comment` is a marker (instance may contain ':'; the expiry is after the last one).
std::optional<Marker> parse_marker(std::string_view comment);

// "YYYY-MM-DD HH:MM:SS+00" (UTC, whole seconds rounded up) for VALID UNTIL.
std::string format_pg_timestamp(std::chrono::system_clock::time_point t);

// Quoting functions: nullopt when the value cannot be quoted (e.g. invalid encoding).
struct SqlQuoter {
  std::function<std::optional<std::string>(std::string_view)> ident;
  std::function<std::optional<std::string>(std::string_view)> literal;
};

// CREATE ROLE <user> LOGIN ... PASSWORD <verifier> VALID UNTIL <ts> IN ROLE <roles>, then
// COMMENT ON ROLE <user> IS <marker>. `password_verifier` is a SCRAM verifier computed
// on the client (PQencryptPasswordConn): the plain password never reaches the server.
std::optional<std::vector<std::string>> create_role_sql(const SqlQuoter& q, std::string_view user,
                                                        std::string_view password_verifier,
                                                        std::string_view valid_until,
                                                        const std::vector<std::string>& grant_roles,
                                                        std::string_view marker);
// ALTER ROLE <user> VALID UNTIL <ts>, COMMENT ON ROLE <user> IS <marker>.
std::optional<std::vector<std::string>> renew_role_sql(const SqlQuoter& q, std::string_view user,
                                                       std::string_view valid_until, std::string_view marker);
// DROP ROLE IF EXISTS <user>.
std::optional<std::string> drop_role_sql(const SqlQuoter& q, std::string_view user);

// Parameterized statements ($1 = role name / prefix).
inline constexpr const char* kTerminateSql =
    "SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity WHERE usename = $1";
inline constexpr const char* kRoleMarkerSql =
    "SELECT pg_catalog.shobj_description(oid, 'pg_authid') FROM pg_catalog.pg_roles WHERE rolname = $1";
// Roles whose name starts with $1 and whose comment is a segproxy marker.
inline constexpr const char* kLeftoverRolesSql =
    "SELECT r.rolname, d.description FROM pg_catalog.pg_roles r"
    " JOIN pg_catalog.pg_shdescription d"
    "   ON d.objoid = r.oid AND d.classoid = 'pg_catalog.pg_authid'::pg_catalog.regclass"
    " WHERE pg_catalog.starts_with(r.rolname, $1) AND pg_catalog.starts_with(d.description, 'segproxy:')"
    " ORDER BY 1";

}  // namespace segproxy::proxy
