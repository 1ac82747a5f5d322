#pragma once
// The MySQL / MariaDB DynamicAdmin (daemon/credentials/dynamic_admin.hpp): Connector/C++ 1.1 on the
// dynamic-credential worker threads, with the listener's backend endpoint and TLS (as
// daemon/catalog/mysql_view_loader does).
//
// Minting: CREATE ROLE IF NOT EXISTS <marker role>; CREATE USER '<name>'@'%' IDENTIFIED
// WITH mysql_native_password AS '<hash>' (the hash is computed here: the password never
// reaches the server, the same idea as the SCRAM verifier on PostgreSQL); GRANT <marker
// role> TO the user; one GRANT per configured `grants` entry, rendered from its parsed
// form (config/mysql_grant.hpp), never spliced from the configuration text. A failure
// after CREATE USER drops the user again. The account host is '%': the proxy connects
// from wherever it runs.
//
// Marker: MariaDB 10.11 has no comment on users (MySQL 8 has COMMENT / ATTRIBUTE in
// User_attributes, which would allow the PostgreSQL scheme), so every minted user is
// granted a privilege-less role named for this proxy instance, "segproxy_m_<8 hex of
// SHA-256(instance)>", never made a default role (it grants nothing). The janitor
// lists users with the template prefix AND a marker role (mysql.roles_mapping on
// MariaDB, mysql.role_edges on MySQL 8).
//
// Expiry: MySQL has no VALID UNTIL, so the proxy enforces the TTL: it drops the user at
// expiry (the same schedule as on PostgreSQL); renewal checks the user still exists (the
// password does not change, so the sessions sharing it are unaffected). The expiry is
// also on the server as a role "segproxy_x_<unix seconds>" granted at create and renew,
// so any instance's janitor drops an expired user of a crashed instance that never
// comes back; unexpired users of other instances are left to them.
//
// Dropping: KILL CONNECTION for each of the user's connections (information_schema.
// PROCESSLIST), DROP USER IF EXISTS, then KILL again for connections that logged in
// between the two (DROP USER does not end existing sessions).
//
// The admin login needs: CREATE USER (also for CREATE ROLE), CONNECTION ADMIN (KILL;
// SUPER before MariaDB 10.5), PROCESS (to see other users' connections), SELECT on
// mysql.roles_mapping (MySQL 8: mysql.role_edges), and every granted privilege WITH
// GRANT OPTION. MySQL 8 also needs ROLE_ADMIN (or the role WITH ADMIN OPTION) to grant
// the marker role; MySQL 8.4 disables mysql_native_password by default.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "authz/credential_store.hpp"
#include "daemon/credentials/dynamic_admin.hpp"

namespace segproxy::proxy {

// "segproxy_m_" + 8 hex characters of SHA-256(instance).
std::string mysql_marker_role(std::string_view instance);
// "segproxy_x_" + the expiry in unix seconds (rounded up): the server-side expiry marker.
std::string mysql_expiry_role(std::chrono::system_clock::time_point expires);

// mysql_native_password's stored form: '*' + upper-case hex of SHA1(SHA1(password));
// "" when SHA-1 is unavailable (callers refuse to create the user then).
std::string mysql_native_password_hash(std::string_view password);

// 'text' for a MySQL string literal: ' doubled; nullopt for a backslash or NUL (then the
// meaning would depend on NO_BACKSLASH_ESCAPES).
std::optional<std::string> mysql_string_literal(std::string_view text);

std::unique_ptr<DynamicAdmin> connect_my_dynamic_admin(const DynamicTarget& t, const std::string& instance,
                                                       std::chrono::milliseconds timeout, std::string& why);

}  // namespace segproxy::proxy
