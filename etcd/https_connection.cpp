#include "etcd/https_connection.hpp"

// Boost 1.74's asio/awaitable.hpp needs <utility> first (docs/architecture.md).
#include <utility>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <openssl/ssl.h>

#include "etcd/codec.hpp"

namespace segproxy::etcd {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

class TlsContext {
 public:
  asio::ssl::context ctx{asio::ssl::context::tls_client};
};

std::optional<Endpoint> parse_endpoint(std::string_view url, std::string& error) {
  constexpr std::string_view scheme = "https://";
  if (url.substr(0, scheme.size()) != scheme) {
    error = "etcd endpoint must start with https:// (the control plane is never plaintext)";
    return std::nullopt;
  }
  std::string_view rest = url.substr(scheme.size());
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  Endpoint ep;
  ep.url = std::string(url);
  std::size_t colon;
  if (!rest.empty() && rest.front() == '[') {
    std::size_t close = rest.find(']');
    if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':') {
      error = "etcd endpoint needs host:port";
      return std::nullopt;
    }
    ep.host = std::string(rest.substr(1, close - 1));
    colon = close + 1;
  } else {
    colon = rest.rfind(':');
    if (colon == std::string_view::npos || colon == 0) {
      error = "etcd endpoint needs host:port";
      return std::nullopt;
    }
    ep.host = std::string(rest.substr(0, colon));
  }
  std::string_view port = rest.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos ||
      std::stoi(std::string(port)) == 0 || std::stoi(std::string(port)) > 65535 ||
      ep.host.find_first_of("/?#@ ") != std::string::npos || ep.host.empty()) {
    error = "etcd endpoint has an invalid host or port";
    return std::nullopt;
  }
  ep.port = std::string(port);
  return ep;
}

std::shared_ptr<TlsContext> load_tls(const TlsFiles& files, std::string& error) {
  auto tls = std::make_shared<TlsContext>();
  error_code ec;
  tls->ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                           asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                           asio::ssl::context::no_tlsv1_1,
                       ec);
  tls->ctx.set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
  tls->ctx.load_verify_file(files.ca, ec);
  if (ec) {
    error = "cannot load the etcd CA " + files.ca + ": " + ec.message();
    return nullptr;
  }
  tls->ctx.use_certificate_chain_file(files.cert, ec);
  if (ec) {
    error = "cannot load the etcd client certificate " + files.cert + ": " + ec.message();
    return nullptr;
  }
  tls->ctx.use_private_key_file(files.key, asio::ssl::context::pem, ec);
  if (ec) {
    error = "cannot load the etcd client key " + files.key + ": " + ec.message();
    return nullptr;
  }
  return tls;
}

struct HttpsConnection::Impl {
  std::shared_ptr<TlsContext> tls;
  Endpoint ep;
  asio::io_context ioc;
  std::optional<beast::ssl_stream<beast::tcp_stream>> stream;
  beast::flat_buffer buf;
  bool connected = false;
  // Streaming state: the pending read lives here, not on a caller's stack.
  std::optional<http::response_parser<http::buffer_body>> sparser;
  bool read_pending = false;
  bool read_done = false;
  error_code read_ec;
  char sbuf[16 * 1024];

  // Runs the io_context until `done` or the deadline. False on deadline.
  bool run(Clock::time_point deadline, const bool& done) {
    ioc.restart();
    while (!done) {
      if (ioc.run_one_until(deadline) == 0) {
        if (done) break;
        if (Clock::now() >= deadline) return false;
        if (ioc.stopped()) return false;  // no work left: cannot complete
      }
    }
    return true;
  }

  // Closes the socket and lets every outstanding handler finish (they reference locals).
  void abort() {
    if (stream) {
      error_code ec;
      beast::get_lowest_layer(*stream).socket().close(ec);
    }
    ioc.restart();
    ioc.run();
    stream.reset();
    sparser.reset();
    buf.clear();
    connected = false;
    read_pending = false;
  }

