#pragma once
// The policy vocabulary's words outside YAML: one operation name, one statement class,
// one table pattern. The YAML policy parser (policy.cpp) and the emergency grants
// (authz/grants: `segproxyctl grant --tables --ops --statements`) both read them here,
// so a grant is written exactly like a rule.
#include <optional>
#include <string>
#include <string_view>

#include "config/config.hpp"

namespace segproxy::config {

// "select", ..., "maintain" (kTableOperationNames) or "all"; case-insensitive.
std::optional<OperationSet> operation_set_from_name(std::string_view name);
// "transaction", ..., "anonymous_code" (kStatementClassNames); case-insensitive.
std::optional<StatementClassGrant> statement_class_from_name(std::string_view name);
// A "schema.name" / "name" pattern ('*' and '?' glob within a part): a bare name is
// qualified with `default_schema` (kept bare when that is empty). Empty string and
// `why` set when invalid.
std::string qualify_table_pattern(std::string_view p, const std::string& default_schema, std::string& why);

}  // namespace segproxy::config
