#!/usr/bin/env python3
"""Writes the seed corpora for the protocol fuzz targets (checked in; rerun to refresh).

Input layout of both targets: byte 0 = flags, bytes 1..4 = chunk sizes minus one
(the visible prefix grows by these, cyclically), then the byte stream.
  pg_frontend flags: bit0 = small limits, bit1 = start after the startup phase
  pg_backend  flags: bit0 = small control-message cap (32 bytes), bit1 = the session forwarded
              Query/Bind/Describe P/Execute/Sync first (DataRow vs RowDescription matching)
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def i16(v):
    return struct.pack(">h", v)


def i32(v):
    return struct.pack(">i", v)


def cstr(s):
    return s.encode() + b"\0"


def msg(t, body=b""):
    return t.encode() + struct.pack(">I", len(body) + 4) + body


def untyped(body):
    return struct.pack(">I", len(body) + 4) + body


def header(flags=0, chunks=(0, 0, 0, 0)):
    return bytes([flags]) + bytes(chunks)


# ---- frontend ----
def startup(params, version=196608):
    body = i32(version)
    for k, v in params:
        body += cstr(k) + cstr(v)
    return untyped(body + b"\0")


SSL = untyped(i32(80877103))
GSS = untyped(i32(80877104))
CANCEL = untyped(i32(80877102) + i32(1234) + i32(5678))
PSQL = startup([("user", "alice"), ("database", "shop"), ("application_name", "psql"), ("client_encoding", "UTF8")])
JDBC = startup([("user", "app"), ("database", "prod"), ("client_encoding", "UTF8"), ("DateStyle", "ISO"),
                ("TimeZone", "UTC"), ("extra_float_digits", "2"), ("application_name", "PostgreSQL JDBC Driver")])

FRONTEND = {
    "query": msg("Q", cstr("SELECT 1")),
    "parse": msg("P", cstr("s1") + cstr("SELECT $1::int, $2") + i16(2) + i32(23) + i32(0)),
    "bind": msg("B", cstr("p1") + cstr("s1") + i16(1) + i16(1) + i16(2) + i32(2) + b"42" + i32(-1) + i16(1) + i16(0)),
    "describe": msg("D", b"S" + cstr("s1")),
    "execute": msg("E", cstr("p1") + i32(10)),
    "close": msg("C", b"P" + cstr("p1")),
    "sync": msg("S"),
    "flush": msg("H"),
    "terminate": msg("X"),
    "copydata": msg("d", b"1\tfoo\n"),
    "copydone": msg("c"),
    "copyfail": msg("f", cstr("aborted")),
    "functioncall": msg("F", i32(1598) + i16(1) + i16(1) + i16(1) + i32(4) + i32(7) + i16(1)),
    "password": msg("p", cstr("secret")),
    "sasl_initial": msg("p", cstr("SCRAM-SHA-256") + i32(32) + b"n,,n=,r=rOprNGfwEbeRWgbNEkqOabcd"),
}


def frontend_corpus():
    out = {
        "startup_psql": header() + PSQL,
        "startup_jdbc": header(0, (6, 2, 0, 30)) + JDBC,
        "ssl_then_startup": header(0, (7, 0, 3, 255)) + SSL + PSQL,
        "gss_then_ssl_then_startup": header() + GSS + SSL + PSQL + FRONTEND["query"],
        "cancel": header(0, (3, 3, 3, 3)) + CANCEL,
        "startup_small_limits": header(1) + startup([("user", "u"), ("a", "1"), ("b", "2"), ("c", "3")]),
        "startup_minor_version": header() + startup([("user", "u")], 196609),
        "huge_length": header(2) + b"Q" + struct.pack(">I", 1 << 30),
        "small_limits_big_query": header(3, (15, 15, 15, 15)) + msg("Q", cstr("x" * 100)),
    }
    for name, m in FRONTEND.items():
        out["msg_" + name] = header(2, (0, 1, 2, 3)) + m
    pipeline = (FRONTEND["parse"] + FRONTEND["bind"] + FRONTEND["describe"] + FRONTEND["execute"] +
                FRONTEND["close"] + FRONTEND["sync"])
    out["pipeline_split"] = header(0, (2, 6, 0, 249)) + PSQL + pipeline + FRONTEND["query"] + FRONTEND["terminate"]
    out["copy_in"] = header(2, (4, 4, 4, 4)) + FRONTEND["query"] + FRONTEND["copydata"] * 3 + FRONTEND["copydone"]
    out["all_messages"] = header(2, (0, 10, 20, 40)) + b"".join(FRONTEND.values())
    return out


# ---- backend ----
def backend_corpus():
    params = (msg("S", cstr("server_version") + cstr("15.4")) + msg("S", cstr("TimeZone") + cstr("UTC")) +
              msg("K", i32(4242) + i32(-12345)) + msg("Z", b"I"))
    scram = (msg("R", i32(10) + cstr("SCRAM-SHA-256-PLUS") + cstr("SCRAM-SHA-256") + b"\0") +
             msg("R", i32(11) + b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096") +
             msg("R", i32(12) + b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=") + msg("R", i32(0)))
    rowdesc = msg("T", i16(2) + cstr("id") + i32(16384) + i16(1) + i32(23) + i16(4) + i32(-1) + i16(0) +
                  cstr("name") + i32(16384) + i16(2) + i32(25) + i16(-1) + i32(-1) + i16(0))
    rows = b"".join(msg("D", i16(2) + i32(1) + str(i).encode() + i32(3) + b"abc") for i in range(5))
    rows += msg("D", i16(2) + i32(-1) + i32(0))
    error = msg("E", b"S" + cstr("ERROR") + b"V" + cstr("ERROR") + b"C" + cstr("42P01") + b"M" +
                cstr("relation \"x\" does not exist") + b"P" + cstr("15") + b"F" + cstr("parse_relation.c") + b"\0")
    notice = msg("N", b"S" + cstr("NOTICE") + b"C" + cstr("00000") + b"M" + cstr("hello") + b"D" + cstr("d") +
                 b"H" + cstr("h") + b"\0")
    out = {
        "login_scram": header(0, (0, 3, 9, 27)) + scram + params,
        "login_md5": header() + msg("R", i32(5) + b"\x01\x02\x03\x04") + msg("R", i32(0)) + params,
        "login_cleartext": header(0, (4, 4, 4, 4)) + msg("R", i32(3)) + msg("R", i32(0)) + params,
        "simple_query_result": header(0, (1, 5, 100, 2)) + rowdesc + rows + msg("C", cstr("SELECT 6")) + msg("Z", b"I"),
        "extended_query_result": header(0, (0, 0, 7, 0)) + msg("1") + msg("2") + rowdesc + rows +
                                 msg("s") + rows + msg("C", cstr("SELECT 6")) + msg("3") + msg("Z", b"T"),
        "error_then_ready": header() + notice + error + msg("Z", b"E"),
        "copy_out": header(0, (2, 2, 2, 2)) + msg("H", b"\0" + i16(1) + i16(0)) + msg("d", b"1\tfoo\n") * 3 +
                    msg("c") + msg("C", cstr("COPY 3")) + msg("Z", b"I"),
        "copy_in": header() + msg("G", b"\0" + i16(2) + i16(0) + i16(0)) + msg("C", cstr("COPY 0")) + msg("Z", b"I"),
        "notification_empty_query": header() + msg("A", i32(77) + cstr("chan") + cstr("payload")) + msg("I") +
                                    msg("Z", b"I"),
        "big_datarow_small_cap": header(1, (255, 255, 100, 255)) + rowdesc +
                                 msg("D", i16(1) + i32(4000) + b"x" * 4000) + msg("C", cstr("SELECT 1")) + msg("Z", b"I"),
        "watched_over_small_cap": header(1) + msg("E", b"M" + cstr("y" * 64) + b"\0"),
        "length_below_four": header() + msg("Z", b"I") + b"D\0\0\0\x02",
        "base64_body": header() + msg("d", b"W22ZaJ0SNY7soEsUEjb6gQ=="),
        "row_shape_match": header(2, (1, 3, 7, 2)) + rowdesc + rows + msg("C", cstr("SELECT 6")) + msg("Z", b"I") +
                           msg("2") + rowdesc + rows + msg("C", cstr("SELECT 6")) + msg("Z", b"I"),
        "row_shape_mismatch": header(2, (0, 5, 2, 9)) + rowdesc + msg("D", i16(3) + i32(1) + b"1" + i32(-1) + i32(0)) +
                              msg("C", cstr("SELECT 1")) + msg("Z", b"I"),
    }
    return out


def write(dirname, files):
    d = os.path.join(HERE, "corpus", dirname)
    os.makedirs(d, exist_ok=True)
    for name, data in files.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    print(f"{dirname}: {len(files)} seeds", file=sys.stderr)


if __name__ == "__main__":
    write("pg_frontend", frontend_corpus())
    write("pg_backend", backend_corpus())
