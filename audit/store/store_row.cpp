#include "audit/store/store_row.hpp"

#include <array>
#include <bit>
#include <chrono>
#include <cstring>

#include "audit/record_codec.hpp"
#include "json/json.hpp"

namespace segproxy::audit::store {
namespace {

// ---- the in-place scan ----------------------------------------------------------------

constexpr std::size_t kMaxScanDepth = 6;  // the reader's limit for these lines is 8
constexpr std::size_t kMaxScanKeys = 64;  // per object (duplicate check)
constexpr std::size_t kMaxScanDigits = 18;  // always fits int64

// Every byte in [0x20, 0x7f]: no control character, nothing but ASCII (so nothing the
// reader's UTF-8 check could refuse). Eight bytes at a time: a byte below 0x20 borrows
// and sets its top bit in w - 0x20..20, a byte from 0x80 has it set in w.
bool printable_ascii(std::string_view s) {
  constexpr std::uint64_t k20 = 0x2020202020202020ull;
  constexpr std::uint64_t k80 = 0x8080808080808080ull;
  const char* p = s.data();
  std::size_t n = s.size();
  for (; n >= 8; p += 8, n -= 8) {
    std::uint64_t w = 0;
    std::memcpy(&w, p, 8);
    if (((w - k20) | w) & k80) return false;
  }
  for (; n > 0; ++p, --n) {
    const auto c = static_cast<unsigned char>(*p);
    if (c < 0x20 || c >= 0x80) return false;
  }
  return true;
}

// The keys the store takes, in the order of Slot.
enum Slot { kSeq, kTs, kEvent, kHash, kPrevHash, kSessionId, kIdentity, kSpiffeId, kCn, kCertSha256, kSegment,
            kDecision, kFingerprint, kSlotCount, kNoSlot = kSlotCount };
constexpr std::array<std::string_view, kSlotCount> kSlotKeys = {
    "seq", "ts", "event", "hash", "prev_hash", "session_id", "identity", "spiffe_id", "cn", "cert_sha256",
    "segment", "decision", "fingerprint"};

// By length first: one comparison at most instead of one per taken key (the shipper's
// scan is most of its CPU per record; bench/RESULTS.md session 12).
Slot slot_of(std::string_view key) {
  Slot s = kNoSlot;
  const char c = key.empty() ? '\0' : key[0];
  switch (key.size()) {
    case 2: s = c == 't' ? kTs : kCn; break;
    case 3: s = kSeq; break;
    case 4: s = kHash; break;
    case 5: s = kEvent; break;
    case 7: s = kSegment; break;
    case 8: s = c == 'd' ? kDecision : kIdentity; break;
    case 9: s = c == 'p' ? kPrevHash : kSpiffeId; break;
    case 10: s = kSessionId; break;
    case 11: s = c == 'f' ? kFingerprint : kCertSha256; break;
    default: return kNoSlot;
  }
  return kSlotKeys[s] == key ? s : kNoSlot;
}

// No member initialisers: scan_canonical_row clears only `present` (the rest is written
// whenever present is set), not the whole array per line.
struct Taken {
  const char* data;  // a string's bytes between the quotes, or seq's digits
  std::size_t size;
  bool present;
  bool escaped;
  std::string_view raw() const { return {data, size}; }
};

// A key's class for the duplicate check: equal keys have equal classes.
constexpr unsigned key_class(std::string_view k) {
  if (k.empty()) return 0;
  return static_cast<unsigned>(k.size()) * 7u + static_cast<unsigned char>(k.front()) * 3u +
         static_cast<unsigned char>(k.back());
}

class Scanner {
 public:
  explicit Scanner(std::string_view s) : s_(s) {}

  // The whole line: one object and nothing after it.
  bool line(std::array<Taken, kSlotCount>& taken) {
    taken_ = &taken;
    return at('{') && object(1) && i_ == s_.size();
  }

 private:
  bool at(char c) const { return i_ < s_.size() && s_[i_] == c; }

  // At '"': the bytes up to the closing quote; only the short escapes (\" \\ \/ \b \f
  // \n \r \t) are in the subset, \u is left to the reader (surrogates, UTF-8).
  bool string(std::string_view& raw, bool& escaped) {
    ++i_;
    const std::size_t begin = i_;
    escaped = false;
    for (;;) {
      const std::size_t stop = quote_or_backslash(i_);
      if (stop == s_.size()) return false;
      if (s_[stop] == '"') {
        raw = s_.substr(begin, stop - begin);
        i_ = stop + 1;
        return true;
      }
      if (stop + 1 >= s_.size()) return false;
      switch (s_[stop + 1]) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't': break;
        default: return false;
      }
      escaped = true;
      i_ = stop + 2;
    }
  }

