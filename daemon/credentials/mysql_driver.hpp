#pragma once
// The one access to Connector/C++'s driver. The driver is the library's own process-wide
// object; its first use initialises the MySQL client library and is not thread-safe, so
// every user (view loader, dynamic MySQL admin, their worker threads, the integration
// test support) takes it here, where the first call is serialised.
namespace sql::mysql {
class MySQL_Driver;
}

namespace segproxy::proxy {

// Throws what sql::mysql::get_mysql_driver_instance() throws (e.g. the client library
// fails to initialise); callers turn that into their own error value.
sql::mysql::MySQL_Driver* mysql_driver();

}  // namespace segproxy::proxy
