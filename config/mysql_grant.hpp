#pragma once
// `credentials.<l>.dynamic.grants` entries of mysql listeners: "PRIVILEGES ON db.object".
// Pure parser shared by config validation and daemon/credentials/dynamic_my_admin (which renders the
// GRANT statement from the parsed form, never from the raw text).
//
// Accepted: a comma-separated list of object-level privileges (SELECT, INSERT, UPDATE,
// DELETE, CREATE, DROP, ALTER, INDEX, REFERENCES, CREATE VIEW, SHOW VIEW, TRIGGER,
// EXECUTE, ALTER ROUTINE, CREATE ROUTINE, CREATE TEMPORARY TABLES, LOCK TABLES, EVENT,
// DELETE HISTORY, ALL [PRIVILEGES]; SELECT/INSERT/UPDATE/REFERENCES may name columns:
// "SELECT (id, amount)"), ON, an optional object type (TABLE, FUNCTION, PROCEDURE) and
// db.table or db.* with plain ([A-Za-z0-9_$]) or `back-quoted` identifiers. Refused:
// global privileges (SUPER, FILE, PROCESS, CREATE USER, ...), GRANT OPTION, *.* and a
// bare * or table (the database must be named), anything after the object.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace segproxy::config {

struct MysqlPrivilege {
  std::string name;                  // canonical upper case, single spaces ("CREATE VIEW")
  std::vector<std::string> columns;  // raw identifiers (unquoted)
};

struct MysqlGrant {
  std::vector<MysqlPrivilege> privileges;
  std::string object_type;  // "", "TABLE", "FUNCTION", "PROCEDURE"
  std::string database;     // raw identifier
  std::string object;       // raw identifier, or "*" for every object of the database
};

// nullopt + why when `text` is not exactly a privilege list + ON object.
std::optional<MysqlGrant> parse_mysql_grant(std::string_view text, std::string& why);

// `name` in back quotes (a ` doubled); nullopt for an empty name, a NUL byte or more
// than 64 bytes.
std::optional<std::string> quote_mysql_identifier(std::string_view name);

// "PRIVS ON [type] `db`.`object`" (without GRANT / TO). In db.* grants MySQL treats '_'
// and '%' in the database name as wildcards: they are escaped ('\_', '\%') so the grant
// covers exactly the named database.
std::string render_mysql_grant(const MysqlGrant& g);

}  // namespace segproxy::config
