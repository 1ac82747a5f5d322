#!/usr/bin/env python3
"""Flood and slow-peer load for bench/flood.sh and bench/soak.sh (issue 20).

  flood_client.py PORT CA CERT KEY [--rate N] [--half-open N] [--seconds S]
                  [--sources K] [--stats FILE] [--threads N]
                  [--open-loop [--then close|hold] [--flight-timeout S] [--hold-max S]]

- --half-open N: N TCP connections to a PostgreSQL listener that never send a byte;
  one the proxy closes (handshake_timeout, a cap) is reopened, so N stay pending.
- --rate N: N complete TLS handshakes per second (SSLRequest, 'S', TLS with the client
  certificate, then close without a startup), from --threads worker threads, each waiting
  for its handshake (closed loop: the client slows down with the server, and its own TLS
  work costs about as much CPU as the server's).
- --open-loop: instead, N connections per second offered whatever the server answers
  (a flood from many hosts), each replaying one prebuilt TLS 1.3 ClientHello and reading
  the server's first flight, then closing (--then close) or completing nothing until the
  server gives up (--then hold); almost no client CPU (bench/lib/open_loop_flood.py).
- --sources K: spread connections over the source addresses 127.0.1.1 .. 127.0.1.K
  (a flood from many hosts; each stays under a per-address cap).
Prints one JSON line of totals at the end, with the client's own CPU seconds (cpu_s), and
every second one to --stats if given.
Stops after --seconds, or at SIGTERM / SIGINT.
"""
import argparse
import json
import resource
import signal
import socket
import ssl
import struct
import threading
import time

import open_loop_flood

SSL_REQUEST = struct.pack("!ii", 8, 80877103)


class Totals:
    def __init__(self):
        self.lock = threading.Lock()
        self.handshakes_ok = 0
        self.handshakes_failed = 0
        self.half_open_opened = 0
        self.half_open_closed_by_peer = 0

    def add(self, name, n=1):
        with self.lock:
            setattr(self, name, getattr(self, name) + n)

    def snapshot(self, half_open_now):
        with self.lock:
            return {
                "handshakes_ok": self.handshakes_ok,
                "handshakes_failed": self.handshakes_failed,
                "half_open_opened": self.half_open_opened,
                "half_open_closed_by_peer": self.half_open_closed_by_peer,
                "half_open_now": half_open_now,
            }


def connect(port, source, timeout=10.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    if source:
        s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    return s


def handshake_worker(args, ctx, totals, stop, rate_per_worker, sources, index):
    interval = 1.0 / rate_per_worker if rate_per_worker > 0 else 1.0
    next_at = time.monotonic()
    i = index
    while not stop.is_set():
        now = time.monotonic()
        if now < next_at:
            stop.wait(next_at - now)
            continue
        next_at += interval
        if next_at < now - 1.0:  # fell behind by more than a second: do not burst
            next_at = now
        source = sources[i % len(sources)] if sources else None
        i += 1
        try:
            s = connect(args.port, source)
            s.sendall(SSL_REQUEST)
            if s.recv(1) != b"S":
                raise OSError("no S")
            t = ctx.wrap_socket(s, server_hostname="localhost")
            t.close()
            totals.add("handshakes_ok")
        except (OSError, ssl.SSLError):
            totals.add("handshakes_failed")


def half_open_keeper(args, totals, stop, sources, held):
    conns = []
    i = 0
    while not stop.is_set():
        # Drop the ones the proxy closed (readable + EOF), reopen up to N.
        alive = []
        for s in conns:
            try:
                s.setblocking(False)
                data = s.recv(1)
                if data == b"":
                    totals.add("half_open_closed_by_peer")
                    s.close()
                    continue
                alive.append(s)
            except BlockingIOError:
                alive.append(s)
            except OSError:
                totals.add("half_open_closed_by_peer")
                s.close()
        conns = alive
        while len(conns) < args.half_open and not stop.is_set():
            source = sources[i % len(sources)] if sources else None
            i += 1
            try:
                conns.append(connect(args.port, source))
                totals.add("half_open_opened")
            except OSError:
                break
        held[0] = len(conns)
        stop.wait(0.5)
    for s in conns:
        s.close()
    held[0] = 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("port", type=int)
    p.add_argument("ca")
    p.add_argument("cert")
    p.add_argument("key")
    p.add_argument("--rate", type=int, default=0)
    p.add_argument("--half-open", type=int, default=0)
    p.add_argument("--seconds", type=float, default=0)
    p.add_argument("--sources", type=int, default=0)
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--stats")
    p.add_argument("--open-loop", action="store_true")
    p.add_argument("--then", choices=("close", "hold"), default="close")
    p.add_argument("--flight-timeout", type=float, default=15.0)
    p.add_argument("--hold-max", type=float, default=60.0)
    args = p.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    ctx = ssl.create_default_context(cafile=args.ca)
    ctx.load_cert_chain(args.cert, args.key)
    sources = ["127.0.1.%d" % k for k in range(1, args.sources + 1)]
    totals = Totals()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    held = [0]
    threads = []
    if args.half_open > 0:
        threads.append(threading.Thread(target=half_open_keeper, args=(args, totals, stop, sources, held)))
    flood = None
    if args.rate > 0 and args.open_loop:
        hello = open_loop_flood.build_client_hello(args.ca)
        flood = open_loop_flood.OpenLoopFlood(args.port, hello, open_loop_flood.calibrate(args.port, hello), args.rate,
                                              sources, args.then, args.flight_timeout, args.hold_max)
    elif args.rate > 0:
        n = max(1, min(args.threads, args.rate))
        for k in range(n):
            threads.append(threading.Thread(target=handshake_worker,
                                            args=(args, ctx, totals, stop, args.rate / n, sources, k)))
    for t in threads:
        t.daemon = True
        t.start()
    start = time.monotonic()

    def write_stats(extra=None):
        if args.stats:
            with open(args.stats, "a") as f:
                snap = totals.snapshot(held[0])
                snap.update(extra or {})
                snap["t"] = round(time.monotonic() - start, 1)
                f.write(json.dumps(snap) + "\n")

    if args.seconds:
        timer = threading.Timer(args.seconds, stop.set)
        timer.daemon = True
        timer.start()
    if flood is not None:  # the open loop runs here, the half-open keeper beside it
        flood.run(stop, write_stats)
    while not stop.is_set():
        write_stats()
        stop.wait(1.0)
    for t in threads:
        t.join(timeout=15)
    out = totals.snapshot(held[0])
    if flood is not None:
        out.update(flood.snapshot())
        out.pop("flight_ms_p50", None)
        out.pop("flight_ms_p99", None)
    out["seconds"] = round(time.monotonic() - start, 1)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out["cpu_s"] = round(usage.ru_utime + usage.ru_stime, 3)  # the client's own CPU, from its start
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
