#pragma once
// Revocation / session selector values: the one set of rules that the admin wire
// protocol (admin::check_selector) and authz::RevocationList (normalize_revocation_value)
// both apply, kept below both so authz never includes the admin protocol.
#include <cstddef>
#include <string>
#include <string_view>

namespace segproxy::protocols {

inline constexpr std::size_t kMaxSelectorValueBytes = 1024;

// Name: identity or segment (any non-empty text); SpiffePrefix: "spiffe://" + a trust
// domain; CertSerial: hex digits with optional ':' separators (1 to 64 digits).
enum class SelectorValueRule { Name, SpiffePrefix, CertSerial };

// Empty when valid, else the message, naming the selector by `key` ("cert_serial", ...).
// Every value: non-empty, at most kMaxSelectorValueBytes, no control character.
std::string check_selector_value(std::string_view key, SelectorValueRule rule, std::string_view value);

// True when `s` holds a byte < 0x20 or DEL.
bool has_control_character(std::string_view s);

}  // namespace segproxy::protocols
