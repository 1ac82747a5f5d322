#pragma once
// A TCP connection to a backend endpoint, shared by both protocols (the PostgreSQL login
// and cancel in backend_connector.cpp, the MySQL greeting and KILL QUERY in
// daemon/mysql/mysql_backend.cpp).
#include <chrono>

#include "config/config.hpp"
#include "daemon/net/asio.hpp"

namespace segproxy::proxy {

// Resolves `ep` and connects within `timeout` (TCP_NODELAY set); ec set on failure
// (asio::error::timed_out when the deadline passed).
awaitable<tcp::socket> connect_tcp(const config::Endpoint& ep, std::chrono::milliseconds timeout, error_code& ec);

}  // namespace segproxy::proxy
