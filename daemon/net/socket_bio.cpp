// The socket BIO (socket_bio.hpp): OpenSSL reads and writes the descriptor directly.
#include "daemon/net/socket_bio.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstring>
#include <new>
#include <optional>

namespace segproxy::proxy {

ssize_t recv_some(SocketIo& io, void* out, std::size_t len) {
  iovec iov{out, len};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (io.inq_hint) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
  }
  const ssize_t n = ::recvmsg(io.socket->native_handle(), &msg, 0);
  if (n > 0) {
    int queued = -1;
    for (cmsghdr* c = io.inq_hint ? CMSG_FIRSTHDR(&msg) : nullptr; c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_TCP && c->cmsg_type == TCP_CM_INQ && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
        std::memcpy(&queued, CMSG_DATA(c), sizeof(int));
      }
    }
    io.drained = queued == 0;  // unknown (-1): read again before waiting
  }
  return n;
}

namespace {

SocketIo* io_of(BIO* b) { return static_cast<SocketIo*>(BIO_get_data(b)); }

// The start bio_read and bio_write share: the retry flags cleared, and the result to
// return at once when no socket call may follow (0 for nothing to move, -1 with EBADF on
// a closed socket); nullopt when the call goes on to the descriptor.
std::optional<int> answer_before_io(BIO* b, SocketIo& io, int len) {
  BIO_clear_retry_flags(b);
  if (len <= 0) return 0;
  if (!io.socket->is_open()) {
    io.last_errno = EBADF;
    return -1;
  }
  return std::nullopt;
}

int bio_read(BIO* b, char* out, int len) {
  SocketIo* io = io_of(b);
  if (const std::optional<int> early = answer_before_io(b, *io, len)) return *early;
  if (io->drained) {  // known empty: OpenSSL waits for readability instead of a failing recv()
    BIO_set_retry_read(b);
    return -1;
  }
  const ssize_t n = recv_some(*io, out, static_cast<std::size_t>(len));
  if (n > 0) return static_cast<int>(n);
  if (n == 0) {  // end of stream: later reads return it at once, no wait may come first
    io->drained = false;
    return 0;
  }
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
    if (errno != EINTR) io->drained = true;
    BIO_set_retry_read(b);
    return -1;
  }
  io->last_errno = errno;
  return -1;
}

int bio_write(BIO* b, const char* in, int len) {
  SocketIo* io = io_of(b);
  if (const std::optional<int> early = answer_before_io(b, *io, len)) return *early;
  const ssize_t n = ::send(io->socket->native_handle(), in, static_cast<std::size_t>(len), MSG_NOSIGNAL);
  if (n >= 0) return static_cast<int>(n);
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
    BIO_set_retry_write(b);
    return -1;
  }
  io->last_errno = errno;
  return -1;
}

long bio_ctrl(BIO*, int cmd, long, void*) { return cmd == BIO_CTRL_FLUSH ? 1 : 0; }

int bio_create(BIO* b) {
  BIO_set_init(b, 1);
  return 1;
}

}  // namespace

SocketBioMethod::SocketBioMethod(asio::execution_context& ctx)
    : asio::execution_context::service(ctx),
      method_(BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "segproxy socket")) {
  if (!method_) throw std::bad_alloc();
  BIO_meth_set_read(method_.get(), bio_read);
  BIO_meth_set_write(method_.get(), bio_write);
  BIO_meth_set_ctrl(method_.get(), bio_ctrl);
  BIO_meth_set_create(method_.get(), bio_create);
}

BIO* SocketBioMethod::make(SocketIo& io) {
  BIO* bio = BIO_new(method_.get());
  if (bio != nullptr) BIO_set_data(bio, &io);
  return bio;
}

}  // namespace segproxy::proxy
