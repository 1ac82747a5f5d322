// Chooses the admin backend of a dynamic credential by the listener's protocol.
#include "daemon/credentials/dynamic_admin.hpp"

#include <mysql_driver.h>

#include "daemon/credentials/dynamic_my_admin.hpp"
#include "daemon/credentials/dynamic_pg_admin.hpp"
#include "daemon/credentials/mysql_driver.hpp"

namespace segproxy::proxy {

std::unique_ptr<DynamicAdmin> connect_dynamic_admin(const DynamicTarget& t, const std::string& instance,
                                                    std::chrono::milliseconds timeout, std::string& why) {
  switch (t.listener.protocol) {
    case config::Protocol::Postgres: return connect_pg_dynamic_admin(t, instance, timeout, why);
    case config::Protocol::Mysql: return connect_my_dynamic_admin(t, instance, timeout, why);
  }
  why = "dynamic credentials are not supported for this listener's protocol";
  return nullptr;
}

// The driver can throw (e.g. the client library fails to initialise): then MySQL admin
// connections fail later with their own error; nothing here may end the process.
void dynamic_admin_prepare() {
  try {
    (void)mysql_driver();
  } catch (const std::exception&) {
  }
}
void dynamic_admin_thread_begin() {
  try {
    mysql_driver()->threadInit();
  } catch (const std::exception&) {
  }
}
void dynamic_admin_thread_end() {
  try {
    mysql_driver()->threadEnd();
  } catch (const std::exception&) {
  }
}

}  // namespace segproxy::proxy