  Outcome connect(Clock::time_point deadline, std::string& error) {
    abort();
    stream.emplace(ioc, tls->ctx);
    error_code addr_ec;
    asio::ip::make_address(ep.host, addr_ec);
    if (addr_ec) {  // a name: SNI
      if (!SSL_set_tlsext_host_name(stream->native_handle(), ep.host.c_str())) {
        error = "cannot set TLS SNI";
        return Outcome::Protocol;
      }
    }
    stream->set_verify_callback(asio::ssl::host_name_verification(ep.host));

    bool done = false;
    error_code ec;
    tcp::resolver resolver(ioc);
    tcp::resolver::results_type results;
    resolver.async_resolve(ep.host, ep.port, [&](error_code e, tcp::resolver::results_type r) {
      ec = e;
      results = std::move(r);
      done = true;
    });
    if (!run(deadline, done)) {
      resolver.cancel();
      abort();
      error = "timeout resolving " + ep.url;
      return Outcome::Timeout;
    }
    if (ec) {
      error = "cannot resolve " + ep.url + ": " + ec.message();
      abort();
      return Outcome::Unavailable;
    }
    done = false;
    beast::get_lowest_layer(*stream).async_connect(
        results, [&](error_code e, const tcp::endpoint&) {
          ec = e;
          done = true;
        });
    if (!run(deadline, done)) {
      abort();
      error = "timeout connecting to " + ep.url;
      return Outcome::Timeout;
    }
    if (ec) {
      error = "cannot connect to " + ep.url + ": " + ec.message();
      abort();
      return Outcome::Unavailable;
    }
    done = false;
    stream->async_handshake(asio::ssl::stream_base::client, [&](error_code e) {
      ec = e;
      done = true;
    });
    if (!run(deadline, done)) {
      abort();
      error = "timeout in the TLS handshake with " + ep.url;
      return Outcome::Timeout;
    }
    if (ec) {
      error = "TLS handshake with " + ep.url + " failed: " + ec.message();
      abort();
      return Outcome::Unavailable;
    }
    connected = true;
    return Outcome::Ok;
  }

  Outcome send_request(std::string_view path, std::string_view body, Clock::time_point deadline,
                       std::string& error) {
    http::request<http::string_body> req{http::verb::post, std::string(path), 11};
    req.set(http::field::host, ep.host + ":" + ep.port);
    req.set(http::field::content_type, "application/json");
    req.keep_alive(true);
    req.body() = std::string(body);
    req.prepare_payload();
    bool done = false;
    error_code ec;
    http::async_write(*stream, req, [&](error_code e, std::size_t) {
      ec = e;
      done = true;
    });
    if (!run(deadline, done)) {
      abort();
      error = "timeout writing to " + ep.url;
      return Outcome::Timeout;
    }
    if (ec) {
      abort();
      error = "write to " + ep.url + " failed: " + ec.message();
      return Outcome::Unavailable;
    }
    return Outcome::Ok;
  }
};

HttpsConnection::HttpsConnection(std::shared_ptr<TlsContext> tls, Endpoint endpoint)
    : impl_(std::make_unique<Impl>()) {
  impl_->tls = std::move(tls);
  impl_->ep = std::move(endpoint);
}

HttpsConnection::~HttpsConnection() { impl_->abort(); }

const Endpoint& HttpsConnection::endpoint() const { return impl_->ep; }

void HttpsConnection::close() { impl_->abort(); }

