#include "support/raw_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "support/env.hpp"

namespace segproxy::it {
namespace {

using Clock = std::chrono::steady_clock;

int ms_left(Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

std::string openssl_errors() {
  std::string out;
  while (const unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

std::uint32_t read_be32(const std::string& s, std::size_t at) {
  return (static_cast<std::uint32_t>(static_cast<unsigned char>(s[at])) << 24) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + 1])) << 16) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + 2])) << 8) |
         static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + 3]));
}

}  // namespace

std::string be32(std::uint32_t v) {
  std::string s(4, '\0');
  s[0] = static_cast<char>((v >> 24) & 0xff);
  s[1] = static_cast<char>((v >> 16) & 0xff);
  s[2] = static_cast<char>((v >> 8) & 0xff);
  s[3] = static_cast<char>(v & 0xff);
  return s;
}

std::string be16(std::uint16_t v) { return std::string{static_cast<char>(v >> 8), static_cast<char>(v & 0xff)}; }

std::string frontend_message(char type, const std::string& body) {
  return std::string(1, type) + be32(static_cast<std::uint32_t>(body.size() + 4)) + body;
}

namespace {
std::string cstr(const std::string& s) { return s + std::string(1, '\0'); }
}  // namespace

std::string query_packet(const std::string& sql) { return frontend_message('Q', cstr(sql)); }
std::string parse_packet(const std::string& statement, const std::string& sql) {
  return frontend_message('P', cstr(statement) + cstr(sql) + be16(0));
}
std::string bind_packet(const std::string& portal, const std::string& statement) {
  return frontend_message('B', cstr(portal) + cstr(statement) + be16(0) + be16(0) + be16(0));
}
std::string describe_portal_packet(const std::string& portal) { return frontend_message('D', "P" + cstr(portal)); }
std::string execute_packet(const std::string& portal) { return frontend_message('E', cstr(portal) + be32(0)); }
std::string sync_packet() { return frontend_message('S', ""); }
std::string terminate_packet() { return frontend_message('X', ""); }

RawReply read_reply(RawClient& raw, std::chrono::milliseconds timeout) {
  RawReply r;
  for (;;) {
    const std::optional<BackendMessage> m = raw.read_message(timeout);
    if (!m) {
      r.closed = raw.last_status() == RawClient::ReadStatus::Closed;
      return r;
    }
    r.types += m->type;
    if (m->type == 'E' && r.error.empty()) r.error = parse_error_fields(m->body);
    if (m->type == 'D') r.rows.push_back(m->body);
    if (m->type == 'Z') {
      r.complete = true;
      return r;
    }
  }
}

std::string ssl_request_packet() { return be32(8) + be32(80877103); }

std::string cancel_request_packet(std::int32_t pid, std::int32_t key) {
  return be32(16) + be32(80877102) + be32(static_cast<std::uint32_t>(pid)) +
         be32(static_cast<std::uint32_t>(key));
}

std::string startup_packet(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string body = be32(196608);
  for (const auto& [k, v] : params) {
    body += k;
    body.push_back('\0');
    body += v;
    body.push_back('\0');
  }
  body.push_back('\0');
  return be32(static_cast<std::uint32_t>(body.size() + 4)) + body;
}

std::map<char, std::string> parse_error_fields(const std::string& body) {
  std::map<char, std::string> out;
  std::size_t i = 0;
  while (i < body.size() && body[i] != '\0') {
    const char code = body[i++];
    const std::size_t end = body.find('\0', i);
    if (end == std::string::npos) break;
    out[code] = body.substr(i, end - i);
    i = end + 1;
  }
  return out;
}

RawClient::~RawClient() { close(); }

