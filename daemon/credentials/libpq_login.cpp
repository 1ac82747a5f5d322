#include "daemon/credentials/libpq_login.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>

namespace segproxy::proxy {

bool only_channel_bound_scram(const std::vector<std::string>& accepted) {
  return !accepted.empty() &&
         std::all_of(accepted.begin(), accepted.end(), [](const std::string& m) { return m == "scram-sha-256-plus"; });
}

std::vector<std::pair<std::string, std::string>> libpq_conn_params(const config::Listener& l, const LibpqLogin& login,
                                                                   const std::string& hostaddr) {
  std::vector<std::pair<std::string, std::string>> p;
  const auto& tls = l.backend.tls;
  const bool rename = tls.mode == config::BackendTlsMode::VerifyFull && !tls.server_name.empty() &&
                      tls.server_name != l.backend.endpoint.host && !hostaddr.empty();
  // verify-full checks the certificate against `host`; hostaddr says where to connect.
  p.emplace_back("host", rename ? tls.server_name : l.backend.endpoint.host);
  if (rename) p.emplace_back("hostaddr", hostaddr);
  p.emplace_back("port", std::to_string(l.backend.endpoint.port));
  p.emplace_back("dbname", login.database);
  if (!login.user.empty()) p.emplace_back("user", login.user);
  switch (tls.mode) {
    case config::BackendTlsMode::Disable: p.emplace_back("sslmode", "disable"); break;
    case config::BackendTlsMode::Require: p.emplace_back("sslmode", "require"); break;
    case config::BackendTlsMode::VerifyFull:
      p.emplace_back("sslmode", "verify-full");
      p.emplace_back("sslrootcert", tls.ca);
      break;
  }
  // libpq 15 has no require_auth. Over TLS, channel_binding=require makes libpq refuse every
  // method but SCRAM-SHA-256-PLUS: the pin backend.auth's TLS default asks for.
  if (tls.mode != config::BackendTlsMode::Disable && only_channel_bound_scram(l.backend.auth))
    p.emplace_back("channel_binding", "require");
  p.emplace_back("gssencmode", "disable");
  const auto secs = std::max<long long>(2, std::chrono::ceil<std::chrono::seconds>(login.connect_timeout).count());
  p.emplace_back("connect_timeout", std::to_string(secs));
  p.emplace_back("application_name", login.application_name);
  p.emplace_back("client_encoding", "UTF8");
  if (!login.options.empty()) p.emplace_back("options", login.options);
  return p;
}

std::string numeric_address(const std::string& host) {
  unsigned char buf[sizeof(struct in6_addr)];
  if (::inet_pton(AF_INET, host.c_str(), buf) == 1 || ::inet_pton(AF_INET6, host.c_str(), buf) == 1) return host;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0 || res == nullptr) return "";
  char text[NI_MAXHOST] = {};
  const int rc = ::getnameinfo(res->ai_addr, res->ai_addrlen, text, sizeof text, nullptr, 0, NI_NUMERICHOST);
  ::freeaddrinfo(res);
  return rc == 0 ? std::string(text) : std::string();
}

std::string libpq_one_line(const char* msg) {
  std::string s = msg != nullptr ? msg : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s;
}

PgConnHandle libpq_connect(const config::Listener& l, const LibpqLogin& login, const authz::Secret& password,
                           std::string& why) {
  std::string hostaddr;
  const auto& tls = l.backend.tls;
  if (tls.mode == config::BackendTlsMode::VerifyFull && !tls.server_name.empty() &&
      tls.server_name != l.backend.endpoint.host) {
    hostaddr = numeric_address(l.backend.endpoint.host);
    if (hostaddr.empty()) {
      why = "cannot resolve " + l.backend.endpoint.host;
      return nullptr;
    }
  }
  const auto params = libpq_conn_params(l, login, hostaddr);
  std::vector<const char*> keys;
  std::vector<const char*> values;
  for (const auto& [k, v] : params) {
    keys.push_back(k.c_str());
    values.push_back(v.c_str());
  }
  keys.push_back("password");
  values.push_back(password.reveal().c_str());
  keys.push_back(nullptr);
  values.push_back(nullptr);
  PgConnHandle conn(PQconnectdbParams(keys.data(), values.data(), 0));
  if (!conn) {
    why = "out of memory";
    return nullptr;
  }
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    why = libpq_one_line(PQerrorMessage(conn.get()));
    return nullptr;
  }
  return conn;
}

}  // namespace segproxy::proxy
