#include "etcd/client.hpp"

namespace segproxy::etcd {
namespace {

Error make_error(Error::Kind kind, std::string message, int code = 0) {
  Error e;
  e.kind = kind;
  e.code = code;
  e.message = std::move(message);
  return e;
}

template <class T>
Result<T> failed(Error e) {
  Result<T> r;
  r.error = std::move(e);
  return r;
}

// Decodes an answer body with `decode`; a server error keeps its gRPC code.
template <class T, class F>
Result<T> decoded(Result<std::string> body, F decode) {
  if (!body) return failed<T>(std::move(body.error));
  Decoded<T> d = decode(*body.value);
  if (!d) {
    return failed<T>(make_error(d.error.code < 0 ? Error::Kind::Protocol : Error::Kind::Server,
                                std::move(d.error.message), d.error.code));
  }
  Result<T> r;
  r.value = std::move(d.value);
  return r;
}

constexpr int kGrpcUnavailable = 14;

}  // namespace

Result<std::unique_ptr<Client>> Client::create(const ClientOptions& options) {
  if (options.endpoints.empty()) {
    return failed<std::unique_ptr<Client>>(make_error(Error::Kind::Config, "no etcd endpoints"));
  }
  std::unique_ptr<Client> c(new Client());
  for (const std::string& url : options.endpoints) {
    std::string error;
    std::optional<Endpoint> ep = parse_endpoint(url, error);
    if (!ep) return failed<std::unique_ptr<Client>>(make_error(Error::Kind::Config, url + ": " + error));
    c->endpoints_.push_back(std::move(*ep));
  }
  std::string error;
  c->tls_ = load_tls(options.tls, error);
  if (!c->tls_) return failed<std::unique_ptr<Client>>(make_error(Error::Kind::Config, error));
  for (const Endpoint& ep : c->endpoints_) {
    c->connections_.push_back(std::make_unique<HttpsConnection>(c->tls_, ep));
  }
  c->timeout_ = options.request_timeout;
  Result<std::unique_ptr<Client>> r;
  r.value = std::move(c);
  return r;
}

Client::~Client() = default;

const std::string& Client::current_endpoint() const { return endpoints_[current_].url; }

Result<std::string> Client::call(std::string_view path, const std::string& body) {
  std::string errors;
  for (std::size_t tried = 0; tried < connections_.size(); ++tried) {
    const std::size_t i = (current_ + tried) % connections_.size();
    HttpsConnection& conn = *connections_[i];
    unsigned status = 0;
    std::string answer;
    std::string error;
    Outcome o = conn.post(path, body, Clock::now() + timeout_, status, answer, error);
    if (o == Outcome::Ok && status == 503) {
      o = Outcome::Unavailable;
      error = endpoints_[i].url + " answered HTTP 503";
    }
    if (o == Outcome::Ok && status != 200) {
      // The gateway reports gRPC errors with an HTTP status and a JSON error body.
      Decoded<Header> d = decode_header_only(answer);
      if (!d && d.error.code == kGrpcUnavailable) {
        o = Outcome::Unavailable;
        error = endpoints_[i].url + ": " + d.error.message;
        conn.close();
      } else {
        current_ = i;
        Result<std::string> r;
        r.value = std::move(answer);  // the decoder turns the error body into the error
        if (d) {
          return failed<std::string>(make_error(
              Error::Kind::Protocol, endpoints_[i].url + " answered HTTP " + std::to_string(status)));
        }
        return r;
      }
    }
    if (o == Outcome::Ok) {
      current_ = i;
      Result<std::string> r;
      r.value = std::move(answer);
      return r;
    }
    if (o == Outcome::Protocol) {
      return failed<std::string>(make_error(Error::Kind::Protocol, error));
    }
    if (!errors.empty()) errors += "; ";
    errors += error;
  }
  return failed<std::string>(make_error(Error::Kind::Unavailable, "no etcd member answered: " + errors));
}

Result<RangeResponse> Client::range(const RangeRequest& request) {
  return decoded<RangeResponse>(call("/v3/kv/range", encode_range(request)), decode_range);
}

Result<RangeResponse> Client::range_prefix(std::string_view prefix, std::int64_t revision) {
  RangeRequest r;
  r.key = std::string(prefix);
  r.range_end = prefix_range_end(prefix);
  r.revision = revision;
  return range(r);
}

Result<PutResponse> Client::put(std::string_view key, std::string_view value, std::int64_t lease) {
  return decoded<PutResponse>(call("/v3/kv/put", encode_put(key, value, lease)), decode_put);
}

Result<DeleteResponse> Client::remove(std::string_view key, std::string_view range_end) {
  return decoded<DeleteResponse>(call("/v3/kv/deleterange", encode_delete(key, range_end)),
                                 decode_delete);
}

Result<TxnResponse> Client::put_if_mod_revision(std::string_view key, std::string_view value,
                                                std::int64_t expected_mod_revision,
                                                std::int64_t lease) {
  return decoded<TxnResponse>(
      call("/v3/kv/txn", encode_put_if_mod_revision(key, value, expected_mod_revision, lease)),
      decode_txn);
}

Result<Header> Client::compact(std::int64_t revision) {
  return decoded<Header>(call("/v3/kv/compaction", encode_compaction(revision)), decode_header_only);
}

Result<LeaseResponse> Client::lease_grant(std::int64_t ttl_seconds) {
  return decoded<LeaseResponse>(call("/v3/lease/grant", encode_lease_grant(ttl_seconds)),
                                decode_lease_grant);
}

Result<LeaseResponse> Client::lease_keepalive(std::int64_t id) {
  return decoded<LeaseResponse>(call("/v3/lease/keepalive", encode_lease_id(id)),
                                decode_lease_keepalive);
}

Result<Header> Client::lease_revoke(std::int64_t id) {
  return decoded<Header>(call("/v3/lease/revoke", encode_lease_id(id)), decode_header_only);
}

Result<StatusResponse> Client::status() {
  return decoded<StatusResponse>(call("/v3/maintenance/status", "{}"), decode_status);
}

Result<std::unique_ptr<Watch>> Client::watch(const WatchRequest& request) {
  const std::string body = encode_watch_create(request);
  std::string errors;
  for (std::size_t tried = 0; tried < endpoints_.size(); ++tried) {
    const std::size_t i = (current_ + tried) % endpoints_.size();
    auto conn = std::make_unique<HttpsConnection>(tls_, endpoints_[i]);
    std::string error;
    Outcome o = conn->start_stream("/v3/watch", body, Clock::now() + timeout_, error);
    if (o == Outcome::Ok) {
      current_ = i;
      Result<std::unique_ptr<Watch>> r;
      r.value = std::make_unique<Watch>(std::move(conn));
      return r;
    }
    if (!errors.empty()) errors += "; ";
    errors += error;
  }
  return failed<std::unique_ptr<Watch>>(
      make_error(Error::Kind::Unavailable, "no etcd member accepted the watch: " + errors));
}

Watch::Watch(std::unique_ptr<HttpsConnection> connection) : connection_(std::move(connection)) {}
Watch::~Watch() = default;

const std::string& Watch::endpoint() const { return connection_->endpoint().url; }

std::optional<WatchResponse> Watch::next(std::chrono::milliseconds wait) {
  if (!error_.empty()) return std::nullopt;
  const Clock::time_point deadline = Clock::now() + wait;
  while (next_ready_ >= ready_.size()) {
    ready_.clear();
    next_ready_ = 0;
    std::string bytes;
    std::string error;
    Outcome o = connection_->read_stream(deadline, bytes, error);
    if (o == Outcome::Timeout) return std::nullopt;
    if (o != Outcome::Ok) {
      error_ = error.empty() ? "watch stream ended" : error;
      return std::nullopt;
    }
    if (!splitter_.feed(bytes, ready_)) {
      error_ = "watch message longer than the cap";
      connection_->close();
      return std::nullopt;
    }
  }
  Decoded<WatchResponse> d = decode_watch_message(ready_[next_ready_++]);
  if (!d) {
    error_ = "watch: " + d.error.message;
    connection_->close();
    return std::nullopt;
  }
  if (d.value->canceled || d.value->compact_revision != 0) {
    error_ = d.value->compact_revision != 0
                 ? "watch start revision compacted (at " +
                       std::to_string(d.value->compact_revision) + "): resync"
                 : "watch canceled: " + d.value->cancel_reason;
    connection_->close();
  }
  return std::move(d.value);
}

}  // namespace segproxy::etcd
