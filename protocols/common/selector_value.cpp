#include "protocols/common/selector_value.hpp"

namespace segproxy::protocols {

bool has_control_character(std::string_view s) {
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return true;
  }
  return false;
}

std::string check_selector_value(std::string_view key, SelectorValueRule rule, std::string_view v) {
  if (v.empty()) return std::string(key) + " must not be empty";
  if (v.size() > kMaxSelectorValueBytes) return std::string(key) + " is too long";
  if (has_control_character(v)) return std::string(key) + " contains a control character";
  switch (rule) {
    case SelectorValueRule::Name: return {};
    case SelectorValueRule::SpiffePrefix: {
      constexpr std::string_view kScheme = "spiffe://";
      if (v.substr(0, kScheme.size()) != kScheme || v.size() == kScheme.size() || v[kScheme.size()] == '/') {
        return "spiffe_prefix must start with spiffe://<trust domain>";
      }
      return {};
    }
    case SelectorValueRule::CertSerial: {
      std::size_t digits = 0;
      for (const char c : v) {
        const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if (!hex && c != ':') return "cert_serial must be hexadecimal (':' separators allowed)";
        digits += hex ? 1 : 0;
      }
      if (digits == 0 || digits > 64) return "cert_serial must have 1 to 64 hex digits";
      return {};
    }
  }
  return {};
}

}  // namespace segproxy::protocols
