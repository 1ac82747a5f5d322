#include "daemon/net/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

namespace segproxy::proxy {
namespace {

std::string openssl_error(const std::string& what) {
  unsigned long e = ERR_get_error();
  char buf[256] = "unknown error";
  if (e != 0) ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return what + ": " + buf;
}

// tls.crl: every CRL in the PEM file goes into the verify store, and the leaf
// certificate must then be checked against its issuer's CRL (a missing CRL for that
// issuer fails the handshake: fail closed).
std::string load_crls(SSL_CTX* native, const std::string& path) {
  BIO* bio = BIO_new_file(path.c_str(), "r");
  if (bio == nullptr) return openssl_error("opening CRL file " + path);
  X509_STORE* store = SSL_CTX_get_cert_store(native);
  int count = 0;
  while (X509_CRL* crl = PEM_read_bio_X509_CRL(bio, nullptr, nullptr, nullptr)) {
    const int ok = X509_STORE_add_crl(store, crl);
    X509_CRL_free(crl);
    if (ok != 1) {
      BIO_free(bio);
      return openssl_error("adding CRL from " + path);
    }
    ++count;
  }
  BIO_free(bio);
  ERR_clear_error();  // the end-of-file "no start line" of the loop above
  if (count == 0) return "no CRL (\"-----BEGIN X509 CRL-----\") found in " + path;
  X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
  return {};
}

}  // namespace

TlsResult make_server_tls_context(const config::ListenerTls& cfg) {
  TlsResult r;
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = ctx->native_handle();
  int min = cfg.min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION;
  SSL_CTX_set_min_proto_version(native, min);
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                  SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET);
  SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_OFF);
  // No TLS 1.3 session tickets: with the cache off and SSL_OP_NO_TICKET (stateful
  // tickets) none could ever resume a session, and each one costs the handshake a
  // session copy and a message (OpenSSL sends two by default).
  SSL_CTX_set_num_tickets(native, 0);
  if (SSL_CTX_use_certificate_chain_file(native, cfg.cert.c_str()) != 1)
    return {nullptr, openssl_error("loading server certificate " + cfg.cert)};
  if (SSL_CTX_use_PrivateKey_file(native, cfg.key.c_str(), SSL_FILETYPE_PEM) != 1)
    return {nullptr, openssl_error("loading server key " + cfg.key)};
  if (SSL_CTX_check_private_key(native) != 1)
    return {nullptr, openssl_error("server key does not match certificate " + cfg.cert)};
  if (SSL_CTX_load_verify_locations(native, cfg.client_ca.c_str(), nullptr) != 1)
    return {nullptr, openssl_error("loading client CA " + cfg.client_ca)};
  // Tell clients which CAs we accept (helps clients holding several certificates).
  if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(cfg.client_ca.c_str()))
    SSL_CTX_set_client_CA_list(native, names);
  // A presented certificate must verify against client_ca or the handshake fails; a
  // missing one is refused right after the handshake with FATAL 28000 (pg_startup.cpp),
  // before any other client byte is acted upon.
  if (!cfg.crl.empty()) {
    if (std::string err = load_crls(native, cfg.crl); !err.empty()) return {nullptr, err};
  }
  ctx->set_verify_mode(ssl::verify_peer);
  // tls.verify_depth: the number of intermediate CA certificates allowed between the
  // client certificate and the trust anchor (OpenSSL's depth excludes leaf and anchor).
  // Default 0: a client certificate issued directly by a CA in client_ca; a chain
  // through a client-sent intermediate fails the handshake ("certificate chain too long").
  SSL_CTX_set_verify_depth(native, cfg.verify_depth);
  r.context = std::move(ctx);
  return r;
}

TlsResult make_backend_tls_context(const config::BackendTls& cfg) {
  TlsResult r;
  if (cfg.mode == config::BackendTlsMode::Disable) return r;
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  if (cfg.mode == config::BackendTlsMode::VerifyFull) {
    if (SSL_CTX_load_verify_locations(native, cfg.ca.c_str(), nullptr) != 1)
      return {nullptr, openssl_error("loading backend CA " + cfg.ca)};
    ctx->set_verify_mode(ssl::verify_peer);
  } else {
    ctx->set_verify_mode(ssl::verify_none);
  }
  r.context = std::move(ctx);
  return r;
}

}  // namespace segproxy::proxy
