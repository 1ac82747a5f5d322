#pragma once
// Reading the central store back (segproxyctl audit verify|export --postgres): one
// instance's rows in seq order, each checked before it is trusted - the line decodes
// strictly (audit/record_codec), the row's columns (seq, instance, ts, event, identity,
// ...) equal what the line says, the line continues the instance's hash chain with its
// signed checkpoints (audit/chain_checker, the same checks as a log directory), and a
// `same_as` repeat names an earlier full record of the same session and event whose own
// hash holds. The first edited, missing or reordered row is named by its seq. (The store
// keeps no file boundaries: "of the same file", which the directory verifier also
// checks, is not checkable here.)
#include <libpq-fe.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "audit/chain_checker.hpp"
#include "audit/exporters.hpp"
#include "audit/record.hpp"
#include "audit/store/same_as_targets.hpp"
#include "audit/store/store_row.hpp"
#include "audit/verifier.hpp"

namespace segproxy::audit::store {

class StoreReader {
 public:
  // Reads rows with ts >= since (all when nullopt); the row before the first one read is
  // the chain's anchor (its own hash is checked). key: checkpoint signatures (may be null).
  StoreReader(PGconn* c, std::string instance, std::optional<std::chrono::system_clock::time_point> since,
              const CheckpointVerifier* key, bool verify_chain = true);
  ~StoreReader();
  StoreReader(const StoreReader&) = delete;
  StoreReader& operator=(const StoreReader&) = delete;

  // The next verified record and its line (valid until the next call); false at the end
  // or at the first problem (result() says which).
  bool next(AuditRecord& record, std::string_view& line);
  const VerifyResult& result() const { return result_; }
  // The rows same_as repeats name (shared with the export's join).
  SameAsTargets& targets() { return targets_; }

 private:
  bool start();
  bool fetch();
  bool fail(VerifyStatus s, std::uint64_t seq, std::string message);
  bool check_row(int i, AuditRecord& rec);
  bool check_same_as(const AuditRecord& rec);

  PGconn* c_;
  std::string instance_;
  std::optional<std::chrono::system_clock::time_point> since_;
  ChainChecker chain_;
  SameAsTargets targets_;
  bool verify_chain_;
  HashColumn hash_column_ = HashColumn::absent;  // schema version 1 has one: compared too
  VerifyResult result_;
  struct ResultDeleter {
    void operator()(PGresult* r) const { PQclear(r); }
  };
  std::unique_ptr<PGresult, ResultDeleter> rows_;
  int row_ = 0;
  bool started_ = false, done_ = false, in_tx_ = false, drained_ = false;
  std::uint64_t expect_first_ = 0;  // seq of the first row to read (0: unknown)
  std::string line_;
};

// The instances present in the store (sorted); nullopt + why on error.
std::optional<std::vector<std::string>> store_instances(PGconn* c, std::string& why);

// One line per instance: "instance X: OK: N records, C checkpoints, S signatures verified,
// last seq L, head H" or "instance X: TAMPERED: seq N: message".
std::string store_summary(const std::string& instance, const VerifyResult& r);

struct StoreExportResult {
  std::uint64_t exported = 0;
  std::vector<std::pair<std::string, VerifyResult>> instances;
  std::string error;  // store unreachable / query failed
  bool ok() const;
};
// Every matching record of the chosen instances (all when `instances` is empty), in
// (instance, seq) order, verified as it is read (unless !opts.verify).
StoreExportResult export_store(PGconn* c, const std::vector<std::string>& instances, std::ostream& out,
                               const ExportOptions& opts, const CheckpointVerifier* key);

}  // namespace segproxy::audit::store
