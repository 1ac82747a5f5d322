#pragma once
// Maps the cancel key the proxy handed a client (backend pid + proxy secret) to the
// backend connection it must cancel. Shared by all I/O threads.
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace segproxy::proxy {

struct CancelTarget {
  std::string host;
  std::uint16_t port = 0;
  std::int32_t process_id = 0;
  std::int32_t backend_secret = 0;
  // SHA-256 of the certificate of the session that owns the key: a CancelRequest sent
  // inside TLS must come with the same certificate (a plaintext one, as libpq sends it,
  // is judged by the key alone, as PostgreSQL does).
  std::string owner_sha256;
};

class CancelRegistry {
 public:
  // Registers a session; returns the secret key to hand to the client (random,
  // unique for this pid).
  std::int32_t add(CancelTarget target);
  void remove(std::int32_t process_id, std::int32_t proxy_secret);
  std::optional<CancelTarget> find(std::int32_t process_id, std::int32_t proxy_secret) const;
  std::size_t size() const;

 private:
  static std::uint64_t key(std::int32_t pid, std::int32_t secret) {
    return (std::uint64_t{static_cast<std::uint32_t>(pid)} << 32) | static_cast<std::uint32_t>(secret);
  }
  mutable std::mutex mu_;
  std::unordered_map<std::uint64_t, CancelTarget> map_;
};

}  // namespace segproxy::proxy
