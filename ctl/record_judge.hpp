#pragma once
// Re-judging one recorded statement.decision under a (candidate) configuration, as the
// proxy session that recorded it would have judged it: the recorded segment, database and
// instant, one gate per recorded session (SQL-level PREPARE / EXECUTE, the current
// database), the text made parseable again (reparseable_statement). Used by
// `policy replay` (ctl/policy_replay.cpp).
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "audit/record.hpp"
#include "authz/policy_engine.hpp"
#include "config/config.hpp"

namespace segproxy::proxy {
class PgGate;
class MysqlGate;
}  // namespace segproxy::proxy

namespace segproxy::proxy::ctl {

enum class Unjudged : std::uint8_t { None, NoText, Truncated, Unparseable, UnknownProtocol, BadTime };
inline constexpr const char* kUnjudgedNames[] = {"", "no_text", "truncated", "unparseable", "unknown_protocol",
                                                 "bad_time"};

struct Judgement {
  Unjudged unjudged = Unjudged::None;
  authz::Decision decision;  // when judged
};

class RecordJudge {
 public:
  // Both outlive the judge.
  RecordJudge(const config::Config& cfg, const authz::PolicyEngine& engine);
  ~RecordJudge();
  RecordJudge(const RecordJudge&) = delete;
  RecordJudge& operator=(const RecordJudge&) = delete;

  // A statement.decision record (session fields joined).
  Judgement judge(const audit::AuditRecord& r);
  // session.close: its gates are dropped.
  void end_session(const std::string& session_id);

 private:
  struct Gates;
  Gates& gates_of(const audit::AuditRecord& r);
  authz::Decision judge_pg(Gates& g, const audit::AuditRecord& r, std::chrono::system_clock::time_point at,
                           Unjudged& why);
  authz::Decision judge_mysql(Gates& g, const audit::AuditRecord& r, std::chrono::system_clock::time_point at,
                              Unjudged& why);

  const config::Config& cfg_;
  const authz::PolicyEngine& engine_;
  std::unordered_map<std::string, std::unique_ptr<Gates>> sessions_;
  const std::vector<std::string> no_databases_;
};

}  // namespace segproxy::proxy::ctl