  // The first '"' or '\\' from `from` (s_.size() when none). Eight bytes at a time: a
  // lane of w ^ pattern is zero exactly where the byte matches, and the zero-byte test
  // (v - 0x01..) & ~v & 0x80.. is exact up to the first zero lane (only a zero lane
  // borrows), so on a little-endian machine the lowest flagged lane is the first match.
  // One pass instead of memchr for '"' and then for '\\' (keys and most values are a few
  // bytes long).
  std::size_t quote_or_backslash(std::size_t from) const {
    constexpr std::uint64_t k01 = 0x0101010101010101ull;
    constexpr std::uint64_t k80 = 0x8080808080808080ull;
    const char* p = s_.data();
    std::size_t i = from;
    for (; std::endian::native == std::endian::little && i + 8 <= s_.size(); i += 8) {
      std::uint64_t w = 0;
      std::memcpy(&w, p + i, 8);
      const std::uint64_t q = w ^ (k01 * '"');
      const std::uint64_t b = w ^ (k01 * '\\');
      const std::uint64_t hit = ((q - k01) & ~q & k80) | ((b - k01) & ~b & k80);
      if (hit != 0) return i + static_cast<std::size_t>(std::countr_zero(hit) / 8);
    }
    for (; i < s_.size(); ++i) {
      if (p[i] == '"' || p[i] == '\\') return i;
    }
    return s_.size();
  }

  // An integer (no fraction, no exponent: those go to the reader), at most 18 digits.
  bool integer(std::string_view& token) {
    const std::size_t begin = i_;
    if (at('-')) ++i_;
    if (i_ >= s_.size() || s_[i_] < '0' || s_[i_] > '9') return false;
    if (s_[i_] == '0') {
      ++i_;
    } else {
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
    }
    if (at('.') || at('e') || at('E')) return false;
    if (i_ - begin > kMaxScanDigits) return false;
    token = s_.substr(begin, i_ - begin);
    return true;
  }

  bool literal(std::string_view word) {
    if (s_.substr(i_, word.size()) != word) return false;
    i_ += word.size();
    return true;
  }

  bool value(std::size_t depth) {
    if (i_ >= s_.size()) return false;
    std::string_view raw;
    bool escaped = false;
    switch (s_[i_]) {
      case '"': return string(raw, escaped);
      case '{': return object(depth + 1);
      case '[': return array(depth + 1);
      case 't': return literal("true");
      case 'f': return literal("false");
      case 'n': return literal("null");
      default: return integer(raw);
    }
  }

  bool array(std::size_t depth) {
    if (depth > kMaxScanDepth) return false;
    ++i_;
    if (at(']')) {
      ++i_;
      return true;
    }
    for (;;) {
      if (!value(depth)) return false;
      if (at(',')) {
        ++i_;
        continue;
      }
      if (!at(']')) return false;
      ++i_;
      return true;
    }
  }

  // The members of the top-level object (depth 1) fill taken_ for the store's keys;
  // those must hold strings (seq: an integer), else the reader decides.
  bool object(std::size_t depth) {
    if (depth > kMaxScanDepth) return false;
    ++i_;
    if (at('}')) {
      ++i_;
      return true;
    }
    // The keys so far, for the duplicate check: left uninitialised (only [0, nkeys) is
    // read), as zeroing 64 views cost a tenth of the scan per object.
    const char* key_at[kMaxScanKeys];
    std::size_t key_len[kMaxScanKeys];
    std::size_t nkeys = 0;
    std::uint64_t seen = 0;  // one bit per (length, first, last byte) class of the keys so far
    for (;;) {
      if (!at('"')) return false;
      std::string_view key;
      bool escaped = false;
      if (!string(key, escaped) || escaped || nkeys == kMaxScanKeys) return false;
      // The reader refuses duplicates. A key whose class is new cannot be one; only a
      // class seen before is compared with the keys so far.
      const std::uint64_t bit = std::uint64_t{1} << (key_class(key) & 63u);
      if ((seen & bit) != 0) {
        for (std::size_t k = 0; k < nkeys; ++k) {
          if (key_len[k] == key.size() && std::memcmp(key_at[k], key.data(), key.size()) == 0) return false;
        }
      }
      seen |= bit;
      key_at[nkeys] = key.data();
      key_len[nkeys] = key.size();
      ++nkeys;
      if (!at(':')) return false;
      ++i_;
      const Slot slot = depth == 1 ? slot_of(key) : kNoSlot;
      if (slot == kNoSlot) {
        if (!value(depth)) return false;
      } else {
        Taken& t = (*taken_)[slot];
        std::string_view raw;
        bool escaped = false;
        if (slot == kSeq) {
          if (!integer(raw)) return false;
        } else if (!at('"') || !string(raw, escaped)) {
          return false;
        }
        t = Taken{raw.data(), raw.size(), true, escaped};
      }
      if (at(',')) {
        ++i_;
        continue;
      }
      if (!at('}')) return false;
      ++i_;
      return true;
    }
  }

