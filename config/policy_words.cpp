#include "config/policy_words.hpp"

#include <cctype>

namespace segproxy::config {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::optional<OperationSet> operation_set_from_name(std::string_view name) {
  const std::string n = lower(name);
  if (n == "all") return kAllOperations;
  for (std::size_t i = 0; i < kTableOperationCount; ++i) {
    if (n == kTableOperationNames[i]) return op_bit(static_cast<TableOperation>(i));
  }
  return std::nullopt;
}

std::optional<StatementClassGrant> statement_class_from_name(std::string_view name) {
  const std::string n = lower(name);
  for (std::size_t i = 0; i < kStatementClassCount; ++i) {
    if (n == kStatementClassNames[i]) return static_cast<StatementClassGrant>(i);
  }
  return std::nullopt;
}

std::string qualify_table_pattern(std::string_view p, const std::string& default_schema, std::string& why) {
  const auto dot = p.find('.');
  if (dot == std::string_view::npos) {
    if (default_schema.empty()) return std::string(p);  // functions: bare stays bare
    return default_schema + "." + std::string(p);
  }
  if (p.find('.', dot + 1) != std::string_view::npos || dot == 0 || dot + 1 == p.size()) {
    why = "invalid name pattern \"" + std::string(p) + "\" (expected \"schema.name\" or \"name\")";
    return "";
  }
  return std::string(p);
}

}  // namespace segproxy::config
