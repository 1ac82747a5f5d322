// Connector/C++ login options shared by the MySQL view loader and dynamic credentials.
#include "daemon/credentials/connector_login.hpp"

#include <algorithm>

namespace segproxy::proxy {
namespace {
constexpr int kReadWriteTimeoutSeconds = 30;
}  // namespace

std::optional<sql::ConnectOptionsMap> connector_login_options(const config::Listener& l, const ConnectorLogin& login,
                                                              const authz::Secret& password, std::string& why) {
  const auto& tls = l.backend.tls;
  if (tls.mode == config::BackendTlsMode::VerifyFull && !tls.server_name.empty() &&
      tls.server_name != l.backend.endpoint.host) {
    why = "backend.tls.server_name differing from backend.host is not supported for the " + login.purpose;
    return std::nullopt;
  }
  sql::ConnectOptionsMap opts;
  opts["hostName"] = sql::SQLString("tcp://" + l.backend.endpoint.host + ":" + std::to_string(l.backend.endpoint.port));
  opts["userName"] = sql::SQLString(login.user);
  opts["password"] = sql::SQLString(password.reveal());
  opts["OPT_CONNECT_TIMEOUT"] = static_cast<int>(std::min<long long>(login.connect_timeout.count(), 3600));
  opts["OPT_READ_TIMEOUT"] = kReadWriteTimeoutSeconds;
  opts["OPT_WRITE_TIMEOUT"] = kReadWriteTimeoutSeconds;
  opts["OPT_CHARSET_NAME"] = sql::SQLString("utf8mb4");
  opts["OPT_RECONNECT"] = false;
  switch (tls.mode) {
    case config::BackendTlsMode::Disable: break;
    case config::BackendTlsMode::Require:
      opts["sslEnforce"] = true;
      opts["sslVerify"] = false;
      break;
    case config::BackendTlsMode::VerifyFull:
      opts["sslCA"] = sql::SQLString(tls.ca);
      opts["sslEnforce"] = true;
      opts["sslVerify"] = true;
      break;
  }
  return opts;
}

std::string connector_one_line(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s;
}

std::string connector_error(const sql::SQLException& e) {
  return "MySQL error " + std::to_string(e.getErrorCode()) + ": " + connector_one_line(e.what());
}

}  // namespace segproxy::proxy
