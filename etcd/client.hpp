#pragma once
// etcd v3 client over the JSON gateway (docs/fleet.md: why not gRPC): an endpoint list
// with failover, KV (range/put/delete/compare-and-set), leases and watches.
//
// Blocking and thread-confined (like the daemon's libpq metadata logins): the daemon
// drives it from its fleet thread. Every call is bounded: each member gets
// `request_timeout` (connect + TLS + answer), and a call tries each member at most once,
// starting with the one that answered last; a member that is down, times out or
// answers "unavailable" (gRPC code 14, HTTP 503) makes the call move to the next.
// Server answers (e.g. "lease not found") are returned as they are, without failover.
// Retrying a put on another member after a timeout can apply it twice: the operations
// used by the fleet (put of a whole value, lease grant that expires) tolerate that.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "etcd/codec.hpp"
#include "etcd/https_connection.hpp"

namespace segproxy::etcd {

struct ClientOptions {
  std::vector<std::string> endpoints;  // https://host:port, at least one
  TlsFiles tls;
  std::chrono::milliseconds request_timeout{3000};
};

struct Error {
  enum class Kind {
    Config,       // bad options (endpoint, TLS files)
    Unavailable,  // no member answered
    Server,       // a member answered with an error (code, message)
    Protocol,     // an answer this client cannot read
  };
  Kind kind = Kind::Unavailable;
  int code = 0;  // gRPC status code for Server
  std::string message;
};

template <class T>
struct Result {
  std::optional<T> value;
  Error error;  // meaningful when !value
  explicit operator bool() const { return value.has_value(); }
};

class Watch;

class Client {
 public:
  static Result<std::unique_ptr<Client>> create(const ClientOptions& options);
  ~Client();

  Result<RangeResponse> range(const RangeRequest& request);
  // Every key under `prefix`, at `revision` (0: latest).
  Result<RangeResponse> range_prefix(std::string_view prefix, std::int64_t revision = 0);
  Result<PutResponse> put(std::string_view key, std::string_view value, std::int64_t lease = 0);
  Result<DeleteResponse> remove(std::string_view key, std::string_view range_end = {});
  Result<TxnResponse> put_if_mod_revision(std::string_view key, std::string_view value,
                                          std::int64_t expected_mod_revision,
                                          std::int64_t lease = 0);
  // Drops the history below `revision` (watches from before it report compaction).
  Result<Header> compact(std::int64_t revision);
  Result<LeaseResponse> lease_grant(std::int64_t ttl_seconds);
  // ttl == 0 in the answer: the lease is gone (expired or revoked).
  Result<LeaseResponse> lease_keepalive(std::int64_t id);
  Result<Header> lease_revoke(std::int64_t id);
  // The status of the member that answers.
  Result<StatusResponse> status();

  // A watch on its own connection (failover on open like any call).
  Result<std::unique_ptr<Watch>> watch(const WatchRequest& request);

  // The endpoint that answered last (for logs and tests).
  const std::string& current_endpoint() const;

 private:
  Client() = default;
  Result<std::string> call(std::string_view path, const std::string& body);

  std::shared_ptr<TlsContext> tls_;
  std::vector<Endpoint> endpoints_;
  std::vector<std::unique_ptr<HttpsConnection>> connections_;
  std::size_t current_ = 0;
  std::chrono::milliseconds timeout_{3000};
};

// A watch stream. next() returns the next message (created, events, progress notify,
// canceled/compacted) or, when nothing arrived before the deadline, an empty optional
// with ok() still true. After a compacted answer (compact_revision != 0), a canceled
// one or ok() == false the watch is over: resync (range, then a new watch).
class Watch {
 public:
  Watch(std::unique_ptr<HttpsConnection> connection);
  ~Watch();
  std::optional<WatchResponse> next(std::chrono::milliseconds wait);
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  const std::string& endpoint() const;

 private:
  std::unique_ptr<HttpsConnection> connection_;
  MessageSplitter splitter_;
  std::vector<std::string> ready_;
  std::size_t next_ready_ = 0;
  std::string error_;
};

}  // namespace segproxy::etcd
