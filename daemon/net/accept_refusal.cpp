// The protocol-correct "too many connections" for a connection refused at accept
// (accept_refusal.hpp).
#include "daemon/net/accept_refusal.hpp"

#include <sys/socket.h>

#include <array>
#include <cstdint>

#include "protocols/mysql/packets.hpp"
#include "protocols/pg/encoder.hpp"

namespace segproxy::proxy {

void refuse_at_accept(tcp::socket& sock, bool mysql) {
  protocols::Bytes answer;
  if (mysql) {
    protocols::mysql::encode_err_packet(answer, 0, 1040, "08004", "Too many connections", protocols::mysql::Capabilities{});
  } else {
    protocols::pg::encode_error_response(answer, {"FATAL", "53300", "sorry, too many clients already", "", ""});
  }
  const int fd = sock.native_handle();
  // The client's first bytes (an SSLRequest or a startup packet, a few hundred bytes at
  // most) are dropped unread by the kernel only at a reset: read what is there.
  std::array<std::uint8_t, 2048> drain{};
  for (int i = 0; i < 4 && ::recv(fd, drain.data(), drain.size(), MSG_DONTWAIT) > 0; ++i) {
  }
  (void)::send(fd, answer.data(), answer.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  error_code ignored;
  sock.shutdown(tcp::socket::shutdown_send, ignored);
  sock.close(ignored);
}

}  // namespace segproxy::proxy
