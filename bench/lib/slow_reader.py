#!/usr/bin/env python3
"""A PostgreSQL client that reads its results at RATE bytes per second (bench/soak.sh).

  slow_reader.py PORT CA CERT KEY SECONDS [RATE]

Logs in through segproxy over mTLS (user billing, database shop), sends a query with
a large result and reads it RATE bytes (default 1024) per second, so the proxy holds a
session whose client is the bottleneck. Reconnects when the session ends. Prints one
JSON line of totals at the end.
"""
import json
import socket
import ssl
import struct
import sys
import time

QUERY = b"select repeat('x', 1000) from generate_series(1, 1000000)\0"


def session(port, ctx, until, rate):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(struct.pack("!ii", 8, 80877103))
    if s.recv(1) != b"S":
        raise OSError("no TLS")
    t = ctx.wrap_socket(s, server_hostname="localhost")
    params = b"user\0billing\0database\0shop\0\0"
    t.sendall(struct.pack("!ii", 8 + len(params), 196608) + params)
    buf = b""
    while b"Z\0\0\0\5" not in buf:  # ReadyForQuery
        chunk = t.recv(4096)
        if not chunk:
            raise OSError("closed during login")
        buf += chunk
    t.sendall(b"Q" + struct.pack("!i", 4 + len(QUERY)) + QUERY)
    got = 0
    while time.monotonic() < until:
        chunk = t.recv(rate)
        if not chunk:
            break
        got += len(chunk)
        time.sleep(1.0)
    t.close()
    return got


def main():
    port, ca, cert, key, seconds = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
    rate = int(sys.argv[6]) if len(sys.argv) > 6 else 1024
    ctx = ssl.create_default_context(cafile=ca)
    ctx.load_cert_chain(cert, key)
    until = time.monotonic() + seconds
    total, sessions, failures = 0, 0, 0
    while time.monotonic() < until:
        try:
            sessions += 1
            total += session(port, ctx, until, rate)
        except (OSError, ssl.SSLError):
            failures += 1
            time.sleep(1.0)
    print(json.dumps({"bytes_read": total, "sessions": sessions, "failures": failures}), flush=True)


if __name__ == "__main__":
    main()
