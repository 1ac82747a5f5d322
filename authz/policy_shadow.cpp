// Shadow evaluation (docs/policy.md "Shadow mode"): how a segment's `mode: shadow` and
// rules with `shadow: true` turn into one Decision. Pure, like the rest of the engine.
#include "authz/policy_engine.hpp"

namespace segproxy::authz {

Decision PolicyEngine::judge_with_shadow(const Segment& s, const sql::StatementInfo& info,
                                         const ViewCatalog::ReadsFn& view_reads, GrantOverlay* grants) const {
  if (s.policy.mode == config::PolicyMode::Shadow) {
    // Every refusal that is not absolute is lifted; the first one is reported.
    std::optional<Decision> lifted;
    Decision d = judge_parts(s, info, view_reads, &lifted, grants);
    if (!d.allow || !lifted) return d;
    d.shadow_deny = true;
    d.shadow_rule = std::move(lifted->rule_id);
    d.shadow_reason = std::move(lifted->reason);
    d.reason = "allowed in shadow mode (would deny: " + d.shadow_reason + ")";
    return d;
  }
  Decision d = judge_parts(s, info, view_reads, nullptr, grants);
  if (!d.allow || s.candidate == nullptr) return d;
  // Enforced rules allow it: would the policy with its shadow rules too?
  Decision c = judge_parts(*s.candidate, info, view_reads, nullptr, grants);
  if (c.allow) return d;
  d.shadow_deny = true;
  d.shadow_rule = std::move(c.rule_id);
  d.shadow_reason = std::move(c.reason);
  d.reason += " (shadow rule would deny: " + d.shadow_reason + ")";
  return d;
}

}  // namespace segproxy::authz