  std::string_view s_;
  std::size_t i_ = 0;
  std::array<Taken, kSlotCount>* taken_ = nullptr;
};

void assign(std::string& out, const Taken& t) {
  const std::string_view raw = t.raw();
  if (!t.escaped) {
    out.assign(raw);
    return;
  }
  out.clear();
  for (std::size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c == '\\') {  // the scanner let only the short escapes through
      switch (raw[++i]) {
        case 'b': c = '\b'; break;
        case 'f': c = '\f'; break;
        case 'n': c = '\n'; break;
        case 'r': c = '\r'; break;
        case 't': c = '\t'; break;
        default: c = raw[i];  // " \ /
      }
    }
    out.push_back(c);
  }
}

void assign(std::optional<std::string>& out, const Taken& t) {
  if (!t.present) {
    out.reset();
    return;
  }
  if (!out) out.emplace();
  assign(*out, t);
}

// ---- the reader's path ---------------------------------------------------------------

std::optional<std::string> string_member(const json::Value& obj, std::string_view key) {
  const json::Value* v = obj.find(key);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return v->as_string();
}

// ---- COPY BINARY -----------------------------------------------------------------------

void put16(std::string& out, std::uint16_t v) {
  const char b[2] = {static_cast<char>(v >> 8), static_cast<char>(v)};
  out.append(b, 2);
}
void put32(std::string& out, std::uint32_t v) {
  const char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                     static_cast<char>(v)};
  out.append(b, 4);
}
void put64(std::string& out, std::uint64_t v) {
  put32(out, static_cast<std::uint32_t>(v >> 32));
  put32(out, static_cast<std::uint32_t>(v));
}
void put_text(std::string& out, std::string_view s) {
  put32(out, static_cast<std::uint32_t>(s.size()));
  out.append(s);
}
void put_nullable(std::string& out, const std::optional<std::string>& s) {
  if (s) put_text(out, *s);
  else put32(out, 0xFFFFFFFFu);  // -1: NULL
}

// copy_sql: the fields of a COPY row.
constexpr std::uint16_t kCopyFieldsWithHash = 12;
constexpr std::uint16_t kCopyFields = 11;
constexpr std::int64_t kPgEpochUnixMicros = 946'684'800'000'000;  // 2000-01-01T00:00:00Z

}  // namespace

bool scan_canonical_row(std::string_view line, StoreRow& row) {
  if (!printable_ascii(line)) return false;
  std::array<Taken, kSlotCount> taken;
  for (Taken& t : taken) t.present = false;
  if (!Scanner(line).line(taken)) return false;
  const Taken& seq = taken[kSeq];
  if (!seq.present || seq.size == 0 || seq.data[0] == '-' || seq.raw() == "0") return false;
  for (Slot s : {kTs, kEvent, kHash, kPrevHash}) {
    if (!taken[s].present) return false;
  }
  row.seq = 0;
  for (char c : seq.raw()) row.seq = row.seq * 10 + static_cast<std::uint64_t>(c - '0');
  assign(row.ts, taken[kTs]);
  assign(row.event, taken[kEvent]);
  assign(row.hash, taken[kHash]);
  assign(row.prev_hash, taken[kPrevHash]);
  assign(row.session_id, taken[kSessionId]);
  assign(row.identity, taken[taken[kIdentity].present ? kIdentity : taken[kSpiffeId].present ? kSpiffeId : kCn]);
  assign(row.cert_sha256, taken[kCertSha256]);
  assign(row.segment, taken[kSegment]);
  assign(row.decision, taken[kDecision]);
  assign(row.fingerprint, taken[kFingerprint]);
  return true;
}

