"""Open-loop TLS handshake flood for bench/lib/flood_client.py --open-loop (issue 20).

A flood from many hosts does not wait for its handshakes: connections are offered at a
fixed rate whatever the server answers. Each one sends SSLRequest, then one TLS 1.3
ClientHello built once (ssl.MemoryBIO / SSLObject) and replayed byte for byte, reads the
server's first flight (ServerHello ... Finished: by then the server has done its key
exchange and signed) and then closes (`--then close`) or completes nothing and waits for
the server to give up (`--then hold`). The client decrypts, signs and verifies nothing,
so it costs almost no CPU while the server does the expensive part of every handshake.

The first flight is recognised by counting TLS records: the number the server sends up
to its Finished is learnt once at start from a calibration connection (read until the
server falls silent), since the encrypted records cannot be read.

One thread, one epoll selector, non-blocking sockets. Counters (all cumulative):
  offered            connections started (the rate asked for, never waiting for answers)
  first_flights      server first flights received in full
  closed_early       closed by the server before its first flight (EOF: e.g. refused at
                     accept by a connection cap, nothing answered)
  reset              ECONNRESET before the first flight
  connect_failed     connect() failed (ECONNREFUSED: listen queue full; EADDRNOTAVAIL)
  timed_out          no first flight within --flight-timeout
  held_closed        (--then hold) held connections the server closed afterwards
  error_response     answered an ErrorResponse ('E', e.g. FATAL 53300 of a connection cap)
                     instead of 'S' to the SSLRequest: refused, protocol-correctly
  not_tls            answered something else than 'S' or 'E' to the SSLRequest
plus in_flight (waiting for a first flight) and held (after it) now, and the first-flight
latency (connect to flight, ms) of the last second: p50 / p99.
"""
import errno
import selectors
import socket
import ssl
import struct
import time

SSL_REQUEST = struct.pack("!ii", 8, 80877103)

CONNECTING, WANT_S, WANT_FLIGHT, HELD = range(4)


def build_client_hello(ca):
    """One TLS 1.3 ClientHello (with its key share), to be replayed as it is."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_verify_locations(ca)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = outgoing.read()
    if not hello or hello[0] != 22:
        raise RuntimeError("could not build a ClientHello")
    return hello


class RecordCounter:
    """Counts complete TLS records in a byte stream (5-byte headers, lengths capped)."""

    def __init__(self):
        self.records = 0
        self.header = b""
        self.left = 0  # body bytes of the current record still to come

    def feed(self, data):
        i, n = 0, len(data)
        while i < n:
            if self.left > 0:
                take = min(self.left, n - i)
                self.left -= take
                i += take
                if self.left == 0:
                    self.records += 1
                continue
            need = 5 - len(self.header)
            self.header += data[i:i + need]
            i += min(need, n - i)
            if len(self.header) == 5:
                length = struct.unpack("!H", self.header[3:5])[0]
                if self.header[0] not in (20, 21, 22, 23) or length > 18432:
                    raise ValueError("not a TLS record stream")
                self.header = b""
                self.left = length
                if length == 0:
                    self.records += 1


def calibrate(port, hello, timeout=30.0, quiet=1.0):
    """The number of records of the server's first flight: one connection, read until quiet."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(SSL_REQUEST)
        if s.recv(1) != b"S":
            raise RuntimeError("the server did not accept SSLRequest")
        s.sendall(hello)
        counter = RecordCounter()
        s.settimeout(timeout)
        while True:
            try:
                data = s.recv(65536)
            except socket.timeout:
                break
            if not data:
                break
            counter.feed(data)
            s.settimeout(quiet)  # after the first bytes: until the server falls silent
        if counter.records < 2:
            raise RuntimeError("no first flight from the server (%d records)" % counter.records)
        return counter.records
    finally:
        s.close()


class Conn:
    __slots__ = ("sock", "state", "t0", "t_flight", "counter")

    def __init__(self, sock, t0):
        self.sock = sock
        self.state = CONNECTING
        self.t0 = t0
        self.t_flight = 0.0
        self.counter = RecordCounter()


