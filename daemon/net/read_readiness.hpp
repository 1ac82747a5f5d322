#pragma once
// Waiting for a socket to become readable without a system call per wait (issue 15).
//
// Asio 1.74's `socket::async_wait(wait_read)` starts a non-speculative reactor operation,
// and `epoll_reactor::start_op` re-arms the descriptor with `epoll_ctl(EPOLL_CTL_MOD)`
// for every such operation (boost/asio/detail/impl/epoll_reactor.ipp, the `else` branch
// of start_op). A *speculative* operation skips that: the descriptor is registered
// edge-triggered for EPOLLIN once, at open, and a speculative read op is either
// performed at once (when the reactor's `try_speculative_[read_op]` flag is set) or
// queued until the next edge, with no epoll_ctl either way.
//
// `async_wait_readable` starts such a speculative read op whose perform() does no I/O and
// reports `done_and_exhausted`: the reactor then clears `try_speculative_[read_op]`, so
// the next wait is queued for the next edge instead of completing at once. It sets the
// flag again for every EPOLLIN edge it sees (epoll_reactor::descriptor_state::perform_io).
// The contract that keeps this correct: after a wait completes, the caller reads until
// the socket is empty before it waits again: until EAGAIN, or a read after which the
// kernel reports nothing queued (TCP_INQ, daemon/net/stream.cpp recv_some). Not "until a
// short read": the peer's last bytes and its FIN can arrive in one edge, recv() returns
// the bytes first and the end of stream only on the next call, and no further edge comes
// (a wait then sleeps forever; TCP_INQ counts a pending FIN as queued). Data that arrives
// after that read raises a new edge, which either completes the queued wait or, if no
// wait was queued yet, sets the flag so that the next wait completes at once. At worst a
// wait completes for data the caller already read (one read then fails with EAGAIN); it
// never sleeps while unread data is in the socket.
//
// This uses Asio's detail API (reactor_op, the reactor service, the socket's
// reactor_data_), which is fixed for the pinned Boost 1.74 (docs/architecture.md,
// "The hot path"). The operation is allocated and completed like Asio's own
// reactive_wait_op (recycled handler memory, the handler's executor and work tracking).
#include <memory>
#include <type_traits>
#include <utility>

#include "daemon/net/asio.hpp"

namespace segproxy::proxy {
namespace net_detail {

template <class Handler, class IoExecutor>
class ReadinessOp : public asio::detail::reactor_op {
 public:
  BOOST_ASIO_DEFINE_HANDLER_PTR(ReadinessOp);

  ReadinessOp(Handler& handler, const IoExecutor& io_ex, bool* drained)
      : asio::detail::reactor_op(error_code(), &ReadinessOp::do_perform, &ReadinessOp::do_complete),
        handler_(std::move(handler)),
        work_(handler_, io_ex),
        drained_(drained) {}

  // No I/O: readiness is all this op waits for. "Exhausted" makes the reactor queue the
  // next wait until the next edge (see the file comment for why that is safe).
  static status do_perform(asio::detail::reactor_op*) { return done_and_exhausted; }

  static void do_complete(void* owner, asio::detail::operation* base, const error_code&, std::size_t) {
    auto* o = static_cast<ReadinessOp*>(base);
    // Readable: the caller's "socket is empty" flag is cleared before it resumes (only on
    // a real completion; owner == nullptr destroys the op at shutdown).
    if (owner != nullptr && !o->ec_ && o->drained_ != nullptr) *o->drained_ = false;
    ptr p = {std::addressof(o->handler_), o, o};
    asio::detail::handler_work<Handler, IoExecutor> w(std::move(o->work_));
    asio::detail::binder1<Handler, error_code> handler(o->handler_, o->ec_);
    p.h = std::addressof(handler.handler_);
    p.reset();  // the op's memory is free before the upcall
    if (owner != nullptr) {
      asio::detail::fenced_block b(asio::detail::fenced_block::half);
      w.complete(handler, handler.handler_);
    }
  }

 private:
  Handler handler_;
  asio::detail::handler_work<Handler, IoExecutor> work_;
  bool* drained_;
};

// basic_socket keeps its service implementation protected; a pointer to the member,
// formed through a derived class, reads it without changing the socket's type.
struct SocketAccess : tcp::socket {
  static auto& implementation(tcp::socket& s) { return (s.*(&SocketAccess::impl_)).get_implementation(); }
};

}  // namespace net_detail

// Completes with no error when `socket` is readable (or has an error or end of stream
// pending: the read that follows reports it); with operation_aborted when the socket is
// closed or was not open. The caller must read until EAGAIN or nothing is queued (TCP_INQ)
// before the next wait (file comment). `reactor` is the reactor of the socket's io_context.
// `drained` (may be null): set to false when the wait completes without error, before the
// completion handler runs, so a caller needs no code (no coroutine frame of its own)
// after the wait.
template <class Token>
auto async_wait_readable(tcp::socket& socket, asio::detail::reactor& reactor, bool* drained, Token&& token) {
  return asio::async_initiate<Token, void(error_code)>(
      [&socket, &reactor, drained](auto handler) {
        using Handler = std::decay_t<decltype(handler)>;
        using IoExecutor = tcp::socket::executor_type;
        using Op = net_detail::ReadinessOp<Handler, IoExecutor>;
        typename Op::ptr p = {std::addressof(handler), Op::ptr::allocate(handler), nullptr};
        p.p = new (p.v) Op(handler, socket.get_executor(), drained);
        if (!socket.is_open()) {
          p.p->ec_ = asio::error::operation_aborted;
          reactor.post_immediate_completion(p.p, false);
        } else {
          auto& impl = net_detail::SocketAccess::implementation(socket);
          reactor.start_op(asio::detail::reactor::read_op, impl.socket_, impl.reactor_data_, p.p, false, true);
        }
        p.v = p.p = nullptr;
      },
      token);
}

// The reactor of the io_context that `ex` belongs to.
template <class Executor>
asio::detail::reactor& reactor_of(const Executor& ex) {
  return asio::use_service<asio::detail::reactor>(asio::query(ex, asio::execution::context));
}

}  // namespace segproxy::proxy
