#pragma once
// ASN1_TIME (certificate notBefore/notAfter, CRL nextUpdate) as seconds since the epoch.
#include <openssl/asn1.h>

#include <cstdint>
#include <ctime>
#include <optional>

namespace segproxy::tls {

// nullopt for a null or malformed time.
inline std::optional<std::int64_t> to_unix_seconds(const ASN1_TIME* t) {
  if (t == nullptr) return std::nullopt;
  std::tm tm{};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return std::nullopt;
  return static_cast<std::int64_t>(timegm(&tm));
}

}  // namespace segproxy::tls
