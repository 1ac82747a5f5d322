#pragma once
// Client side of SCRAM-SHA-256 (RFC 5802 / RFC 7677) as PostgreSQL uses it, with or
// without channel binding (SCRAM-SHA-256-PLUS, tls-server-end-point), and the legacy
// MD5 password hash. libcrypto only.
#include <string>
#include <string_view>

namespace segproxy::protocols::pg {

struct ScramStep {
  bool ok = false;
  std::string message;  // next message to send (client-final), or empty
  std::string error;    // why it failed
};

// RFC 5929 channel binding for SCRAM-SHA-256-PLUS: `type` "tls-server-end-point",
// `data` the hash of the server's certificate (computed by the caller, which has TLS).
struct ChannelBinding {
  std::string type;
  std::string data;
};

class ScramSha256Client {
 public:
  // `client_nonce` must be printable ASCII without ','; the proxy passes 24 random bytes
  // base64-encoded. PostgreSQL ignores the SCRAM user name; pass "" (libpq does too).
  ScramSha256Client(std::string user, std::string password, std::string client_nonce);
  // SCRAM-SHA-256-PLUS: gs2 header "p=<type>,," and c=base64(header + data). An empty
  // `binding.data` means no channel binding ("n,,").
  ScramSha256Client(std::string user, std::string password, std::string client_nonce, ChannelBinding binding);
  ~ScramSha256Client();  // cleanses the password and derived keys
  ScramSha256Client(const ScramSha256Client&) = delete;
  ScramSha256Client& operator=(const ScramSha256Client&) = delete;

  std::string client_first_message() const;  // "n,,n=<user>,r=<nonce>" (or "p=...,,n=...")
  // Validates the server-first message (nonce prefix, salt, iteration count 1..10^7)
  // and returns the client-final message.
  ScramStep handle_server_first(std::string_view server_first);
  // Checks the server signature ("v=..."); an "e=..." or a mismatch is an error.
  ScramStep verify_server_final(std::string_view server_final);

 private:
  std::string user_;
  std::string password_;
  std::string client_nonce_;
  std::string client_first_bare_;
  std::string auth_message_;
  std::string gs2_header_ = "n,,";
  std::string cbind_data_;
  unsigned char salted_password_[32] = {};
  bool have_server_first_ = false;
};

// "md5" + hex(md5(hex(md5(password + user)) + salt)), salt being 4 raw bytes.
std::string md5_password_response(std::string_view user, std::string_view password,
                                   std::string_view salt4);

std::string base64_encode(std::string_view raw);
bool base64_decode(std::string_view text, std::string& out);

}  // namespace segproxy::protocols::pg
