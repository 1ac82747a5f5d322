#pragma once
// How a connection still in handshake is closed when the listener's
// limits.max_concurrent_handshakes is reached and a connection from a lighter address
// takes its place (daemon/net/address_limits.hpp, issue 20). The same for both
// protocols: the evictor posts to the session's own thread, and the session's evict()
// closes it as its handshake deadline would, unless it has logged in meanwhile.
#include <memory>

#include "daemon/net/asio.hpp"
#include "daemon/runtime.hpp"

namespace segproxy::proxy {

// `Session` has `void evict()`. Nothing happens without an address lease (tests).
template <class Session>
void arm_handshake_eviction(const Services& svc, const std::shared_ptr<Session>& self,
                            const asio::any_io_executor& ex) {
  if (!svc.address) return;
  svc.address->set_evictor([weak = std::weak_ptr<Session>(self), ex] {
    asio::post(ex, [weak] {
      if (auto s = weak.lock()) s->evict();
    });
  });
}

}  // namespace segproxy::proxy
