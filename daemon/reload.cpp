#include "daemon/reload.hpp"

#include <openssl/evp.h>

#include <cstdio>
#include <fstream>
#include <iterator>

namespace segproxy::proxy {
namespace {

std::string endpoint_text(const config::Endpoint& e) { return e.host + ":" + std::to_string(e.port); }

template <class T>
bool same_settings(const std::optional<T>& a, const std::optional<T>& b) {
  if (a.has_value() != b.has_value()) return false;
  if (!a) return true;
  T x = *a;
  T y = *b;
  x.line = 0;  // where it is written does not matter
  y.line = 0;
  return x == y;
}

}  // namespace

std::vector<std::string> restart_required_changes(const config::Config& running, const config::Config& next) {
  std::vector<std::string> out;
  for (const auto& l : running.listeners) {
    const config::Listener* n = nullptr;
    for (const auto& c : next.listeners) {
      if (c.name == l.name) n = &c;
    }
    if (n == nullptr) {
      out.push_back("listener \"" + l.name + "\" was removed");
      continue;
    }
    if (n->protocol != l.protocol) out.push_back("listener \"" + l.name + "\" changed its protocol");
    if (!(n->listen == l.listen)) {
      out.push_back("listener \"" + l.name + "\" moved from " + endpoint_text(l.listen) + " to " +
                    endpoint_text(n->listen));
    }
  }
  for (const auto& c : next.listeners) {
    bool known = false;
    for (const auto& l : running.listeners) known = known || l.name == c.name;
    if (!known) out.push_back("listener \"" + c.name + "\" was added");
  }
  if (running.threads != next.threads) out.push_back("threads changed");
  if (running.handshake_threads != next.handshake_threads) out.push_back("handshake_threads changed");
  if (running.handshake_nice != next.handshake_nice) out.push_back("handshake_nice changed");
  if (!same_settings(running.audit, next.audit)) out.push_back("the audit: section changed");
  if (!same_settings(running.admin, next.admin)) out.push_back("the admin: section changed");
  if (!same_settings(running.metrics, next.metrics)) out.push_back("the metrics: section changed");
  if (!same_settings(running.control_plane, next.control_plane)) {
    out.push_back("the control_plane: section changed");  // the fleet thread keeps its settings
  }
  if (running.log.level != next.log.level || running.log.format != next.log.format) {
    out.push_back("the log: section changed");
  }
  return out;
}

std::string file_sha256_hex(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr) != 1) return {};
  std::string hex;
  hex.reserve(len * 2);
  char buf[3];
  for (unsigned int i = 0; i < len; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", md[i]);
    hex += buf;
  }
  return hex;
}

}  // namespace segproxy::proxy
