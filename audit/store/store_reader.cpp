#include "audit/store/store_reader.hpp"

#include <cstdlib>

#include "audit/hash_chain.hpp"
#include "audit/record_codec.hpp"
#include "audit/record_join.hpp"
#include "audit/store/store_connection.hpp"
#include "audit/store/store_schema.hpp"

namespace segproxy::audit::store {
namespace {

constexpr int kFetch = 1000;
// Column order of the cursor (line last but one, instance last); the hash column only in
// a store of schema version 1 (a NULL in its place after that).
std::string select_sql(HashColumn h) {
  return std::string("SELECT seq, to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), event, "
                     "session_id, identity, cert_sha256, segment, decision, fingerprint, ") +
         (h == HashColumn::present ? "hash" : "NULL") + ", line, instance FROM segproxy_audit.records";
}
const char* const kColumnNames[] = {"seq",         "ts",      "event",    "session_id",  "identity", "cert_sha256",
                                    "segment",     "decision", "fingerprint", "hash"};
constexpr int kHashCol = 9;

std::optional<std::string> cell(PGresult* r, int row, int col) {
  if (PQgetisnull(r, row, col)) return std::nullopt;
  return std::string(PQgetvalue(r, row, col), static_cast<std::size_t>(PQgetlength(r, row, col)));
}

}  // namespace

StoreReader::StoreReader(PGconn* c, std::string instance, std::optional<std::chrono::system_clock::time_point> since,
                         const CheckpointVerifier* key, bool verify_chain)
    : c_(c), instance_(std::move(instance)), since_(since), chain_(key), targets_(c, instance_), verify_chain_(verify_chain) {}

StoreReader::~StoreReader() {
  if (in_tx_) PgResult(PQexec(c_, "ROLLBACK"));
}

bool StoreReader::fail(VerifyStatus s, std::uint64_t seq, std::string message) {
  result_.status = s;
  result_.seq = seq;
  result_.message = std::move(message);
  done_ = true;
  return false;
}

bool StoreReader::start() {
  started_ = true;
  std::string why;
  if (!exec(c_, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", why)) return fail(VerifyStatus::io_error, 0, why);
  in_tx_ = true;
  std::uint64_t from = 1;
  if (since_) {
    auto r = exec(c_, "SELECT min(seq) FROM segproxy_audit.records WHERE instance = $1 AND ts >= $2::timestamptz", why,
                  {instance_, format_timestamp(*since_)});
    if (!r) return fail(VerifyStatus::io_error, 0, why);
    if (PQgetisnull(r.get(), 0, 0)) {
      drained_ = true;  // nothing at or after `since`
      return true;
    }
    from = std::strtoull(PQgetvalue(r.get(), 0, 0), nullptr, 10);
  }
  if (from > 1 && verify_chain_) {
    auto r = exec(c_, "SELECT line FROM segproxy_audit.records WHERE instance = $1 AND seq = $2", why,
                  {instance_, std::to_string(from - 1)});
    if (!r) return fail(VerifyStatus::io_error, 0, why);
    if (PQntuples(r.get()) != 1)
      return fail(VerifyStatus::tampered, from - 1, "row missing: the record before the first one read is not in the store");
    std::string derr;
    auto rec = decode_record(PQgetvalue(r.get(), 0, 0), derr);
    if (!rec || rec->seq != from - 1 || compute_record_hash(*rec) != rec->hash)
      return fail(VerifyStatus::tampered, from - 1, "the row before the first one read was altered");
    chain_.anchor(from - 1, rec->hash);
  }
  expect_first_ = from;
  const auto hash_column = records_hash_column(c_, why);
  if (!hash_column) return fail(VerifyStatus::io_error, 0, why);
  hash_column_ = *hash_column;
  const std::string declare = "DECLARE segproxy_rows NO SCROLL CURSOR FOR " + select_sql(hash_column_) +
                              " WHERE instance = " + quote_literal(c_, instance_) + " AND seq >= " +
                              std::to_string(from) + " ORDER BY seq";
  if (!exec(c_, declare, why)) return fail(VerifyStatus::io_error, 0, why);
  return true;
}

bool StoreReader::fetch() {
  std::string why;
  auto r = exec(c_, "FETCH " + std::to_string(kFetch) + " FROM segproxy_rows", why);
  if (!r) return fail(VerifyStatus::io_error, 0, why);
  rows_.reset(r.release());
  row_ = 0;
  if (PQntuples(rows_.get()) < kFetch) drained_ = true;
  return true;
}

bool StoreReader::check_row(int i, AuditRecord& rec) {
  PGresult* r = rows_.get();
  const std::uint64_t seq = std::strtoull(PQgetvalue(r, i, 0), nullptr, 10);
  line_.assign(PQgetvalue(r, i, 10), static_cast<std::size_t>(PQgetlength(r, i, 10)));
  std::string derr;
  auto decoded = decode_record(line_, derr);
  if (!decoded) return fail(VerifyStatus::tampered, seq, "row seq " + std::to_string(seq) + ": malformed record: " + derr);
  rec = std::move(*decoded);
  if (rec.seq != seq)
    return fail(VerifyStatus::tampered, seq,
                "row seq " + std::to_string(seq) + " holds the record of seq " + std::to_string(rec.seq) +
                    " (rows reordered or renumbered)");
  if (!rec.instance.empty() && rec.instance != instance_)
    return fail(VerifyStatus::tampered, seq, "row seq " + std::to_string(seq) + " holds a record of instance " + rec.instance);
  auto cols = extract_row(line_, derr);
  if (!cols) return fail(VerifyStatus::tampered, seq, "row seq " + std::to_string(seq) + ": " + derr);
  const std::optional<std::string> expected[] = {std::to_string(cols->seq), cols->ts,  cols->event,
                                                 cols->session_id,          cols->identity, cols->cert_sha256,
                                                 cols->segment,             cols->decision, cols->fingerprint,
                                                 cols->hash};
  const int columns = hash_column_ == HashColumn::present ? kHashCol + 1 : kHashCol;
  for (int col = 1; col < columns; ++col) {
    if (cell(r, i, col) != expected[col])
      return fail(VerifyStatus::tampered, seq,
                  "row seq " + std::to_string(seq) + ": column " + kColumnNames[col] +
                      " differs from the record the row holds (the row was edited)");
  }
  if (!verify_chain_) return true;
  if (auto problem = chain_.check(rec)) {
    return fail(problem->status, seq, "row seq " + std::to_string(seq) + ": " + problem->message);
  }
  return !rec.same_as || check_same_as(rec);
}

// The writer's rule (audit/file_sink_writer.cpp): a repeat names an earlier full record
// of the same session with the same event. A target read before this reader's first row
// (--since) was not chain-checked here: its own hash is checked instead.
bool StoreReader::check_same_as(const AuditRecord& rec) {
  const std::uint64_t target_seq = *rec.same_as;
  const auto fail_target = [&](const std::string& why) {
    return fail(VerifyStatus::tampered, rec.seq,
                "row seq " + std::to_string(rec.seq) + ": same_as " + std::to_string(target_seq) + " " + why);
  };
  if (target_seq >= rec.seq) return fail_target("does not name an earlier record");
  const auto line = targets_.line(target_seq);
  if (!line) return fail_target("names a row that is not in the store");
  std::string derr;
  const auto t = decode_record(*line, derr);
  if (!t || t->seq != target_seq || compute_record_hash(*t) != t->hash)
    return fail_target("names a row that was altered");
  if (t->same_as || t->event != rec.event || t->session_id != rec.session_id ||
      t->statement.empty() + t->fingerprint.empty() + t->decision.empty() == 3)
    return fail_target("does not name an earlier full record of the same session");
  return true;
}

bool StoreReader::next(AuditRecord& record, std::string_view& line) {
  if (done_) return false;
  if (!started_ && !start()) return false;
  for (;;) {
    if (!rows_ || row_ >= PQntuples(rows_.get())) {
      if (drained_) {
        done_ = true;
        if (in_tx_) {
          std::string why;
          exec(c_, "COMMIT", why);
          in_tx_ = false;
        }
        if (verify_chain_ && result_.records == 0 && expect_first_ == 1 && !since_)
          return fail(VerifyStatus::io_error, 0, "no records of instance " + instance_ + " in the store");
        return false;
      }
      if (!fetch()) return false;
      continue;
    }
    if (!check_row(row_++, record)) {
      result_.checkpoints = chain_.checkpoints();
      result_.signatures_verified = chain_.signatures_verified();
      return false;
    }
    ++result_.records;
    result_.last_seq = record.seq;
    result_.head_hash = record.hash;
    result_.checkpoints = chain_.checkpoints();
    result_.signatures_verified = chain_.signatures_verified();
    line = line_;
    return true;
  }
}

std::optional<std::vector<std::string>> store_instances(PGconn* c, std::string& why) {
  auto r = exec(c, "SELECT DISTINCT instance FROM segproxy_audit.records ORDER BY 1", why);
  if (!r) return std::nullopt;
  std::vector<std::string> out;
  for (int i = 0; i < PQntuples(r.get()); ++i) out.emplace_back(PQgetvalue(r.get(), i, 0));
  return out;
}

std::string store_summary(const std::string& instance, const VerifyResult& r) {
  const std::string counts = std::to_string(r.records) + " records, " + std::to_string(r.checkpoints) +
                             " checkpoints, " + std::to_string(r.signatures_verified) +
                             " signatures verified, last seq " + std::to_string(r.last_seq);
  std::string s = "instance " + instance + ": " + to_string(r.status) + ": ";
  if (r.ok()) return s + counts + (r.head_hash.empty() ? "" : ", head " + r.head_hash);
  if (r.seq) s += "seq " + std::to_string(r.seq) + ": ";
  return s + r.message + " (" + counts + ")";
}

bool StoreExportResult::ok() const {
  if (!error.empty()) return false;
  for (const auto& [name, r] : instances) {
    if (!r.intact()) return false;
  }
  return true;
}

StoreExportResult export_store(PGconn* c, const std::vector<std::string>& instances, std::ostream& out,
                               const ExportOptions& opts, const CheckpointVerifier* key) {
  StoreExportResult res;
  std::vector<std::string> names = instances;
  if (names.empty()) {
    auto all = store_instances(c, res.error);
    if (!all) return res;
    names = std::move(*all);
  }
  if (opts.format == ExportFormat::csv) out << csv_header();
  for (const auto& name : names) {
    StoreReader reader(c, name, opts.filter.since, key, opts.verify);
    // Self-contained records, as the file export: session fields from the session's
    // session.open, a same_as repeat's statement fields from its target row (fetched on
    // demand; repeats mostly name the same few targets).
    RecordJoiner joiner;
    const RecordJoiner::Lookup lookup = [&reader](std::uint64_t seq) { return reader.targets().line(seq); };
    AuditRecord r;
    std::string_view line;
    while (reader.next(r, line)) {
      const bool joined = joiner.join(r, lookup);  // before filtering, as the file export
      if (!matches(r, opts.filter)) continue;
      write_export_record(out, opts.format, r, line, joined);
      ++res.exported;
    }
    res.instances.emplace_back(name, reader.result());
    if (!reader.result().intact()) break;  // stop at the first problem, like the file export
  }
  return res;
}

}  // namespace segproxy::audit::store