void RawClient::close() {
  if (ssl_ != nullptr) {
    SSL_free(ssl_);
    ssl_ = nullptr;
  }
  if (ctx_ != nullptr) {
    SSL_CTX_free(ctx_);
    ctx_ = nullptr;
  }
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

bool RawClient::connect_tcp(std::uint16_t port, std::string* error, const char* source) {
  close();
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    *error = std::string("socket: ") + std::strerror(errno);
    return false;
  }
  if (source != nullptr) {
    sockaddr_in from{};
    from.sin_family = AF_INET;
    if (::inet_pton(AF_INET, source, &from.sin_addr) != 1 ||
        ::bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0) {
      *error = std::string("bind ") + source + ": " + std::strerror(errno);
      close();
      return false;
    }
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    *error = std::string("connect: ") + std::strerror(errno);
    close();
    return false;
  }
  const int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  // Safety net: no single blocking read/write inside OpenSSL may hang a test.
  timeval tv{10, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  return true;
}

std::optional<char> RawClient::ssl_request(std::chrono::milliseconds timeout) {
  if (!send(ssl_request_packet())) return std::nullopt;
  const auto deadline = Clock::now() + timeout;
  pollfd pfd{fd_, POLLIN, 0};
  if (::poll(&pfd, 1, ms_left(deadline)) <= 0) return std::nullopt;
  char c = 0;
  // Exactly one byte: anything after it belongs to the TLS handshake.
  if (::recv(fd_, &c, 1, 0) != 1) return std::nullopt;
  return c;
}

bool RawClient::tls_handshake(const std::string& ca, const std::string& cert,
                              const std::string& key, std::chrono::milliseconds timeout,
                              std::string* error) {
  ERR_clear_error();
  ctx_ = SSL_CTX_new(TLS_client_method());
  if (ctx_ == nullptr) {
    *error = "SSL_CTX_new: " + openssl_errors();
    return false;
  }
  SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
  if (SSL_CTX_load_verify_locations(ctx_, ca.c_str(), nullptr) != 1) {
    *error = "load CA " + ca + ": " + openssl_errors();
    return false;
  }
  SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
  if (!cert.empty() && !key.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx_, cert.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx_, key.c_str(), SSL_FILETYPE_PEM) != 1) {
      *error = "load client cert " + cert + ": " + openssl_errors();
      return false;
    }
  }
  ssl_ = SSL_new(ctx_);
  SSL_set_fd(ssl_, fd_);
  SSL_set_tlsext_host_name(ssl_, "localhost");
  SSL_set1_host(ssl_, "localhost");
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    const int r = SSL_connect(ssl_);
    if (r == 1) break;
    const int err = SSL_get_error(ssl_, r);
    if ((err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) && ms_left(deadline) > 0) {
      pollfd pfd{fd_, static_cast<short>(err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT), 0};
      ::poll(&pfd, 1, ms_left(deadline));
      continue;
    }
    *error = "TLS handshake failed (SSL error " + std::to_string(err) + "): " + openssl_errors();
    SSL_free(ssl_);
    ssl_ = nullptr;
    return false;
  }
  // TLS 1.3: the server's verdict on our certificate arrives after SSL_connect returns;
  // callers find out on the first read.
  return true;
}

bool RawClient::start_tls(const std::string& ca, const std::string& cert, const std::string& key,
                          std::string* error) {
  const std::optional<char> answer = ssl_request(std::chrono::seconds(5));
  if (!answer) {
    *error = "no answer to SSLRequest";
    return false;
  }
  if (*answer != 'S') {
    *error = std::string("SSLRequest answered '") + *answer + "'";
    return false;
  }
  return tls_handshake(ca, cert, key, std::chrono::seconds(5), error);
}

bool RawClient::send(std::string_view bytes) {
  if (fd_ < 0) return false;
  std::size_t done = 0;
  while (done < bytes.size()) {
    if (ssl_ != nullptr) {
      const int n = SSL_write(ssl_, bytes.data() + done, static_cast<int>(bytes.size() - done));
      if (n <= 0) {
        ERR_clear_error();
        return false;
      }
      done += static_cast<std::size_t>(n);
    } else {
      const ssize_t n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      done += static_cast<std::size_t>(n);
    }
  }
  return true;
}

