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
//    At that cap a new connection from an address with two fewer connections in handshake
//    than another address among the listener's 64 oldest is not refused: the oldest of
//    them from such a heavier address is evicted to make room (its session's evictor
//    closes it), so a flood from a few hosts cannot lock a well-behaved host out (a
//    flood from as many hosts as there are places cannot be told from it);
//  - CancelRequests from one address per second (limits.cancel_requests_per_second,
//    a token bucket with one second of burst), so cancel keys cannot be guessed at speed.
// The table holds only addresses with a live connection or a recent cancel: bounded by
// the connections themselves plus kMaxIdleEntries.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
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
    // The connection finished logging in: it no longer counts as a handshake (nor can it
    // be evicted).
    void logged_in();
    // How to close this connection when it is evicted (called on the accepting thread, at
    // most once: it posts to the session's own thread). Until it is set the connection
    // cannot be evicted.
    void set_evictor(std::function<void()> evict);
    const std::string& address() const { return address_; }

   private:
    friend class AddressLimits;
    std::shared_ptr<AddressLimits> owner_;
    std::string address_;
    std::string listener_;
    bool logged_in_ = false;  // guarded by the owner's mutex from here on
    bool evicted_ = false;
    std::function<void()> evict_;
    std::list<Lease*>::iterator evictable_{};  // in the owner's list while in_list_
    bool in_list_ = false;
  };

  enum class Refusal { None, Handshakes, Connections, ListenerHandshakes };
  struct Admission {
    std::shared_ptr<Lease> lease;  // null when refused
    Refusal refusal = Refusal::None;
    // Set when a connection was evicted to make room: the caller runs it (closes that
    // connection) and counts the eviction.
    std::function<void()> evicted{};
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
  void release(Lease& lease);
  void on_logged_in(Lease& lease);
  void unlist(Lease& lease);  // under mu_
  // Under mu_, at the listener's cap: evicts the oldest of its 64 oldest evictable
  // connections whose address has at least two more connections in handshake than
  // `address` (a bounded scan per refusal); returns its evictor, or nothing.
  std::function<void()> evict_for(const std::string& address, const std::string& listener);
  void forget_if_idle(std::unordered_map<std::string, Entry>::iterator it);

  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
  std::unordered_map<std::string, std::size_t> listener_handshakes_;  // by listener name
  std::size_t idle_entries_ = 0;  // entries with no connection (kept for their bucket)
  // Connections in handshake that can be evicted, by listener name, oldest first.
  std::unordered_map<std::string, std::list<Lease*>> evictable_;
};

}  // namespace segproxy::proxy
