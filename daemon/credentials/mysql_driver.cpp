#include "daemon/credentials/mysql_driver.hpp"

#include <mysql_driver.h>

#include <mutex>

namespace segproxy::proxy {

sql::mysql::MySQL_Driver* mysql_driver() {
  static std::mutex first_use;
  const std::lock_guard<std::mutex> lock(first_use);
  return sql::mysql::get_mysql_driver_instance();
}

}  // namespace segproxy::proxy
