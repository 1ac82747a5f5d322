#pragma once
// Plain configuration structs. Loaded once (and on reload) by config/loader; passed by
// const reference everywhere else. No globals.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace segproxy::config {

enum class Protocol { Postgres, Mysql };
enum class BackendTlsMode { Disable, Require, VerifyFull };

struct Endpoint {
  std::string host;
  std::uint16_t port = 0;
};

struct ListenerTls {
  std::string cert;       // server certificate chain (PEM), path resolved against the config dir
  std::string key;        // private key (PEM)
  std::string client_ca;  // CA bundle that client certificates must chain to
  std::string min_version = "1.2";  // "1.2" | "1.3"
};

struct BackendTls {
  BackendTlsMode mode = BackendTlsMode::Disable;
  std::string ca;           // required for verify-full
  std::string server_name;  // defaults to backend.host
};

struct Backend {
  Endpoint endpoint;
  BackendTls tls;
};

struct Listener {
  std::string name;
  Protocol protocol = Protocol::Postgres;
  Endpoint listen;
  ListenerTls tls;
  Backend backend;
  int line = 0;  // where it was declared, for messages
};

// All fields that are set must match (AND). Patterns support '*' (any run of
// characters, '/' included) and '?' (one character); cert_sha256 is compared exactly
// (hex, case-insensitive, ':' separators ignored).
struct IdentityMatch {
  std::optional<std::string> spiffe_id;
  std::optional<std::string> cn;
  std::optional<std::string> ou;
  std::optional<std::string> dns;
  std::optional<std::string> cert_sha256;
};

struct IdentityRule {
  IdentityMatch match;
  std::string segment;
  int line = 0;
};

// Static backend credential: exactly one of password_file / password_env.
struct CredentialRef {
  std::string user;
  std::string password_file;  // resolved against the config dir
  std::string password_env;
  int line = 0;
};

struct Segment {
  std::string name;
  std::vector<std::string> databases;                // names the client may give at startup
  std::map<std::string, CredentialRef> credentials;  // keyed by listener name
  int line = 0;
};

struct LimitsConfig {
  std::size_t max_startup_packet = 10000;
  std::size_t max_message_size = 64u * 1024u * 1024u;  // client frames
  std::size_t max_connections = 10000;                 // per process
  std::chrono::milliseconds handshake_timeout{10000};  // TCP accept -> TLS done
  std::chrono::milliseconds startup_timeout{15000};    // accept -> ReadyForQuery
  std::chrono::milliseconds backend_connect_timeout{5000};
  std::chrono::milliseconds idle_timeout{0};  // 0 = no idle limit
};

enum class LogFormat { Text, Json };
struct LogConfig {
  std::string level = "info";  // debug | info | warn | error
  LogFormat format = LogFormat::Text;
};

struct Config {
  std::string source_path;  // the file it was loaded from
  std::vector<Listener> listeners;
  std::vector<IdentityRule> identities;  // first match wins
  std::map<std::string, Segment> segments;
  LimitsConfig limits;
  LogConfig log;
  unsigned threads = 0;  // I/O threads; 0 = number of cores
};

}  // namespace segproxy::config
