// PolicyEngine::evaluate_granted: the one decision point with the session's emergency
// grants (grant.hpp). The segment's rules decide first; only a refusal is judged again
// with the grants covering what the rules refuse. Everything else (never-allowed
// statements, parse errors, windows, functions, schema-wide DDL) stays refused.
#include "authz/grants/grant_overlay.hpp"
#include "authz/policy_engine.hpp"

namespace segproxy::authz {

Decision PolicyEngine::evaluate_granted(const std::string& segment, const sql::StatementInfo& info,
                                        time_point now, const std::vector<Grant>& grants,
                                        const std::string& database, Windows windows) const {
  Decision plain = evaluate(segment, info, now, database, windows);
  if (plain.allow || grants.empty()) return plain;
  GrantOverlay overlay(grants);
  Decision granted = evaluate_with(segment, info, now, database, windows, &overlay);
  if (!granted.allow || overlay.used().empty()) return plain;  // the rules' refusal, unchanged
  for (const auto& id : overlay.used()) granted.grant_id += (granted.grant_id.empty() ? "" : ",") + id;
  granted.reason = "allowed by emergency grant " + granted.grant_id +
                   (granted.rule_id.empty() ? std::string() : " (" + granted.rule_id + ")");
  return granted;
}

}  // namespace segproxy::authz
