#pragma once
// The proxy's own libpq logins to a listener's PostgreSQL backend (view metadata,
// dynamic-credential admin), with the listener's backend TLS settings: one place for the
// connection parameters and the connect. Blocking: call only from worker threads.
#include <libpq-fe.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "authz/credential_store.hpp"
#include "config/config.hpp"

namespace segproxy::proxy {

struct LibpqLogin {
  std::string database;
  std::string user;
  std::chrono::milliseconds connect_timeout{5000};
  std::string application_name;  // "segproxy-views", "segproxy-credentials", ...
  std::string options;           // "-c statement_timeout=30000 ..."
};

// True when backend.auth accepts SCRAM-SHA-256-PLUS and nothing else (the default with
// backend TLS): the proxy's own libpq logins then require channel binding.
bool only_channel_bound_scram(const std::vector<std::string>& accepted);

// libpq keyword/value pairs (for PQconnectdbParams, expand_dbname = 0), without the
// password. `hostaddr`: the numeric address to connect to when the TLS server name
// differs from backend.host (empty: connect to backend.host).
std::vector<std::pair<std::string, std::string>> libpq_conn_params(const config::Listener& l, const LibpqLogin& login,
                                                                   const std::string& hostaddr = {});

// First numeric address of `host` ("" when it cannot be resolved); a numeric host as is.
std::string numeric_address(const std::string& host);

// libpq messages end with a newline (sometimes two lines): one line for the log.
std::string libpq_one_line(const char* msg);

struct PgConnCloser {
  void operator()(PGconn* c) const { PQfinish(c); }
};
using PgConnHandle = std::unique_ptr<PGconn, PgConnCloser>;

// Connects (blocking, bounded by login.connect_timeout). null + `why` (never the
// password) on failure.
PgConnHandle libpq_connect(const config::Listener& l, const LibpqLogin& login, const authz::Secret& password,
                           std::string& why);

}  // namespace segproxy::proxy
