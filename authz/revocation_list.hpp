#pragma once
// Emergency revocations (docs/admin.md): who may no longer connect, persisted so a
// restart keeps them, optionally expiring.
//
// Matching (`matches`):
//   Identity      the SPIFFE id exactly, or the CN exactly, or the certificate SHA-256
//                 (hex, case-insensitive, ':' separators ignored); also the forms that
//                 `sessions` and the logs show (ClientIdentity::display): "CN=<cn>"
//                 ("CN=" in any case, the name exactly) and "sha256:<hex>" (a prefix of
//                 at least 16 hex digits of the fingerprint).
//   SpiffePrefix  a path-segment-safe prefix of the SPIFFE id: "spiffe://td/ns/a"
//                 matches "spiffe://td/ns/a" and "spiffe://td/ns/a/x" but not
//                 "spiffe://td/ns/ab"; a prefix ending in '/' matches anything below
//                 it; "spiffe://td" matches every id of trust domain td (and not
//                 "spiffe://td.evil/..."). The prefix must start with "spiffe://".
//   CertSerial    the certificate serial; both sides compared as upper-case hex with
//                 ':' separators and leading zeros removed.
//   Segment       the segment name exactly (an empty segment never matches, so a check
//                 before the identity is mapped sees only identity-based revocations).
//
// Threads and persistence: authz/persisted_list (lock-free snapshots for readers; writers
// serialised, each change durable on disk before it is published; a failed write changes
// nothing).
//
// File format (strict; written by this class only): JSON Lines, one revocation object
// per line, each line ending in '\n', in list order:
//   {"id":"3f9c0a1b2c4d","kind":"identity","value":"spiffe://td/x","reason":"incident 7",
//    "created_at":"2026-11-22T13:31:34Z","expires_at":"2026-11-22T15:01:34Z","created_by_uid":0}
// expires_at is omitted for a permanent revocation. Saved atomically
// (write_file_atomically: a temporary file in the same directory (mode 0600), fsync,
// rename over the file, fsync the directory). Times have whole-second precision.
//
// No wall clock inside: callers pass `now`.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "authz/identity.hpp"
#include "authz/persisted_list.hpp"

namespace segproxy::authz {

using TimePoint = std::chrono::system_clock::time_point;

enum class RevocationKind { Identity, SpiffePrefix, CertSerial, Segment };
// "identity", "spiffe_prefix", "cert_serial", "segment" (the file's names; the admin
// protocol's keys are the same words, mapped daemon-side in daemon/control/admin_mapping).
std::string_view to_string(RevocationKind k);
std::optional<RevocationKind> revocation_kind_from_string(std::string_view s);

struct Revocation {
  std::string id;  // 12 lower-case hex digits, unique in the list
  RevocationKind kind = RevocationKind::Identity;
  std::string value;  // normalised (see normalize_revocation_value)
  std::string reason;
  TimePoint created_at{};
  std::optional<TimePoint> expires_at;  // none: until removed
  std::uint32_t created_by_uid = 0;

  bool active_at(TimePoint now) const { return !expires_at || now < *expires_at; }
  friend bool operator==(const Revocation&, const Revocation&) = default;
};

bool matches(const Revocation& r, const ClientIdentity& id, std::string_view segment);

// The Identity rule on its own (also the `sessions --identity X` filter).
bool identity_matches(std::string_view selector, const ClientIdentity& id);
// The SpiffePrefix rule on its own.
bool spiffe_prefix_matches(std::string_view prefix, std::string_view spiffe_id);
// Upper-case hex without ':' and leading zeros ("0" for zero); empty when `s` has a
// character other than hex digits and ':' or no digit at all.
std::string normalize_serial(std::string_view s);

// Validates a selector value for `kind` and returns its stored form (cert serials
// normalised, everything else unchanged); nullopt and `error` set when invalid.
std::optional<std::string> normalize_revocation_value(RevocationKind kind, std::string_view value,
                                                      std::string& error);

using RevocationSnapshot = std::shared_ptr<const std::vector<Revocation>>;

class RevocationList : public PersistedList<Revocation> {
 public:
  // `file` empty: in memory only (nothing is persisted). load, prune_expired, replace,
  // snapshot, active_count: PersistedList (a missing file is an empty list; a file that
  // does not decode keeps the current list, the message names the file and line).
  explicit RevocationList(std::filesystem::path file);

  // Adds a revocation; an existing one with the same kind and (normalised) value is
  // replaced, so revoking again updates reason and expiry. changed = {the new entry}.
  Update add(RevocationKind kind, std::string_view value, std::string reason, std::optional<std::chrono::seconds> ttl,
             std::uint32_t created_by_uid, TimePoint now);
  // Removes every revocation with this kind and value (normalised first); changed =
  // the removed entries (empty when none matched: ok, and the file is not rewritten).
  Update remove(RevocationKind kind, std::string_view value);

  // First revocation active at `now` that matches; lock-free.
  std::optional<Revocation> find_match(const ClientIdentity& id, std::string_view segment, TimePoint now) const;
};

// File encoding, exposed for tests and tools.
std::string encode_revocation_line(const Revocation& r);  // no '\n'
// Whole-file decode; on error returns nullopt with "line N: ..." in `error`.
std::optional<std::vector<Revocation>> decode_revocation_file(std::string_view text, std::string& error);

}  // namespace segproxy::authz
