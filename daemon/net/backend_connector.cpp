#include "daemon/net/backend_connector.hpp"

#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <variant>

#include "protocols/common/byte_reader.hpp"
#include "protocols/pg/backend_decoder.hpp"
#include "protocols/pg/encoder.hpp"
#include "protocols/pg/scram_client.hpp"
#include "daemon/net/backend_auth_pin.hpp"
#include "daemon/net/connect.hpp"

namespace segproxy::proxy {
namespace pg = protocols::pg;
using protocols::Bytes;
using protocols::DecodeStatus;

namespace {

std::string random_nonce() {
  std::array<unsigned char, 18> raw{};
  RAND_bytes(raw.data(), static_cast<int>(raw.size()));
  return pg::base64_encode(std::string_view(reinterpret_cast<const char*>(raw.data()), raw.size()));
}

struct Login {
  BackendLoginRequest& req;
  BackendLoginResult& res;
  Stream& stream;
  Bytes in;
  std::size_t in_pos = 0;

  // Records the failure and hands the result out (as an rvalue: co_return moves it).
  BackendLoginResult&& fail(BackendFailure f, std::string why) {
    res.failure = f;
    res.error = std::move(why);
    return std::move(res);
  }

  // Reads until one complete backend frame is available.
  awaitable<std::optional<pg::BackendFrame>> next_frame() {
    for (;;) {
      auto span = std::span<const std::uint8_t>(in).subspan(in_pos);
      auto d = pg::decode_backend_frame(span, *req.limits);
      if (d.status == DecodeStatus::Ok) {
        in_pos += d.consumed;
        co_return d.value;
      }
      if (d.status == DecodeStatus::Malformed) {
        fail(BackendFailure::Protocol, "malformed backend message: " + d.error);
        co_return std::nullopt;
      }
      if (in_pos > 0 && in_pos == in.size()) {
        in.clear();
        in_pos = 0;
      }
      std::size_t old = in.size();
      in.resize(old + 8192);
      error_code ec;
      std::size_t n = co_await stream.read_some(asio::buffer(in.data() + old, 8192), ec);
      in.resize(old + n);
      if (ec) {
        fail(BackendFailure::Connect, "backend closed the connection during login: " + ec.message());
        co_return std::nullopt;
      }
    }
  }

  awaitable<bool> send(const Bytes& out) {
    error_code ec;
    co_await stream.write(asio::buffer(out), ec);
    if (ec) fail(BackendFailure::Connect, "write to backend failed: " + ec.message());
    co_return !ec;
  }
};

}  // namespace

awaitable<BackendLoginResult> backend_login(BackendLoginRequest req) {
  BackendLoginResult res;
  auto ex = co_await asio::this_coro::executor;
  error_code ec;
  auto started = std::chrono::steady_clock::now();
  tcp::socket sock = co_await connect_tcp(req.backend->endpoint, req.timeout, ec);
  if (ec) {
    res.failure = BackendFailure::Connect;
    res.error = "connect to " + req.backend->endpoint.host + ":" + std::to_string(req.backend->endpoint.port) +
                " failed: " + ec.message();
    co_return std::move(res);
  }
  auto stream = std::make_unique<Stream>(std::move(sock));
  Watchdog deadline(ex, [s = stream.get()] { s->close(); });
  auto left = req.timeout - std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  deadline.arm(std::max(left, std::chrono::milliseconds(1)));
  Login login{req, res, *stream, {}, 0};

  if (req.tls != nullptr) {
    Bytes out;
    pg::encode_startup(out, pg::SslRequest{});
    if (!co_await login.send(out)) co_return std::move(res);
    std::uint8_t answer = 0;
    co_await asio::async_read(stream->lowest(), asio::buffer(&answer, 1), asio::redirect_error(use_awaitable, ec));
    if (ec) co_return login.fail(BackendFailure::Tls, "backend closed the connection after SSLRequest");
    if (answer != 'S') co_return login.fail(BackendFailure::Tls, "backend does not support TLS");
    stream->wrap_tls(*req.tls);
    SSL* ssl = stream->native_ssl();
    const auto& tls_cfg = req.backend->tls;
    std::string name = tls_cfg.server_name.empty() ? req.backend->endpoint.host : tls_cfg.server_name;
    if (tls_cfg.mode == config::BackendTlsMode::VerifyFull) {
      X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
      X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      // An IP literal is checked against IP SANs, anything else against DNS names.
      if (X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str()) != 1) X509_VERIFY_PARAM_set1_host(param, name.c_str(), 0);
    }
    error_code probe;
    asio::ip::make_address(name, probe);
    if (probe) SSL_set_tlsext_host_name(ssl, name.c_str());  // SNI only for host names
    co_await stream->handshake(ssl::stream_base::client, ec);
    if (ec) co_return login.fail(BackendFailure::Tls, "TLS handshake with backend failed: " + ec.message());
  }