Outcome HttpsConnection::post(std::string_view path, std::string_view body,
                              Clock::time_point deadline, unsigned& status, std::string& answer,
                              std::string& error) {
  Impl& m = *impl_;
  if (m.sparser) m.abort();  // a streaming connection is not reused for unary calls
  // A kept-alive connection the member has closed fails on first use: one fresh retry.
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool reused = m.connected;
    if (!m.connected) {
      Outcome o = m.connect(deadline, error);
      if (o != Outcome::Ok) return o;
    }
    Outcome o = m.send_request(path, body, deadline, error);
    if (o == Outcome::Unavailable && reused) continue;
    if (o != Outcome::Ok) return o;
    http::response_parser<http::string_body> parser;
    parser.body_limit(kMaxBody);
    parser.header_limit(64 * 1024);
    bool done = false;
    error_code ec;
    http::async_read(*m.stream, m.buf, parser, [&](error_code e, std::size_t) {
      ec = e;
      done = true;
    });
    if (!m.run(deadline, done)) {
      m.abort();
      error = "timeout waiting for " + m.ep.url;
      return Outcome::Timeout;
    }
    if (ec == http::error::end_of_stream && reused) {
      m.abort();
      continue;
    }
    if (ec) {
      m.abort();
      error = "read from " + m.ep.url + " failed: " + ec.message();
      return (ec == http::error::body_limit || ec == http::error::header_limit)
                 ? Outcome::Protocol
                 : Outcome::Unavailable;
    }
    status = parser.get().result_int();
    answer = std::move(parser.get().body());
    if (!parser.get().keep_alive()) m.abort();
    return Outcome::Ok;
  }
  error = "connection to " + m.ep.url + " closed";
  return Outcome::Unavailable;
}

Outcome HttpsConnection::start_stream(std::string_view path, std::string_view body,
                                      Clock::time_point deadline, std::string& error) {
  Impl& m = *impl_;
  Outcome o = m.connect(deadline, error);
  if (o != Outcome::Ok) return o;
  o = m.send_request(path, body, deadline, error);
  if (o != Outcome::Ok) return o;
  m.sparser.emplace();
  m.sparser->body_limit(boost::none);  // a stream is unbounded; each message is capped
  m.sparser->header_limit(64 * 1024);
  bool done = false;
  error_code ec;
  http::async_read_header(*m.stream, m.buf, *m.sparser, [&](error_code e, std::size_t) {
    ec = e;
    done = true;
  });
  if (!m.run(deadline, done)) {
    m.abort();
    error = "timeout waiting for the stream answer of " + m.ep.url;
    return Outcome::Timeout;
  }
  if (ec) {
    m.abort();
    error = "stream from " + m.ep.url + " failed: " + ec.message();
    return Outcome::Unavailable;
  }
  if (m.sparser->get().result_int() != 200) {
    error = "stream from " + m.ep.url + " answered HTTP " +
            std::to_string(m.sparser->get().result_int());
    m.abort();
    return Outcome::Protocol;
  }
  return Outcome::Ok;
}

Outcome HttpsConnection::read_stream(Clock::time_point deadline, std::string& out,
                                     std::string& error) {
  Impl& m = *impl_;
  if (!m.sparser || !m.stream) {
    error = "no stream";
    return Outcome::Unavailable;
  }
  if (!m.read_pending) {
    if (m.sparser->is_done()) {
      m.abort();
      error = "stream from " + m.ep.url + " ended";
      return Outcome::Unavailable;
    }
    m.sparser->get().body().data = m.sbuf;
    m.sparser->get().body().size = sizeof(m.sbuf);
    m.read_pending = true;
    m.read_done = false;
    http::async_read_some(*m.stream, m.buf, *m.sparser, [&m](error_code e, std::size_t) {
      m.read_ec = e;
      m.read_done = true;
    });
  }
  if (!m.run(deadline, m.read_done)) return Outcome::Timeout;  // read stays pending
  m.read_pending = false;
  if (m.read_ec && m.read_ec != http::error::need_buffer) {
    error = "stream from " + m.ep.url + " failed: " + m.read_ec.message();
    m.abort();
    return Outcome::Unavailable;
  }
  std::size_t n = sizeof(m.sbuf) - m.sparser->get().body().size;
  out.append(m.sbuf, n);
  return Outcome::Ok;
}

}  // namespace segproxy::etcd
