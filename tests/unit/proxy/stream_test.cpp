// daemon/net/stream: the connection stream of the hot path (issue 15). Plain and TLS
// input split at every byte offset arrives whole, once and in order; several TLS
// records that arrived together come out of one read; gathered and large TLS writes
// reach the peer intact; an end of stream that arrives with the last bytes is read. TLS runs a real OpenSSL handshake over loopback TCP; the peer
// keeps its TLS in memory BIOs so the test decides where the ciphertext is cut.
#include <gtest/gtest.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <numeric>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "daemon/net/stream.hpp"

namespace segproxy::proxy {
namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes bytes_of(const std::string& s) { return Bytes(s.begin(), s.end()); }

// Three messages of different sizes: the unit a relay reads several of at once.
std::vector<Bytes> three_messages() {
  return {bytes_of("Q\x00\x00\x00\x0dSELECT 1;"), bytes_of(std::string(300, 'b')), bytes_of("X\x00\x00\x00\x04")};
}

Bytes concat(const std::vector<Bytes>& parts) {
  Bytes all;
  for (const auto& p : parts) all.insert(all.end(), p.begin(), p.end());
  return all;
}

// Runs ready handlers (including the reactor, without blocking) until none are left.
void settle(asio::io_context& ctx) {
  for (int i = 0; i < 50; ++i) {
    ctx.restart();
    if (ctx.poll() == 0 && i > 2) return;
  }
}

// Runs the context until `done` holds (bounded: a hang fails the test, it does not block it).
template <class Pred>
bool run_until(asio::io_context& ctx, Pred done) {
  for (int i = 0; i < 5000 && !done(); ++i) {
    ctx.restart();
    ctx.run_one_for(std::chrono::milliseconds(1));
  }
  return done();
}

// The relay's pattern (issue 15, no coroutine frame per message): wait only when a read
// cannot return data at once, read_now first, read_some only when read_now read nothing.
awaitable<void> read_all_now_first(Stream& s, Bytes& got, std::size_t want, error_code& ec) {
  std::uint8_t buf[4096];
  while (got.size() < want) {
    if (!s.readable_now()) co_await s.wait_readable(ec);
    if (ec) co_return;
    std::size_t n = 0;
    if (!s.read_now(asio::buffer(buf), ec, n)) n = co_await s.read_some(asio::buffer(buf), ec);
    if (ec) co_return;
    got.insert(got.end(), buf, buf + n);
  }
}

struct Pair {
  asio::io_context ctx{1};
  tcp::socket peer{ctx};  // the test's side: blocking writes and reads
  std::unique_ptr<Stream> stream;

