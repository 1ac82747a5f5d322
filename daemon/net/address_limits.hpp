#pragma once
// Per source address caps, shared by every listener and I/O thread (issue 12, 4.6):
//  - connections from one address that have not finished logging in
//    (limits.max_handshakes_per_address): a flood of half-open connections from one
//    host cannot exhaust the proxy, whatever it sends (or does not send);
//  - connections from one address in all (limits.max_connections_per_address, 0 = no cap:
//    sidecars and load balancers funnel every client through one address);
//  - connections of one listener that have not finished logging in, from all addresses
//    together (limits.max_concurrent_handshakes, issue 20): a flood from many hosts or
//    slow TLS peers cannot pile up unbounded handshake work and memory;
//  - CancelRequests from one address per second (limits.cancel_requests_per_second,
//    a token bucket with one second of burst), so cancel keys cannot be guessed at speed.
// The table holds only addresses with a live connection or a recent cancel: bounded by
// the connections themselves plus kMaxIdleEntries.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace segproxy::proxy {

struct AddressCaps {
  std::size_t max_handshakes = 0;    // 0 = no cap
  std::size_t max_connections = 0;   // 0 = no cap
  std::uint32_t cancels_per_second = 0;  // 0 = no cap
  std::size_t max_listener_handshakes = 0;  // 0 = no cap
};

class AddressLimits : public std::enable_shared_from_this<AddressLimits> {
 public:
  using Clock = std::chrono::steady_clock;

  // A connection's hold on its address's counts; released by destruction.
  class Lease {
   public:
    Lease(std::shared_ptr<AddressLimits> owner, std::string address, std::string listener)
        : owner_(std::move(owner)), address_(std::move(address)), listener_(std::move(listener)) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();
    // The connection finished logging in: it no longer counts as a handshake.
    void logged_in();

   private:
    std::shared_ptr<AddressLimits> owner_;
    std::string address_;
    std::string listener_;
    bool logged_in_ = false;
  };

  enum class Refusal { None, Handshakes, Connections, ListenerHandshakes };
  struct Admission {
    std::shared_ptr<Lease> lease;  // null when refused
    Refusal refusal = Refusal::None;
  };
  // A new connection from `address` (an IP address text) on listener `listener`.
  Admission admit(const std::string& address, const std::string& listener, const AddressCaps& caps);
  Admission admit(const std::string& address, const AddressCaps& caps) { return admit(address, "", caps); }
  // A CancelRequest from `address` at `now`: false = over the rate, drop it.
  bool allow_cancel(const std::string& address, const AddressCaps& caps, Clock::time_point now);

  // For tests and metrics.
  std::size_t handshakes(const std::string& address) const;
  std::size_t connections(const std::string& address) const;
  std::size_t tracked_addresses() const;
  std::size_t listener_handshakes(const std::string& listener) const;

 private:
  struct Entry {
    std::size_t handshakes = 0;
    std::size_t connections = 0;
    double tokens = 0;  // cancel bucket
    Clock::time_point refilled{};
  };
  static constexpr std::size_t kMaxIdleEntries = 4096;  // addresses kept for their cancel bucket only
  void release(const std::string& address, const std::string& listener, bool logged_in);
  void on_logged_in(const std::string& address, const std::string& listener);
  void forget_if_idle(std::unordered_map<std::string, Entry>::iterator it);

  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
  std::unordered_map<std::string, std::size_t> listener_handshakes_;  // by listener name
  std::size_t idle_entries_ = 0;  // entries with no connection (kept for their bucket)
};

}  // namespace segproxy::proxy
