#pragma once
// session.refused records for connections that end before login (issue 12 item 4.8):
// bytes that are not a startup packet, plaintext after SSLRequest, failed TLS handshakes,
// handshake deadlines. A probe must show in the audit log; a flood must not fill it. So
// at most one record per (listener, client IP, reason) per second is written; refusals
// folded into such a second are counted in the next record of the same key (`detail`
// "<reason>; folded=<n>"). Thread-safe (one instance per Server, shared by all workers).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "audit/sink.hpp"

namespace segproxy::proxy {

struct PreLoginRefusal {
  std::string_view session_id;
  std::string_view listener;
  std::string_view protocol;     // "postgresql" | "mysql"
  std::string_view client_addr;  // "ip:port" (the fold key uses the IP only)
  std::string_view reason;       // class: no_tls, plaintext_after_sslrequest, malformed_startup,
                                 // handshake_failed, timeout, per_address_limit, handshake_limit,
                                 // handshake_evicted
  std::string_view error;        // bounded human text (never a secret)
  std::string_view sqlstate;     // what the client was told, if anything
};

class RefusalAudit {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::size_t kMaxKeys = 4096;
  static constexpr std::size_t kMaxErrorChars = 256;

  explicit RefusalAudit(audit::AuditSink* sink, std::size_t max_keys = kMaxKeys)
      : sink_(sink), max_keys_(max_keys) {}

  // Submits a session.refused record unless the key had one less than a second ago
  // (then the refusal is counted and folded into the key's next record). Returns true
  // when a record was submitted.
  bool record(const PreLoginRefusal& r, Clock::time_point now);

  // The client address without its port ("[::1]:5" / "1.2.3.4:5" -> "::1" / "1.2.3.4").
  static std::string_view host_of(std::string_view addr);

 private:
  struct Entry {
    Clock::time_point last;
    std::uint64_t folded = 0;
  };
  void prune(Clock::time_point now);

  audit::AuditSink* sink_;
  std::size_t max_keys_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> keys_;
  std::uint64_t orphaned_ = 0;  // folded counts of keys pruned before their next record
};

}  // namespace segproxy::proxy