  {
    pg::StartupMessage sm;
    sm.parameters.emplace_back("user", req.user);
    sm.parameters.emplace_back("database", req.database);
    for (const auto& p : req.parameters) sm.parameters.push_back(p);
    Bytes out;
    pg::encode_startup(out, sm);
    if (!co_await login.send(out)) co_return std::move(res);
  }

  // backend.auth pins what we answer (issue 12 item 4.3): a backend that asks for a
  // method not listed, or for SCRAM without channel binding over TLS when only
  // scram-sha-256-plus is listed, is refused, and so is a login that needs none.
  // An empty list (a Backend not made by the config loader) means the loader's default.
  const std::vector<std::string> fallback{req.tls != nullptr ? "scram-sha-256-plus" : "scram-sha-256"};
  const std::vector<std::string>& accepted = req.backend->auth.empty() ? fallback : req.backend->auth;
  std::unique_ptr<pg::ScramSha256Client> scram;
  bool sasl_done = false;
  bool authenticated = false;  // an accepted method was answered
  for (;;) {
    auto frame = co_await login.next_frame();
    if (!frame) {
      if (deadline.expired()) co_return login.fail(BackendFailure::Timeout, "backend login timed out");
      co_return std::move(res);
    }
    switch (frame->type) {
      case 'R': {
        auto auth = pg::parse_authentication(frame->body);
        if (!auth) co_return login.fail(BackendFailure::Protocol, "malformed authentication request");
        Bytes out;
        switch (static_cast<pg::AuthCode>(auth->code)) {
          case pg::AuthCode::Ok:
            if (scram && !sasl_done)
              co_return login.fail(BackendFailure::Auth, "backend ended SCRAM without proving the password");
            if (!authenticated) co_return login.fail(BackendFailure::Pinned, auth_pin_refusal("no", accepted));
            continue;
          case pg::AuthCode::CleartextPassword:
            if (!auth_accepted(accepted, "password") || !stream->is_tls())
              co_return login.fail(BackendFailure::Pinned, auth_pin_refusal("password (cleartext)", accepted));
            pg::encode_password(out, *req.password);
            authenticated = true;
            res.auth_method = "password";
            break;
          case pg::AuthCode::Md5Password: {
            if (!auth_accepted(accepted, "md5"))
              co_return login.fail(BackendFailure::Pinned, auth_pin_refusal("md5", accepted));
            authenticated = true;
            res.auth_method = "md5";
            if (auth->data.size() != 4) co_return login.fail(BackendFailure::Protocol, "bad MD5 salt");
            std::string salt(reinterpret_cast<const char*>(auth->data.data()), 4);
            pg::encode_password(out, pg::md5_password_response(req.user, *req.password, salt));
            break;
          }
          case pg::AuthCode::Sasl: {
            if (scram) co_return login.fail(BackendFailure::Protocol, "second SASL authentication request");
            auto mechs = pg::parse_sasl_mechanisms(auth->data);
            bool plain = false, plus = false;
            if (mechs) {
              for (const auto& m : *mechs) {
                plain = plain || m == "SCRAM-SHA-256";
                plus = plus || m == "SCRAM-SHA-256-PLUS";
              }
            }
            const bool tls = stream->is_tls();
            // Over TLS, channel binding whenever the server offers it (either SCRAM entry).
            if (tls && plus &&
                (auth_accepted(accepted, "scram-sha-256-plus") || auth_accepted(accepted, "scram-sha-256"))) {
              auto binding = tls_server_end_point(stream->native_ssl());
              if (!binding)
                co_return login.fail(BackendFailure::Pinned,
                                     "segproxy: no channel binding data for the backend certificate "
                                     "(SCRAM-SHA-256-PLUS, tls-server-end-point)");
              scram = std::make_unique<pg::ScramSha256Client>(
                  "", *req.password, random_nonce(), pg::ChannelBinding{"tls-server-end-point", std::move(*binding)});
              pg::encode_sasl_initial_response(out, "SCRAM-SHA-256-PLUS", scram->client_first_message());
              res.auth_method = "SCRAM-SHA-256-PLUS";
            } else if (plain && auth_accepted(accepted, "scram-sha-256")) {
              scram = std::make_unique<pg::ScramSha256Client>("", *req.password, random_nonce());
              pg::encode_sasl_initial_response(out, "SCRAM-SHA-256", scram->client_first_message());
              res.auth_method = "SCRAM-SHA-256";
            } else {
              co_return login.fail(BackendFailure::Pinned,
                                   auth_pin_refusal(plain && tls ? "scram-sha-256 (without channel binding over TLS)"
                                                    : plain      ? "scram-sha-256"
                                                                 : "an unsupported SASL",
                                                    accepted));
            }
            authenticated = true;
            break;
          }
          case pg::AuthCode::SaslContinue: {
            if (!scram) co_return login.fail(BackendFailure::Protocol, "unexpected SASLContinue");
            auto step = scram->handle_server_first(protocols::as_string_view(auth->data));
            if (!step.ok) co_return login.fail(BackendFailure::Auth, "SCRAM: " + step.error);
            pg::encode_sasl_response(out, step.message);
            break;
          }
          case pg::AuthCode::SaslFinal: {
            if (!scram) co_return login.fail(BackendFailure::Protocol, "unexpected SASLFinal");
            auto step = scram->verify_server_final(protocols::as_string_view(auth->data));
            if (!step.ok) co_return login.fail(BackendFailure::Auth, "SCRAM: " + step.error);
            sasl_done = true;
            continue;
          }
          default:
            co_return login.fail(BackendFailure::Pinned,
                                 auth_pin_refusal("method " + std::to_string(auth->code), accepted));
        }
        if (!co_await login.send(out)) co_return std::move(res);
        break;
      }
      case 'E': {
        auto fields = pg::parse_error_fields(frame->body);
        if (fields) res.server_error = *fields;
        bool auth_failure = fields && (fields->sqlstate == "28P01" || fields->sqlstate == "28000");
        co_return login.fail(auth_failure ? BackendFailure::Auth : BackendFailure::Server,
                             fields ? fields->sqlstate + " " + fields->message : "backend error");
      }
      case 'S': {
        auto ps = pg::parse_parameter_status(frame->body);
        if (!ps) co_return login.fail(BackendFailure::Protocol, "malformed ParameterStatus");
        res.parameter_status.emplace_back(std::string(ps->name), std::string(ps->value));
        break;
      }
      case 'K': {
        auto k = pg::parse_backend_key_data(frame->body);
        if (!k) co_return login.fail(BackendFailure::Protocol, "malformed BackendKeyData");
        res.process_id = k->process_id;
        res.secret_key = k->secret_key;
        break;
      }
      case 'N':
      case 'v':  // NegotiateProtocolVersion: we ask for plain 3.0, nothing to negotiate
        break;
      case 'Z': {
        auto st = pg::parse_ready_for_query(frame->body);
        if (!st) co_return login.fail(BackendFailure::Protocol, "malformed ReadyForQuery");
        res.transaction_status = *st;
        deadline.disarm();
        res.leftover.assign(login.in.begin() + static_cast<std::ptrdiff_t>(login.in_pos), login.in.end());
        res.stream = std::move(stream);
        co_return std::move(res);
      }
      default:
        co_return login.fail(BackendFailure::Protocol,
                             std::string("unexpected backend message '") + frame->type + "' during login");
    }
  }
}

awaitable<void> send_backend_cancel(std::string host, std::uint16_t port, std::int32_t pid, std::int32_t secret,
                                    std::chrono::milliseconds timeout) {
  auto ex = co_await asio::this_coro::executor;
  error_code ec;
  config::Endpoint ep{host, port};
  tcp::socket sock = co_await connect_tcp(ep, timeout, ec);
  if (ec) co_return;
  Stream stream(std::move(sock));
  Watchdog guard(ex, [&stream] { stream.close(); });
  guard.arm(timeout);
  Bytes out;
  pg::encode_startup(out, pg::CancelRequest{pid, secret});
  co_await stream.write(asio::buffer(out), ec);
  // PostgreSQL closes the connection after processing the request; wait for that so
  // the cancel is delivered before we report completion.
  std::uint8_t b;
  co_await stream.read_some(asio::buffer(&b, 1), ec);
  guard.disarm();
  stream.close();
}

}  // namespace segproxy::proxy
