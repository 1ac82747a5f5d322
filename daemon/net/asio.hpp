#pragma once
// The one way to include Asio in this project. Boost 1.74's asio/awaitable.hpp uses
// std::exchange without including <utility>; with g++ 12 and -std=c++20 coroutine code
// fails to compile unless <utility> comes first.
#include <utility>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

namespace segproxy::proxy {
namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using boost::asio::awaitable;
using boost::asio::use_awaitable;
using error_code = boost::system::error_code;
}  // namespace segproxy::proxy