RawClient::ReadStatus RawClient::read_some(std::string& out, std::chrono::milliseconds timeout) {
  if (fd_ < 0) return last_status_ = ReadStatus::Closed;
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (ssl_ == nullptr || SSL_pending(ssl_) == 0) {
      pollfd pfd{fd_, POLLIN, 0};
      const int n = ::poll(&pfd, 1, ms_left(deadline));
      if (n < 0 && errno == EINTR) continue;
      if (n == 0) return last_status_ = ReadStatus::Timeout;
      if (n < 0) return last_status_ = ReadStatus::Closed;
    }
    char buf[16384];
    if (ssl_ != nullptr) {
      const int n = SSL_read(ssl_, buf, sizeof buf);
      if (n > 0) {
        out.append(buf, static_cast<std::size_t>(n));
        return last_status_ = ReadStatus::Data;
      }
      const int err = SSL_get_error(ssl_, n);
      ERR_clear_error();
      if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
        // A non-application record (e.g. a TLS 1.3 session ticket): keep waiting.
        if (ms_left(deadline) == 0) return last_status_ = ReadStatus::Timeout;
        continue;
      }
      return last_status_ = ReadStatus::Closed;  // close_notify, alert, EOF or reset
    }
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n > 0) {
      out.append(buf, static_cast<std::size_t>(n));
      return last_status_ = ReadStatus::Data;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return last_status_ = ReadStatus::Timeout;
    }
    return last_status_ = ReadStatus::Closed;  // 0 = EOF, or ECONNRESET
  }
}

bool RawClient::wait_closed(std::chrono::milliseconds timeout, std::string* received) {
  const auto deadline = Clock::now() + timeout;
  std::string sink;
  for (;;) {
    const ReadStatus st = read_some(sink, std::chrono::milliseconds(ms_left(deadline)));
    if (st == ReadStatus::Closed) break;
    if (st == ReadStatus::Timeout) {
      if (received != nullptr) *received = buf_ + sink;
      return false;
    }
  }
  if (received != nullptr) *received = buf_ + sink;
  return true;
}

std::optional<BackendMessage> RawClient::read_message(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (buf_.size() >= 5) {
      const std::uint32_t len = read_be32(buf_, 1);
      if (len < 4) {
        last_status_ = ReadStatus::Closed;  // nonsense from the server
        return std::nullopt;
      }
      if (buf_.size() >= 1 + static_cast<std::size_t>(len)) {
        BackendMessage m{buf_[0], buf_.substr(5, len - 4)};
        buf_.erase(0, 1 + static_cast<std::size_t>(len));
        return m;
      }
    }
    const ReadStatus st = read_some(buf_, std::chrono::milliseconds(ms_left(deadline)));
    if (st != ReadStatus::Data) return std::nullopt;
  }
}

std::optional<BackendMessage> RawClient::startup(
    const std::vector<std::pair<std::string, std::string>>& params,
    std::chrono::milliseconds timeout) {
  if (!send(startup_packet(params))) return std::nullopt;
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    std::optional<BackendMessage> m = read_message(std::chrono::milliseconds(ms_left(deadline)));
    if (!m) return std::nullopt;
    if (m->type == 'K' && m->body.size() == 8) {
      key_ = std::make_pair(static_cast<std::int32_t>(read_be32(m->body, 0)),
                            static_cast<std::int32_t>(read_be32(m->body, 4)));
    }
    if (m->type == 'Z' || m->type == 'E') return m;
  }
}

::testing::AssertionResult connect_tls(RawClient& raw, std::uint16_t port, const std::string& cert) {
  std::string err;
  if (!raw.connect_tcp(port, &err)) return ::testing::AssertionFailure() << "connect: " << err;
  if (!raw.start_tls(env().pki_file("ca.crt"), env().pki_file(cert + ".crt"), env().pki_file(cert + ".key"), &err)) {
    return ::testing::AssertionFailure() << "TLS with " << cert << ": " << err;
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult open_session(RawClient& raw, std::uint16_t port, const std::string& cert,
                                        std::chrono::milliseconds timeout) {
  if (::testing::AssertionResult tls = connect_tls(raw, port, cert); !tls) return tls;
  const std::optional<BackendMessage> ready = raw.startup({{"user", "whatever"}, {"database", env().db}}, timeout);
  if (!ready) {
    return ::testing::AssertionFailure() << "no ReadyForQuery ("
                                         << (raw.last_status() == RawClient::ReadStatus::Timeout ? "timeout" : "closed")
                                         << ")";
  }
  if (ready->type != 'Z') {
    return ::testing::AssertionFailure() << "startup answered '" << ready->type
                                         << "': " << parse_error_fields(ready->body)['M'];
  }
  return ::testing::AssertionSuccess();
}

}  // namespace segproxy::it
