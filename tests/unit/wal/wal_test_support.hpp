#pragma once
// Drives a Forwarding object and renders its actions compactly for table-driven tests:
//   "fwd 3"  forwarded         "fwd! 3"   forwarded, the backend batch made to fail first
//   "flush 3@7"  hold message 3, flush up to record 7
//   "refuse 3" / "refuse! 3"  refused (58030 / 1026), "!" = backend transaction aborted
//   "cancel 3" / "cancel! 3"  cancelled in the proxy     "discard 3"   dropped (failed batch)
//   "pass-cancel"  the cancel goes to the backend
#include <string>
#include <vector>

#include "authz/wal/forwarding.hpp"
#include "authz/wal/write_class.hpp"

namespace segproxy::authz::wal::test {

inline std::string render(const std::vector<Action>& actions) {
  std::string out;
  for (const auto& a : actions) {
    if (!out.empty()) out += ", ";
    const std::string bang = a.abort_transaction ? "! " : " ";
    switch (a.kind) {
      case ActionKind::Forward: out += "fwd" + bang + std::to_string(a.id); break;
      case ActionKind::Flush: out += "flush " + std::to_string(a.id) + "@" + std::to_string(a.record); break;
      case ActionKind::Refuse: out += "refuse" + bang + std::to_string(a.id); break;
      case ActionKind::Cancel: out += "cancel" + bang + std::to_string(a.id); break;
      case ActionKind::Discard: out += "discard " + std::to_string(a.id); break;
      case ActionKind::ForwardCancel: out += "pass-cancel"; break;
    }
  }
  return out;
}

class Drive {
 public:
  explicit Drive(Protocol p, std::uint64_t max_wait_ms = 1000) : f_(p, max_wait_ms) {}

  std::string send(std::uint64_t id, MessageKind kind, MessageClass c, std::uint64_t record) {
    return run([&](auto& out) { f_.submit(Submission::of(id, kind, c, record), now_, out); });
  }
  std::string query(std::uint64_t id, MessageClass c, std::uint64_t record) {
    return send(id, MessageKind::PgQuery, std::move(c), record);
  }
  std::string command(std::uint64_t id, MessageClass c, std::uint64_t record) {
    return send(id, MessageKind::MyCommand, std::move(c), record);
  }
  std::string parse(std::uint64_t id, std::uint64_t record) {
    return send(id, MessageKind::PgExtended, read_only("Parse"), record);
  }
  std::string execute(std::uint64_t id, MessageClass c, std::uint64_t record) {
    return send(id, MessageKind::PgExecute, std::move(c), record);
  }
  std::string sync(std::uint64_t id) { return send(id, MessageKind::PgSync, MessageClass::empty(), 0); }
  std::string copy_data(std::uint64_t id) { return send(id, MessageKind::PgCopyData, MessageClass::empty(), 0); }
  std::string durable(std::uint64_t w) { return run([&](auto& out) { f_.on_durable(w, now_, out); }); }
  std::string ready(char s) { return run([&](auto& out) { f_.on_pg_ready(s, now_, out); }); }
  std::string skipped() { return run([&](auto& out) { f_.on_pg_skipped(now_, out); }); }
  std::string ok(bool in_trans, bool autocommit = true) {
    return run([&](auto& out) { f_.on_mysql_status(in_trans, autocommit, now_, out); });
  }
  std::string err() { return run([&](auto& out) { f_.on_mysql_error(now_, out); }); }
  std::string write_failure() { return run([&](auto& out) { f_.on_write_failure(now_, out); }); }
  std::string recovered() { return run([&](auto& out) { f_.on_write_recovered(now_, out); }); }
  std::string timer() { return run([&](auto& out) { f_.on_timer(now_, out); }); }
  std::string cancel() { return run([&](auto& out) { f_.on_cancel(now_, out); }); }
  void note_record(std::uint64_t r) { f_.note_record(r); }
  void advance(std::uint64_t ms) { now_ += ms; }
  std::uint64_t now() const { return now_; }
  Forwarding& f() { return f_; }

 private:
  template <typename Fn>
  std::string run(Fn fn) {
    std::vector<Action> out;
    fn(out);
    return render(out);
  }
  Forwarding f_;
  std::uint64_t now_ = 1000;
};

}  // namespace segproxy::authz::wal::test
