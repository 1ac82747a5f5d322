#pragma once
// Pure pieces of dynamic PostgreSQL credentials (daemon/credentials/dynamic_credentials): identity
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
// Dropping a role that owns objects or holds privileges fails (2BP01). Then, like
// Dropping a role that owns objects, in one transaction: GRANT <user> TO CURRENT_USER
// (REASSIGN/DROP OWNED need the admin to hold the role's privileges; PostgreSQL 15 lets a
// CREATEROLE admin grant it, and the membership goes with the role), REASSIGN OWNED BY
// <user> TO <owner>, DROP OWNED BY <user>, DROP ROLE <user>. <owner> is the segment's
// first grant role, never the admin: the minted user already had that role's rights, so
// a SECURITY DEFINER function or a view it left behind gains nothing (reassigned to the
// admin login they would run with the admin's rights). REASSIGN also needs the owner
// role's privileges: with `grant_owner` (the admin is not a member yet) the owner role
// is granted to CURRENT_USER first and revoked again last. Objects and privileges in
// OTHER databases than the admin connection's are not reached (DROP ROLE then still
// fails with 2BP01 and the janitor retries; documented limitation).
std::optional<std::vector<std::string>> drop_role_owned_sql(const SqlQuoter& q, std::string_view user,
                                                            std::string_view owner, bool grant_owner);

// Parameterized statements ($1 = role name / prefix).
inline constexpr const char* kTerminateSql =
    "SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity WHERE usename = $1";
inline constexpr const char* kRoleMarkerSql =
    "SELECT pg_catalog.shobj_description(oid, 'pg_authid') FROM pg_catalog.pg_roles WHERE rolname = $1";
// Is the admin login a member of role $1 already (REASSIGN OWNED's target)?
inline constexpr const char* kAdminIsMemberSql = "SELECT pg_catalog.pg_has_role(CURRENT_USER, $1, 'MEMBER')::text";
// Roles whose name starts with $1 and whose comment is a segproxy marker.
inline constexpr const char* kLeftoverRolesSql =
    "SELECT r.rolname, d.description FROM pg_catalog.pg_roles r"
    " JOIN pg_catalog.pg_shdescription d"
    "   ON d.objoid = r.oid AND d.classoid = 'pg_catalog.pg_authid'::pg_catalog.regclass"
    " WHERE pg_catalog.starts_with(r.rolname, $1) AND pg_catalog.starts_with(d.description, 'segproxy:')"
    " ORDER BY 1";

}  // namespace segproxy::proxy