  Pair() {
    tcp::acceptor acc(ctx, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    peer.connect(acc.local_endpoint());
    stream = std::make_unique<Stream>(acc.accept());
    peer.set_option(tcp::no_delay(true));
  }
  void send(const std::uint8_t* p, std::size_t n) { asio::write(peer, asio::buffer(p, n)); }
};

// Reads until `want` bytes arrived (or an error), appending to `got`.
awaitable<void> read_all(Stream& s, Bytes& got, std::size_t want, error_code& ec) {
  std::uint8_t buf[4096];
  while (got.size() < want) {
    const std::size_t n = co_await s.read_some(asio::buffer(buf), ec);
    if (ec) co_return;
    got.insert(got.end(), buf, buf + n);
  }
}

// The reader under test: read_some only, or read_now first (the relay's frame-free path).
using Reader = awaitable<void> (*)(Stream&, Bytes&, std::size_t, error_code&);

void plain_input_split_at_every_offset(Reader reader) {
  const Bytes all = concat(three_messages());
  for (std::size_t k = 1; k < all.size(); ++k) {
    Pair p;
    Bytes got;
    error_code ec;
    asio::co_spawn(p.ctx, reader(*p.stream, got, all.size(), ec), asio::detached);
    settle(p.ctx);  // the reader now waits for readability
    p.send(all.data(), k);
    ASSERT_TRUE(run_until(p.ctx, [&] { return got.size() == k; })) << "split at " << k;
    p.send(all.data() + k, all.size() - k);
    ASSERT_TRUE(run_until(p.ctx, [&] { return got.size() == all.size() || ec; })) << "split at " << k;
    ASSERT_FALSE(ec) << ec.message();
    ASSERT_EQ(got, all) << "split at " << k;
  }
}

TEST(StreamPlain, InputSplitAtEveryOffsetArrivesWholeOnceAndInOrder) { plain_input_split_at_every_offset(read_all); }

TEST(StreamPlain, ReadNowFirstInputSplitAtEveryOffsetArrivesWholeOnceAndInOrder) {
  plain_input_split_at_every_offset(read_all_now_first);
}

TEST(StreamPlain, ReadNowFirstReportsEofOfAPeerThatClosedAfterItsLastBytes) {
  Pair p;
  Bytes got;
  error_code ec;
  asio::co_spawn(p.ctx, read_all_now_first(*p.stream, got, 1000, ec), asio::detached);
  settle(p.ctx);
  const Bytes all = bytes_of("last words");
  p.send(all.data(), all.size());
  p.peer.shutdown(tcp::socket::shutdown_send);
  ASSERT_TRUE(run_until(p.ctx, [&] { return bool(ec); })) << "the end of stream was never read";
  EXPECT_EQ(ec, asio::error::eof);
  EXPECT_EQ(got, all);
}

TEST(StreamPlain, SeveralMessagesInOneSendComeOutOfOneRead) {
  Pair p;
  const Bytes all = concat(three_messages());
  p.send(all.data(), all.size());
  std::size_t n = 0;
  error_code ec;
  Bytes buf(64 * 1024);
  asio::co_spawn(p.ctx, [&]() -> awaitable<void> { n = co_await p.stream->read_some(asio::buffer(buf), ec); },
                 asio::detached);
  ASSERT_TRUE(run_until(p.ctx, [&] { return n != 0 || ec; }));
  EXPECT_FALSE(ec);
  EXPECT_EQ(n, all.size());
}

TEST(StreamPlain, ReadAfterThePeerClosedReportsEof) {
  Pair p;
  const Bytes all = bytes_of("hello");
  p.send(all.data(), all.size());
  p.peer.shutdown(tcp::socket::shutdown_send);
  Bytes got;
  error_code ec;
  asio::co_spawn(p.ctx, read_all(*p.stream, got, 1000, ec), asio::detached);
  ASSERT_TRUE(run_until(p.ctx, [&] { return bool(ec); }));
  EXPECT_EQ(ec, asio::error::eof);
  EXPECT_EQ(got, all);
}

// The peer's last bytes and its FIN in one readiness edge: the read that returns the bytes
// is shorter than asked, yet the socket is not empty (the end of stream is still to be
// read) and no further edge will announce it. The reader already waits when both arrive,
// so the reactor consumes their one edge before that read. Before the TCP_INQ hint the
// stream took the short read for "empty" and waited forever.
TEST(StreamPlain, LastBytesAndEndOfStreamInOneEdgeEndTheStream) {
  Pair p;
  Bytes got;
  error_code ec;
  asio::co_spawn(p.ctx, read_all(*p.stream, got, 1000, ec), asio::detached);
  settle(p.ctx);  // the reader now waits for readability
  const Bytes all = bytes_of("last words");
  p.send(all.data(), all.size());
  p.peer.shutdown(tcp::socket::shutdown_send);
  ASSERT_TRUE(run_until(p.ctx, [&] { return bool(ec); })) << "the end of stream was never read";
  EXPECT_EQ(ec, asio::error::eof);
  EXPECT_EQ(got, all);
}

// A plain write larger than the socket buffers: the part send() did not take goes
// through the reactor, in order, with the gathered pieces intact.
TEST(StreamPlain, AWriteLargerThanTheSocketBuffersArrivesWholeAndInOrder) {
  Pair p;
  Bytes a(3 * 1024 * 1024), b(5 * 1024 * 1024 + 7);
  std::iota(a.begin(), a.end(), std::uint8_t{1});
  std::iota(b.begin(), b.end(), std::uint8_t{7});
  bool done = false;
  error_code ec;
  asio::co_spawn(
      p.ctx,
      [&]() -> awaitable<void> {
        const std::vector<asio::const_buffer> pieces{asio::buffer(a), asio::buffer(b)};
        co_await p.stream->write(pieces, ec);
        done = true;
      },
      asio::detached);
  Bytes got(a.size() + b.size());
  std::size_t at = 0;
  for (int i = 0; i < 100000 && at < got.size(); ++i) {
    p.ctx.restart();
    p.ctx.poll();
    error_code rec;
    p.peer.non_blocking(true);
    at += p.peer.read_some(asio::buffer(got.data() + at, got.size() - at), rec);
  }
  ASSERT_TRUE(run_until(p.ctx, [&] { return done; }));
  EXPECT_FALSE(ec) << ec.message();
  ASSERT_EQ(at, got.size());
  EXPECT_TRUE(std::equal(a.begin(), a.end(), got.begin()));
  EXPECT_TRUE(std::equal(b.begin(), b.end(), got.begin() + static_cast<std::ptrdiff_t>(a.size())));
}

// ---- TLS ----

struct Pki {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key{nullptr, EVP_PKEY_free};
  std::unique_ptr<X509, decltype(&X509_free)> cert{nullptr, X509_free};
  Pki() {
    key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
    cert.reset(X509_new());
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
    X509_set_issuer_name(cert.get(), name);
    X509_set_pubkey(cert.get(), key.get());
    X509_sign(cert.get(), key.get(), EVP_sha256());
  }
};

// The peer: an OpenSSL client whose records go through memory BIOs and the blocking
// socket by hand, so the test chooses how the ciphertext is cut.
struct TlsPair : Pair {
  Pki pki;
  ssl::context server_ctx{ssl::context::tls_server};
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> client_ctx{SSL_CTX_new(TLS_client_method()), SSL_CTX_free};
  std::unique_ptr<SSL, decltype(&SSL_free)> client{nullptr, SSL_free};
  BIO* in = nullptr;   // peer's input (ciphertext from the stream)
  BIO* out = nullptr;  // peer's output (ciphertext to the stream)

