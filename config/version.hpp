#pragma once
// The version both binaries report (`segproxy --version`, `segproxyctl version`,
// segproxy_build_info, the admin socket's status).
namespace segproxy {

inline constexpr const char* kVersion = "0.1.0";

}  // namespace segproxy
