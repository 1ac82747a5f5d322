#pragma once
// Names of dynamically minted backend users (`credentials.<l>.dynamic.name_template`).
// Pure functions shared by config validation and daemon/credentials/dynamic_credentials.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace segproxy::config {

// PostgreSQL's NAMEDATALEN - 1: longer identifiers are truncated by the server.
inline constexpr std::size_t kMaxMintedNameLength = 63;
// MySQL 8's limit for user names (MariaDB allows 80): checked for mysql listeners.
inline constexpr std::size_t kMaxMysqlMintedNameLength = 32;

// A placeholder value made safe for a role name: ASCII lower-cased, every character
// outside [a-z0-9_] replaced by '_'.
std::string sanitize_name_part(std::string_view s);

// Checks the template's syntax: only [a-z0-9_] outside placeholders, placeholders
// {segment} {listener} {id8}, {id8} present, a non-empty fixed prefix. False + why.
bool check_name_template(std::string_view tmpl, std::string& why);

// The literal text before the first placeholder ("sp_" for "sp_{segment}_{id8}").
std::string name_template_prefix(std::string_view tmpl);

// The expanded name; nullopt + why when the template is invalid, id8 is not 8
// lower-case hex characters, or the result is longer than kMaxMintedNameLength.
std::optional<std::string> expand_name_template(std::string_view tmpl, std::string_view segment,
                                                std::string_view listener, std::string_view id8,
                                                std::string& why);

}  // namespace segproxy::config
