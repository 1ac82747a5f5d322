#!/usr/bin/env python3
"""A well-behaved PostgreSQL client for bench/flood.sh (issue 20): logs in through a proxy
with mTLS every --interval seconds and runs SELECT 1, until SIGTERM / SIGINT or --seconds.

  login_probe.py PORT CA CERT KEY USER DATABASE [--interval 0.2] [--timeout 20]
                 [--source ADDR] [--log FILE]

Each attempt: TCP connect (from --source, default 127.0.0.1: not one of the flood's
127.0.1.x addresses), SSLRequest, TLS 1.3 with the client certificate (server verified
against CA, host name "localhost"), StartupMessage, every message up to ReadyForQuery (any
authentication request but AuthenticationOk is a failure: the proxies authenticate by
certificate), Query "SELECT 1" up to ReadyForQuery, Terminate. The latency is from the
connect to the answer of SELECT 1; an attempt over --timeout in all fails. Attempts are
sequential: the next starts --interval after the previous one started, or at once when
that one took longer. --log gets one line per attempt: "start_s latency_ms ok|class".
At the end one JSON line: attempts, ok, failed, failures by class, latency p50 / p99 /
max in ms of the successful logins.
"""
import argparse
import json
import signal
import socket
import ssl
import struct
import threading
import time

SSL_REQUEST = struct.pack("!ii", 8, 80877103)


class Failure(Exception):
    def __init__(self, cls):
        super().__init__(cls)
        self.cls = cls


def recv_exact(s, n, deadline):
    out = b""
    while len(out) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise Failure("timeout")
        s.settimeout(left)
        chunk = s.recv(n - len(out))
        if not chunk:
            raise Failure("closed")
        out += chunk
    return out


def read_until_ready(s, deadline, want_row=False):
    """Messages up to ReadyForQuery; a failure on ErrorResponse or a password request."""
    got_row = False
    while True:
        head = recv_exact(s, 5, deadline)
        kind, length = head[:1], struct.unpack("!i", head[1:5])[0]
        if length < 4 or length > 1 << 20:
            raise Failure("protocol")
        body = recv_exact(s, length - 4, deadline)
        if kind == b"E":
            fields = dict((f[:1], f[1:]) for f in body.split(b"\0") if f)
            raise Failure("fatal_" + fields.get(b"C", b"?").decode(errors="replace"))
        if kind == b"R" and struct.unpack("!i", body[:4])[0] != 0:
            raise Failure("password_requested")
        if kind == b"D":
            got_row = True
        if kind == b"Z":
            if want_row and not got_row:
                raise Failure("no_row")
            return


def attempt(args, ctx):
    deadline = time.monotonic() + args.timeout
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.settimeout(args.timeout)
        if args.source:
            s.bind((args.source, 0))
        try:
            s.connect(("127.0.0.1", args.port))
        except socket.timeout:
            raise Failure("timeout")
        except OSError:
            raise Failure("connect_refused")
        s.sendall(SSL_REQUEST)
        if recv_exact(s, 1, deadline) != b"S":
            raise Failure("no_tls")
        s.settimeout(max(0.001, deadline - time.monotonic()))
        try:
            t = ctx.wrap_socket(s, server_hostname="localhost")
        except socket.timeout:
            raise Failure("timeout")
        except (ssl.SSLError, OSError):
            raise Failure("tls")
        s = t
        params = b"user\0" + args.user.encode() + b"\0database\0" + args.database.encode() + \
            b"\0application_name\0login_probe\0\0"
        s.sendall(struct.pack("!ii", 8 + len(params), 196608) + params)
        read_until_ready(s, deadline)
        q = b"SELECT 1\0"
        s.sendall(b"Q" + struct.pack("!i", 4 + len(q)) + q)
        read_until_ready(s, deadline, want_row=True)
        s.sendall(b"X" + struct.pack("!i", 4))
    except socket.timeout:
        raise Failure("timeout")
    except ConnectionResetError:
        raise Failure("reset")
    except ssl.SSLError:
        raise Failure("tls")
    except OSError:
        raise Failure("closed")
    finally:
        s.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("port", type=int)
    p.add_argument("ca")
    p.add_argument("cert")
    p.add_argument("key")
    p.add_argument("user")
    p.add_argument("database")
    p.add_argument("--interval", type=float, default=0.2)
    p.add_argument("--timeout", type=float, default=20.0)
    p.add_argument("--seconds", type=float, default=0)
    p.add_argument("--source", default="127.0.0.1")
    p.add_argument("--log")
    args = p.parse_args()

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_verify_locations(args.ca)
    ctx.load_cert_chain(args.cert, args.key)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    log = open(args.log, "a") if args.log else None
    start = time.monotonic()
    latencies, failures, attempts = [], {}, 0
    next_at = start
    while not stop.is_set() and not (args.seconds and time.monotonic() - start >= args.seconds):
        now = time.monotonic()
        if now < next_at:
            stop.wait(next_at - now)
            continue
        next_at = max(now, next_at) + args.interval
        t0 = time.monotonic()
        attempts += 1
        try:
            attempt(args, ctx)
            ms = (time.monotonic() - t0) * 1000
            latencies.append(ms)
            outcome = "ok"
        except Failure as f:
            ms = (time.monotonic() - t0) * 1000
            failures[f.cls] = failures.get(f.cls, 0) + 1
            outcome = f.cls
        if log:
            log.write("%.3f %.2f %s\n" % (t0 - start, ms, outcome))
            log.flush()
    lat = sorted(latencies)

    def pick(q):
        return round(lat[min(len(lat) - 1, int(len(lat) * q))], 2) if lat else None

    print(json.dumps({"attempts": attempts, "ok": len(lat), "failed": sum(failures.values()), "failures": failures,
                      "p50_ms": pick(0.50), "p99_ms": pick(0.99), "max_ms": round(lat[-1], 2) if lat else None}),
          flush=True)


if __name__ == "__main__":
    main()