  TlsPair() {
    SSL_CTX_use_certificate(server_ctx.native_handle(), pki.cert.get());
    SSL_CTX_use_PrivateKey(server_ctx.native_handle(), pki.key.get());
    client.reset(SSL_new(client_ctx.get()));
    in = BIO_new(BIO_s_mem());
    out = BIO_new(BIO_s_mem());
    SSL_set_bio(client.get(), in, out);
    SSL_set_connect_state(client.get());
    stream->wrap_tls(server_ctx);
  }

  // Moves whatever the peer's TLS produced onto the socket, and what the socket holds into it.
  void pump() {
    Bytes buf(64 * 1024);
    for (;;) {
      const int n = BIO_read(out, buf.data(), static_cast<int>(buf.size()));
      if (n <= 0) break;
      send(buf.data(), static_cast<std::size_t>(n));
    }
    error_code ec;
    while (peer.available(ec) > 0) {
      const std::size_t n = peer.read_some(asio::buffer(buf), ec);
      if (ec || n == 0) break;
      BIO_write(in, buf.data(), static_cast<int>(n));
    }
  }

  // With `offload`, the stream's SSL_do_handshake() calls run on a handshake thread;
  // `resumed_on` is the thread the handshake coroutine continued on after it.
  bool handshake(HandshakeThreads* offload = nullptr, std::thread::id* resumed_on = nullptr) {
    bool done = false;
    error_code ec;
    asio::co_spawn(
        ctx,
        [&]() -> awaitable<void> {
          co_await stream->handshake(ssl::stream_base::server, ec, offload);
          if (resumed_on != nullptr) *resumed_on = std::this_thread::get_id();
          done = true;
        },
        asio::detached);
    const int rounds = offload != nullptr ? 20000 : 2000;  // offloaded: another thread, maybe busy
    for (int i = 0; i < rounds && !(done && SSL_is_init_finished(client.get())); ++i) {
      SSL_do_handshake(client.get());
      pump();
      ctx.restart();
      ctx.run_one_for(std::chrono::milliseconds(1));
      settle(ctx);
      pump();
    }
    return done && !ec && SSL_is_init_finished(client.get());
  }

