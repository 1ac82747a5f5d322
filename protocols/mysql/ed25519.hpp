#pragma once
// Ed25519 signing from an *expanded* 64-byte secret (RFC 8032 5.1.5/5.1.6 after the
// SHA-512 of the seed), for MariaDB's client_ed25519 authentication plugin, which
// expands SHA-512(password) of any length instead of a 32-byte seed. OpenSSL's Ed25519
// API only takes 32-byte seeds, so the curve arithmetic is done here with libcrypto
// BIGNUMs (extended twisted Edwards coordinates, complete addition formulas).
// Not constant-time (BIGNUM); the secret is the backend password, signing happens once
// per backend login on the proxy host.
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace segproxy::protocols::mysql {

using Ed25519Signature = std::array<std::uint8_t, 64>;
using Ed25519PublicKey = std::array<std::uint8_t, 32>;

// Signs `message` with the expanded secret `h` (h[0..32]: scalar, clamped here;
// h[32..64]: nonce prefix). std::nullopt only on a libcrypto failure.
std::optional<Ed25519Signature> ed25519_sign_expanded(std::span<const std::uint8_t, 64> h,
                                                      std::span<const std::uint8_t> message);
// The public key A = a * B for the expanded secret `h`.
std::optional<Ed25519PublicKey> ed25519_public_key_expanded(std::span<const std::uint8_t, 64> h);

// MariaDB client_ed25519: the 64-byte signature of the server's 32-byte nonce with
// h = SHA-512(password). The server stores base64(public key) as the account's
// authentication_string.
std::optional<Ed25519Signature> client_ed25519_response(std::string_view password,
                                                        std::span<const std::uint8_t> nonce);
std::optional<Ed25519PublicKey> client_ed25519_public_key(std::string_view password);

}  // namespace segproxy::protocols::mysql
