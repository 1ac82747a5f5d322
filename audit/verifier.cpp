#include "audit/verifier.hpp"

#include <algorithm>

#include "audit/hash_chain.hpp"
#include "audit/record_codec.hpp"

namespace segproxy::audit {
const char* to_string(VerifyStatus s) {
  switch (s) {
    case VerifyStatus::ok: return "OK";
    case VerifyStatus::torn_tail: return "TORN TAIL";
    case VerifyStatus::tampered: return "TAMPERED";
    case VerifyStatus::bad_signature: return "BAD SIGNATURE";
    case VerifyStatus::truncated: return "TRUNCATED";
    case VerifyStatus::io_error: return "ERROR";
  }
  return "?";
}

std::string VerifyResult::summary() const {
  std::string counts = std::to_string(files) + " files, " + std::to_string(records) +
                       " records, " + std::to_string(checkpoints) + " checkpoints, " +
                       std::to_string(signatures_verified) + " signatures verified, last seq " +
                       std::to_string(last_seq);
  if (ok()) return "OK: " + counts;
  std::string s = std::string(to_string(status)) + ": ";
  if (!file.empty()) s += file + ":" + std::to_string(line) + " ";
  if (seq) s += "seq " + std::to_string(seq) + ": ";
  return s + message + " (" + counts + ")";
}

LogReader::LogReader(std::filesystem::path dir, VerifyOptions opts)
    : dir_(std::move(dir)), opts_(std::move(opts)) {}

bool LogReader::fail(VerifyStatus s, std::string file, std::uint64_t line, std::uint64_t seq,
                     std::string message) {
  result_.status = s;
  result_.file = std::move(file);
  result_.line = line;
  result_.seq = seq;
  result_.message = std::move(message);
  done_ = true;
  return false;
}

bool LogReader::load_checkpoint_file(const std::filesystem::path& p) {
  std::string data, error;
  if (!read_whole_file(p, data, error)) return fail(VerifyStatus::io_error, p.string(), 0, 0, error);
  cp_path_ = p.string();
  std::size_t pos = 0;
  std::uint64_t line = 0;
  while (pos < data.size()) {
    ++line;
    const std::size_t nl = data.find('\n', pos);
    if (nl == std::string::npos) break;  // torn last line: the writer died mid-append
    std::string derr;
    auto rec = decode_record(std::string_view(data).substr(pos, nl - pos), derr);
    pos = nl + 1;
    if (!rec || rec->event != "audit.checkpoint")
      return fail(VerifyStatus::tampered, cp_path_, line, rec ? rec->seq : 0,
                  rec ? "not a checkpoint record" : "malformed checkpoint entry: " + derr);
    if (opts_.verify_chain && compute_record_hash(*rec) != rec->hash)
      return fail(VerifyStatus::tampered, cp_path_, line, rec->seq, "checkpoint entry hash mismatch");
    if (key_) {
      if (auto problem = check_checkpoint_signature(*key_, *rec))
        return fail(problem->status, cp_path_, line, rec->seq, std::move(problem->message));
      ++result_.signatures_verified;
    }
    cp_entries_.push_back({line, std::move(*rec)});
  }
  std::stable_sort(cp_entries_.begin(), cp_entries_.end(),
                   [](const CheckpointEntry& a, const CheckpointEntry& b) {
                     return a.record.seq < b.record.seq;
                   });
  result_.checkpoint_file_entries = cp_entries_.size();
  return true;
}

bool LogReader::open_next_file() {
  if (next_file_ >= files_.size()) return false;
  const LogFile& f = files_[next_file_++];
  std::string error;
  if (!read_log_segment(f.path, data_, error))
    return fail(VerifyStatus::io_error, f.path.string(), 0, 0, error);
  cur_file_ = f.path.string();
  pos_ = 0;
  line_no_ = 0;
  file_first_ = true;
  file_first_seq_ = f.first_seq;
  line_spans_.clear();
  spans_first_seq_ = 0;
  ++result_.files;
  return true;
}

bool LogReader::check(const AuditRecord& r) {
  if (file_first_ && r.seq != file_first_seq_)
    return fail(VerifyStatus::tampered, cur_file_, line_no_, r.seq,
                "file name says the file starts at seq " + std::to_string(file_first_seq_));
  file_first_ = false;
  if (!opts_.verify_chain) {
    result_.last_seq = r.seq;
    result_.head_hash = r.hash;
    return true;
  }
  chain_.set_key(key_.get());
  const std::uint64_t signed_before = chain_.signatures_verified();
  if (auto problem = chain_.check(r)) {
    result_.checkpoints = chain_.checkpoints();
    return fail(problem->status, cur_file_, line_no_, r.seq, std::move(problem->message));
  }
  if (r.same_as) {
    // A de-duplicated statement record names an earlier full record of this file with the
    // same event and session (the writer's rule); anything else is not the writer's.
    const auto target = line_of(*r.same_as);
    std::string derr;
    const auto t = target ? decode_record(*target, derr) : std::nullopt;
    if (!t || *r.same_as >= r.seq || t->same_as || t->event != r.event || t->session_id != r.session_id ||
        t->statement.empty() + t->fingerprint.empty() + t->decision.empty() == 3)
      return fail(VerifyStatus::tampered, cur_file_, line_no_, r.seq,
                  "same_as " + std::to_string(*r.same_as) +
                      " does not name an earlier full record of the same session in this file");
  }
  result_.checkpoints = chain_.checkpoints();
  result_.signatures_verified += chain_.signatures_verified() - signed_before;
  while (cp_next_ < cp_entries_.size() && cp_entries_[cp_next_].record.seq <= r.seq) {
    const CheckpointEntry& e = cp_entries_[cp_next_++];
    if (e.record.seq == r.seq && e.record.hash != r.hash)
      return fail(VerifyStatus::tampered, cur_file_, line_no_, r.seq,
                  "differs from checkpoint file " + cp_path_ + " line " + std::to_string(e.line));
  }
  result_.last_seq = r.seq;
  result_.head_hash = r.hash;
  return true;
}

void LogReader::finish() {
  done_ = true;
  if (!cp_entries_.empty()) {
    const CheckpointEntry& last = cp_entries_.back();
    if (last.record.seq > result_.last_seq) {
      // Truncation outranks a torn tail: a checkpoint is appended to the checkpoint
      // file only after the log line holding it was durable.
      result_.status = VerifyStatus::truncated;
      result_.file = cp_path_;
      result_.line = last.line;
      result_.seq = last.record.seq;
      result_.message = "the checkpoint file records seq " + std::to_string(last.record.seq) +
                        " but the log ends at seq " + std::to_string(result_.last_seq) +
                        ": records were removed from the tail";
    }
  }
}

bool LogReader::next(AuditRecord& record, std::string_view& line) {
  if (done_) return false;
  if (!started_) {
    started_ = true;
    if (opts_.public_key) {
      std::string error;
      key_ = CheckpointVerifier::load(*opts_.public_key, error);
      if (!key_) return fail(VerifyStatus::io_error, opts_.public_key->string(), 0, 0, error);
    }
    std::filesystem::path cp = opts_.checkpoints ? *opts_.checkpoints : dir_ / kCheckpointFileName;
    std::error_code ec;
    if ((opts_.checkpoints || std::filesystem::exists(cp, ec)) && !load_checkpoint_file(cp))
      return false;
    std::string error;
    files_ = list_log_files(dir_, error);
    if (!error.empty()) return fail(VerifyStatus::io_error, dir_.string(), 0, 0, error);
    if (files_.empty()) return fail(VerifyStatus::io_error, dir_.string(), 0, 0, "no audit log files");
    if (!open_next_file()) return false;
  }
  for (;;) {
    if (pos_ >= data_.size()) {
      if (next_file_ >= files_.size()) {
        finish();
        return false;
      }
      if (!open_next_file()) return false;
      continue;
    }
    ++line_no_;
    const std::size_t nl = data_.find('\n', pos_);
    if (nl == std::string::npos) {
      const std::uint64_t torn = data_.size() - pos_;
      if (next_file_ < files_.size())
        return fail(VerifyStatus::tampered, cur_file_, line_no_, result_.last_seq + 1,
                    "incomplete line in a file that is not the newest");
      finish();
      if (result_.status == VerifyStatus::ok) {
        result_.status = VerifyStatus::torn_tail;
        result_.file = cur_file_;
        result_.line = line_no_;
        result_.seq = result_.last_seq + 1;
        result_.message = "torn last line (" + std::to_string(torn) +
                          " bytes without newline): an interrupted write, not tampering";
      }
      return false;
    }
    line = std::string_view(data_).substr(pos_, nl - pos_);
    pos_ = nl + 1;
    std::string derr;
    auto rec = decode_record(line, derr);
    if (!rec)
      return fail(VerifyStatus::tampered, cur_file_, line_no_, result_.last_seq + 1,
                  "malformed record: " + derr);
    if (!check(*rec)) return false;
    if (line_spans_.empty()) spans_first_seq_ = rec->seq;
    line_spans_.emplace_back(static_cast<std::size_t>(line.data() - data_.data()), line.size());
    ++result_.records;
    record = std::move(*rec);
    return true;
  }
}

std::optional<std::string_view> LogReader::line_of(std::uint64_t seq) const {
  if (line_spans_.empty() || seq < spans_first_seq_ || seq - spans_first_seq_ >= line_spans_.size())
    return std::nullopt;
  const auto& [off, len] = line_spans_[seq - spans_first_seq_];
  return std::string_view(data_).substr(off, len);
}

VerifyResult verify(const std::filesystem::path& dir,
                    const std::optional<std::filesystem::path>& public_key,
                    const std::optional<std::filesystem::path>& checkpoints) {
  VerifyOptions opts;
  opts.public_key = public_key;
  opts.checkpoints = checkpoints;
  LogReader reader(dir, opts);
  AuditRecord r;
  std::string_view line;
  while (reader.next(r, line)) {
  }
  return reader.result();
}

}  // namespace segproxy::audit