  // The peer's records for `msgs` (one SSL_write each), and each record's length.
  Bytes seal(const std::vector<Bytes>& msgs, std::vector<std::size_t>& record_sizes) {
    for (const auto& m : msgs) SSL_write(client.get(), m.data(), static_cast<int>(m.size()));
    Bytes wire(static_cast<std::size_t>(BIO_ctrl_pending(out)));
    BIO_read(out, wire.data(), static_cast<int>(wire.size()));
    record_sizes.clear();
    for (std::size_t at = 0; at + 5 <= wire.size();) {
      const std::size_t len = 5 + (std::size_t{wire[at + 3]} << 8 | wire[at + 4]);
      record_sizes.push_back(len);
      at += len;
    }
    return wire;
  }

  // Plaintext the peer received from the stream so far.
  Bytes received() {
    pump();
    Bytes got, buf(64 * 1024);
    for (;;) {
      const int n = SSL_read(client.get(), buf.data(), static_cast<int>(buf.size()));
      if (n <= 0) break;
      got.insert(got.end(), buf.begin(), buf.begin() + n);
    }
    return got;
  }
};

TEST(StreamTls, HandshakeOverLoopbackNegotiatesTls13) {
  TlsPair t;
  ASSERT_TRUE(t.handshake());
  EXPECT_TRUE(t.stream->is_tls());
  EXPECT_EQ(SSL_version(t.stream->native_ssl()), TLS1_3_VERSION);
}

void tls_ciphertext_split_at_every_offset(Reader reader) {
  TlsPair t;
  ASSERT_TRUE(t.handshake());
  const auto msgs = three_messages();
  const Bytes plain = concat(msgs);
  Bytes got;
  error_code ec;
  std::size_t want = 0;
  // One connection: each round seals the three messages as three fresh records (same
  // sizes, new sequence numbers) and cuts the ciphertext at k.
  std::vector<std::size_t> sizes;
  std::size_t wire_size = 2;
  for (std::size_t k = 1; k < wire_size; ++k) {
    const Bytes wire = t.seal(msgs, sizes);
    wire_size = wire.size();
    ASSERT_EQ(sizes.size(), 3u);
    want += plain.size();
    asio::co_spawn(t.ctx, reader(*t.stream, got, want, ec), asio::detached);
    settle(t.ctx);
    t.send(wire.data(), k);
    settle(t.ctx);
    // Only records wholly inside the first k bytes can have been decrypted.
    std::size_t complete = 0, at = 0;
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      at += sizes[i];
      if (at <= k) complete += msgs[i].size();
    }
    ASSERT_EQ(got.size(), want - plain.size() + complete) << "split at " << k;
    t.send(wire.data() + k, wire.size() - k);
    ASSERT_TRUE(run_until(t.ctx, [&] { return got.size() == want || ec; })) << "split at " << k;
    ASSERT_FALSE(ec) << ec.message();
    ASSERT_TRUE(std::equal(plain.begin(), plain.end(), got.end() - static_cast<std::ptrdiff_t>(plain.size())))
        << "split at " << k;
  }
}

TEST(StreamTls, CiphertextSplitAtEveryOffsetArrivesWholeOnceAndInOrder) { tls_ciphertext_split_at_every_offset(read_all); }

TEST(StreamTls, ReadNowFirstCiphertextSplitAtEveryOffsetArrivesWholeOnceAndInOrder) {
  tls_ciphertext_split_at_every_offset(read_all_now_first);
}

TEST(StreamTls, SeveralRecordsThatArrivedTogetherComeOutOfOneRead) {
  TlsPair t;
  ASSERT_TRUE(t.handshake());
  const auto msgs = three_messages();
  std::vector<std::size_t> sizes;
  const Bytes wire = t.seal(msgs, sizes);
  ASSERT_EQ(sizes.size(), 3u);  // three records
  t.send(wire.data(), wire.size());
  std::size_t n = 0;
  error_code ec;
  Bytes buf(64 * 1024);
  asio::co_spawn(t.ctx, [&]() -> awaitable<void> { n = co_await t.stream->read_some(asio::buffer(buf), ec); },
                 asio::detached);
  ASSERT_TRUE(run_until(t.ctx, [&] { return n != 0 || ec; }));
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(n, concat(msgs).size());
  buf.resize(n);
  EXPECT_EQ(buf, concat(msgs));
}

TEST(StreamTls, GatheredAndLargeWritesReachThePeerIntact) {
  TlsPair t;
  ASSERT_TRUE(t.handshake());
  const auto msgs = three_messages();
  std::vector<asio::const_buffer> pieces;
  for (const auto& m : msgs) pieces.emplace_back(m.data(), m.size());
  Bytes large(200 * 1024);
  std::iota(large.begin(), large.end(), std::uint8_t{0});
  error_code ec;
  bool done = false;
  asio::co_spawn(
      t.ctx,
      [&]() -> awaitable<void> {
        co_await t.stream->write(pieces, ec);
        if (!ec) co_await t.stream->write(asio::buffer(large), ec);
        done = true;
      },
      asio::detached);
  Bytes got;
  const Bytes want = [&] {
    Bytes w = concat(msgs);
    w.insert(w.end(), large.begin(), large.end());
    return w;
  }();
  for (int i = 0; i < 5000 && got.size() < want.size(); ++i) {
    t.ctx.restart();
    t.ctx.run_one_for(std::chrono::milliseconds(1));
    const Bytes more = t.received();
    got.insert(got.end(), more.begin(), more.end());
  }
  ASSERT_TRUE(run_until(t.ctx, [&] { return done; }));
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(got, want);
}

TEST(StreamTls, ReadAfterThePeerClosedWithoutCloseNotifyIsTruncation) {
  TlsPair t;
  ASSERT_TRUE(t.handshake());
  t.peer.shutdown(tcp::socket::shutdown_send);
  Bytes got;
  error_code ec;
  asio::co_spawn(t.ctx, read_all(*t.stream, got, 10, ec), asio::detached);
  ASSERT_TRUE(run_until(t.ctx, [&] { return bool(ec); }));
  EXPECT_EQ(ec, ssl::error::stream_truncated);
}

// The TLS twin of LastBytesAndEndOfStreamInOneEdgeEndTheStream: a last record and the FIN
// without close_notify (a peer that crashed or exited after writing) in one edge.
TEST(StreamTls, LastRecordAndEndOfStreamInOneEdgeAreTruncation) {
  TlsPair t;
  ASSERT_TRUE(t.handshake());
  Bytes got;
  error_code ec;
  asio::co_spawn(t.ctx, read_all(*t.stream, got, 1000, ec), asio::detached);
  settle(t.ctx);  // the reader now waits for readability
  const Bytes last = bytes_of("last words");
  std::vector<std::size_t> sizes;
  const Bytes wire = t.seal({last}, sizes);
  t.send(wire.data(), wire.size());
  t.peer.shutdown(tcp::socket::shutdown_send);
  ASSERT_TRUE(run_until(t.ctx, [&] { return bool(ec); })) << "the end of stream was never read";
  EXPECT_EQ(ec, ssl::error::stream_truncated);
  EXPECT_EQ(got, last);
}

TEST(StreamTls, ReadAfterCloseNotifyIsEof) {
  TlsPair t;
  ASSERT_TRUE(t.handshake());
  SSL_shutdown(t.client.get());
  t.pump();
  Bytes got;
  error_code ec;
  asio::co_spawn(t.ctx, read_all(*t.stream, got, 10, ec), asio::detached);
  ASSERT_TRUE(run_until(t.ctx, [&] { return bool(ec); }));
  EXPECT_EQ(ec, asio::error::eof);
}

TEST(StreamTls, AClosedStreamNeverTouchesItsOldDescriptor) {
  TlsPair t;
  ASSERT_TRUE(t.handshake());
  t.stream->close();
  Bytes got;
  error_code ec;
  asio::co_spawn(t.ctx, read_all(*t.stream, got, 10, ec), asio::detached);
  ASSERT_TRUE(run_until(t.ctx, [&] { return bool(ec); }));
  EXPECT_TRUE(got.empty());
}

// Issue 20: a client's handshake computes on a handshake thread, and its session goes on
// on its own thread (where its timers and its socket's reactor live).
TEST(StreamTls, AnOffloadedHandshakeRunsItsStepsOnTheHandshakeThreadAndResumesOnTheStreamsThread) {
  HandshakeThreads threads(1, 0);
  TlsPair t;
  std::thread::id resumed_on;
  ASSERT_TRUE(t.handshake(&threads, &resumed_on));
  EXPECT_EQ(SSL_version(t.stream->native_ssl()), TLS1_3_VERSION);
  EXPECT_GE(threads.steps_run(), 1u);
  EXPECT_EQ(threads.steps_pending(), 0);
  EXPECT_EQ(resumed_on, std::this_thread::get_id());
  // The stream works as one handshaken on its own thread.
  std::vector<std::size_t> sizes;
  const Bytes wire = t.seal({bytes_of("hello")}, sizes);
  t.send(wire.data(), wire.size());
  Bytes got;
  error_code ec;
  bool done = false;
  asio::co_spawn(t.ctx, [&]() -> awaitable<void> { co_await read_all(*t.stream, got, 5, ec); done = true; }, asio::detached);
  ASSERT_TRUE(run_until(t.ctx, [&] { return done; }));
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(got, bytes_of("hello"));
}

// A deadline that closes the stream while its step waits on a busy handshake thread: the
// step is skipped (no OpenSSL call, no recv on the descriptor), the handshake ends
// aborted, and the descriptor is closed only once the step is back, never under it.
TEST(StreamTls, ACloseWhileAHandshakeStepIsQueuedSkipsTheStepAndClosesTheSocketWhenItIsBack) {
  HandshakeThreads threads(1, 0);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  asio::post(threads.executor(), [released] { released.wait(); });  // the thread is busy
  TlsPair t;
  bool done = false;
  error_code ec;
  asio::co_spawn(
      t.ctx,
      [&]() -> awaitable<void> {
        co_await t.stream->handshake(ssl::stream_base::server, ec, &threads);
        done = true;
      },
      asio::detached);
  SSL_do_handshake(t.client.get());  // the ClientHello: the stream sends a step out
  t.pump();
  ASSERT_TRUE(run_until(t.ctx, [&] { return threads.steps_pending() == 1; }));
  t.stream->close();
  EXPECT_TRUE(t.stream->lowest().is_open()) << "closed under a step that may be using it";
  release.set_value();
  ASSERT_TRUE(run_until(t.ctx, [&] { return done; }));
  EXPECT_EQ(ec, asio::error::operation_aborted);
  EXPECT_FALSE(t.stream->lowest().is_open());
  EXPECT_EQ(threads.steps_run(), 0u);
}

}  // namespace
}  // namespace segproxy::proxy