class OpenLoopFlood:
    def __init__(self, port, hello, flight_records, rate, sources, then, flight_timeout, hold_max):
        self.port = port
        self.hello = hello
        self.flight_records = flight_records
        self.rate = rate
        self.sources = sources
        self.then = then
        self.flight_timeout = flight_timeout
        self.hold_max = hold_max
        self.sel = selectors.DefaultSelector()
        self.conns = {}
        self.counts = {k: 0 for k in ("offered", "first_flights", "closed_early", "reset", "connect_failed",
                                      "timed_out", "held_closed", "error_response", "not_tls")}
        self.latencies = []  # first-flight latencies (s) since the last snapshot

    def snapshot(self):
        out = {"open_loop": True, "flight_records": self.flight_records}
        out.update(self.counts)
        out["in_flight"] = sum(1 for c in self.conns.values() if c.state != HELD)
        out["held"] = len(self.conns) - out["in_flight"]
        lat = sorted(self.latencies)
        self.latencies = []
        if lat:
            out["flight_ms_p50"] = round(lat[len(lat) // 2] * 1000, 1)
            out["flight_ms_p99"] = round(lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000, 1)
        return out

    def _drop(self, c, counter=None):
        if counter:
            self.counts[counter] += 1
        try:
            self.sel.unregister(c.sock)
        except (KeyError, ValueError):
            pass
        self.conns.pop(c.sock.fileno(), None)
        c.sock.close()

    def _offer(self, now):
        self.counts["offered"] += 1
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            if self.sources:
                s.bind((self.sources[self.counts["offered"] % len(self.sources)], 0))
            rc = s.connect_ex(("127.0.0.1", self.port))
        except OSError:
            s.close()
            self.counts["connect_failed"] += 1
            return
        if rc not in (0, errno.EINPROGRESS):
            s.close()
            self.counts["connect_failed"] += 1
            return
        c = Conn(s, now)
        self.conns[s.fileno()] = c
        self.sel.register(s, selectors.EVENT_WRITE, c)

    def _on_event(self, c, now):
        if c.state == CONNECTING:
            err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err != 0:
                self._drop(c, "connect_failed")
                return
            try:
                c.sock.send(SSL_REQUEST)
            except OSError:
                self._drop(c, "reset")
                return
            c.state = WANT_S
            self.sel.modify(c.sock, selectors.EVENT_READ, c)
            return
        try:
            data = c.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            self._drop(c, "held_closed" if c.state == HELD else "reset")
            return
        if not data:
            self._drop(c, "held_closed" if c.state == HELD else "closed_early")
            return
        if c.state == HELD:
            return  # e.g. a TLS alert before the close
        if c.state == WANT_S:
            if data[:1] != b"S":
                self._drop(c, "error_response" if data[:1] == b"E" else "not_tls")
                return
            try:
                sent = c.sock.send(self.hello)  # a few hundred bytes into an empty send buffer
            except OSError:
                self._drop(c, "reset")
                return
            if sent != len(self.hello):
                self._drop(c, "reset")
                return
            c.state = WANT_FLIGHT
            data = data[1:]
            if not data:
                return
        try:
            c.counter.feed(data)
        except ValueError:
            self._drop(c, "not_tls")
            return
        if c.counter.records >= self.flight_records:
            self.counts["first_flights"] += 1
            self.latencies.append(now - c.t0)
            if self.then == "close":
                self._drop(c)
            else:
                c.state = HELD
                c.t_flight = now

    def _sweep(self, now):
        for c in list(self.conns.values()):
            if c.state != HELD and now - c.t0 > self.flight_timeout:
                self._drop(c, "timed_out")
            elif c.state == HELD and now - c.t_flight > self.hold_max:
                self._drop(c)

    def run(self, stop, on_second):
        start = time.monotonic()
        last_sweep = last_stats = start
        while not stop.is_set():
            now = time.monotonic()
            due = int((now - start) * self.rate) - self.counts["offered"]
            for _ in range(due):  # open loop: every connection due is offered, late or not
                self._offer(now)
            wait = (self.counts["offered"] + 1) / self.rate - (time.monotonic() - start)
            for key, _ in self.sel.select(timeout=max(0.0, min(wait, 0.05))):
                self._on_event(key.data, time.monotonic())
            now = time.monotonic()
            if now - last_sweep >= 0.1:
                self._sweep(now)
                last_sweep = now
            if now - last_stats >= 1.0:
                on_second(self.snapshot())
                last_stats = now
        for c in list(self.conns.values()):
            self._drop(c)