std::optional<StoreRow> extract_row_by_json_reader(std::string_view line, std::string& why) {
  json::Limits limits;
  limits.max_depth = 8;
  limits.max_bytes = line.size() + 1;
  limits.max_string = line.size() + 1;
  limits.allow_uint64 = true;
  const json::ParseResult parsed = json::parse(line, limits);
  if (!parsed || !parsed.value->is_object()) {
    why = parsed ? "not a JSON object" : "not JSON: " + parsed.error;
    return std::nullopt;
  }
  const json::Value& v = *parsed.value;
  StoreRow row;
  const json::Value* seq = v.find("seq");
  if (seq == nullptr || !(seq->is_int() || seq->is_uint()) || (seq->is_int() && seq->as_int() <= 0)) {
    why = "no positive seq";
    return std::nullopt;
  }
  row.seq = seq->is_int() ? static_cast<std::uint64_t>(seq->as_int()) : seq->as_uint();
  auto ts = string_member(v, "ts");
  auto event = string_member(v, "event");
  auto hash = string_member(v, "hash");
  auto prev = string_member(v, "prev_hash");
  if (!ts || !event || !hash || !prev) {
    why = "seq " + std::to_string(row.seq) + ": ts, event, hash or prev_hash missing";
    return std::nullopt;
  }
  row.ts = std::move(*ts);
  row.event = std::move(*event);
  row.hash = std::move(*hash);
  row.prev_hash = std::move(*prev);
  row.session_id = string_member(v, "session_id");
  row.identity = string_member(v, "identity");
  if (!row.identity) row.identity = string_member(v, "spiffe_id");
  if (!row.identity) row.identity = string_member(v, "cn");
  row.cert_sha256 = string_member(v, "cert_sha256");
  row.segment = string_member(v, "segment");
  row.decision = string_member(v, "decision");
  row.fingerprint = string_member(v, "fingerprint");
  return row;
}

bool extract_row_into(std::string_view line, StoreRow& row, std::string& why) {
  if (scan_canonical_row(line, row)) return true;
  auto r = extract_row_by_json_reader(line, why);
  if (!r) return false;
  row = std::move(*r);
  return true;
}

std::optional<StoreRow> extract_row(std::string_view line, std::string& why) {
  StoreRow row;
  if (!extract_row_into(line, row, why)) return std::nullopt;
  return row;
}

std::optional<std::int64_t> pg_timestamptz(std::string_view ts) {
  // YYYY-MM-DDTHH:MM:SS[.f]Z: more than 6 fraction digits would be rounded by the store.
  if (ts.size() > 21 && ts[19] == '.' && ts.size() - 21 > 6) return std::nullopt;
  const auto t = parse_timestamp(ts);
  if (!t) return std::nullopt;
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(t->time_since_epoch()).count();
  return static_cast<std::int64_t>(us) - kPgEpochUnixMicros;
}

const char* copy_sql(HashColumn h) {
  return h == HashColumn::present
             ? "COPY segproxy_audit.records (instance, seq, ts, event, session_id, identity, cert_sha256, segment, "
               "decision, fingerprint, hash, line) FROM STDIN (FORMAT binary)"
             : "COPY segproxy_audit.records (instance, seq, ts, event, session_id, identity, cert_sha256, segment, "
               "decision, fingerprint, line) FROM STDIN (FORMAT binary)";
}

void append_copy_binary_header(std::string& out) {
  static constexpr char kSignature[] = "PGCOPY\n\377\r\n";  // + its '\0': 11 bytes
  out.append(kSignature, sizeof kSignature);
  put32(out, 0);  // flags: no OIDs
  put32(out, 0);  // header extension length
}

bool append_copy_binary_row(std::string& out, std::string_view instance, const StoreRow& row, std::string_view line,
                            HashColumn h, std::string& why) {
  const auto ts = pg_timestamptz(row.ts);
  if (!ts) {
    why = "seq " + std::to_string(row.seq) + ": ts is not RFC 3339 UTC with at most 6 fraction digits";
    return false;
  }
  put16(out, h == HashColumn::present ? kCopyFieldsWithHash : kCopyFields);
  put_text(out, instance);
  put32(out, 8);
  put64(out, row.seq);
  put32(out, 8);
  put64(out, static_cast<std::uint64_t>(*ts));
  put_text(out, row.event);
  put_nullable(out, row.session_id);
  put_nullable(out, row.identity);
  put_nullable(out, row.cert_sha256);
  put_nullable(out, row.segment);
  put_nullable(out, row.decision);
  put_nullable(out, row.fingerprint);
  if (h == HashColumn::present) put_text(out, row.hash);
  put_text(out, line);
  return true;
}

void append_copy_binary_trailer(std::string& out) { put16(out, 0xFFFFu); }

}  // namespace segproxy::audit::store
