#!/usr/bin/env python3
"""Writes the seed corpora of the MySQL fuzz targets (checked in; rerun to refresh):
tests/fuzz/corpus/mysql_client and tests/fuzz/corpus/mysql_backend.

Layout of both inputs: byte 0 = flags, bytes 1..4 = chunk sizes minus one, then:
  mysql_client : the client -> proxy byte stream
      flags: bit0 small limits, bit1 start in the command phase,
             bit2 CLIENT_QUERY_ATTRIBUTES, bit3 first parameter sent as long data,
             bits4-7 COM_STMT_EXECUTE parameter count
  mysql_backend: n, n command kinds, then the backend -> proxy byte stream
      kinds: 0 QUERY 1 PREPARE 2 EXECUTE 3 FETCH 4 FIELD_LIST 5 STATISTICS 6 PING
             7 SET_OPTION 8 INIT_DB
      flags: bit0 small control cap, bit1 DEPRECATE_EOF, bit2 SESSION_TRACK,
             bit3 MARIADB_CLIENT_CACHE_METADATA, bit4 MARIADB_CLIENT_PROGRESS,
             bit5 no login phase
The *_capture seeds are real conversations with MariaDB 10.11 (mariadb CLI and
Connector/C++ 1.1), the same bytes as tests/unit/protocols/mysql_capture_test.cpp.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

CLI_CLIENT = (
    "d30000018ca2bf000000100021000000000000000000000000000000000000001d000000617070001447e0e89094dd4f9951"
    "7e3a092b7b06335302620f73686f70006d7973716c5f6e61746976655f70617373776f7264007e035f6f73054c696e75780c"
    "5f636c69656e745f6e616d650a6c69626d617269616462045f70696404383137340f5f636c69656e745f76657273696f6e06"
    "332e332e3230095f706c6174666f726d067838365f36340c70726f6772616d5f6e616d65056d7973716c0c5f736572766572"
    "5f686f7374093132372e302e302e311e0000000353454c45435420612c20622046524f4d2074204f52444552204259206113"
    "0000000353454c454354202a2046524f4d206e6f7065120000000353454c454354204441544142415345282906000000026d"
    "7973716c24000000035550444154452073686f702e742053455420623d27756e6f2720574845524520613d31420000000353"
    "454c454354203120415320783b205550444154452073686f702e742053455420623d276f6e652720574845524520613d313b"
    "2053454c454354203220415320790600000003424547494e2600000003494e5345525420494e544f2073686f702e74205641"
    "4c5545532028332c27746872656527290700000003434f4d4d49543f000000034c4f41442044415441204c4f43414c20494e"
    "46494c4520272f746d702f6d646270726f746f2f662e7478742720494e544f205441424c452073686f702e74040000027809"
    "790a000000030100000001")
CLI_SERVER = (
    "640000000a352e352e352d31302e31312e31392d4d6172696144422d302b6465623132753100070000002f64293e3c505f6e"
    "00fef7080200ff81150000000000001d00000029216764425a7d2b57562a6d006d7973716c5f6e61746976655f7061737377"
    "6f7264001000000200000002400000000701050473686f700200000102011f000002036465660473686f7001740174016101"
    "61000c3f000b0000000303500000001f000003036465660473686f700174017401620162000c21003c000000fd0000000000"
    "05000004fe00002200060000050131036f6e65030000060132fb05000007fe0000220028000001ff7a042334325330325461"
    "626c65202773686f702e6e6f70652720646f65736e277420657869737402000001010121000002036465660000000a444154"
    "4142415345282900000c2100c0000000fd000027000005000003fe00000200050000040473686f7005000005fe000002003d"
    "000001ff14042334323030304163636573732064656e69656420666f7220757365722027617070274027252720746f206461"
    "74616261736520276d7973716c27300000010001000200000028526f7773206d6174636865643a203120204368616e676564"
    "3a203120205761726e696e67733a20300200000101011800000203646566000000017800000c3f0001000000038100000000"
    "05000003fe00000a0002000004013105000005fe00000a00300000060001000a00000028526f7773206d6174636865643a20"
    "3120204368616e6765643a203120205761726e696e67733a20300200000701011800000803646566000000017900000c3f00"
    "0100000003810000000005000009fe000002000200000a01320500000bfe0000020007000001000000030000000700000100"
    "010003000000070000010000000200000014000001fb2f746d702f6d646270726f746f2f662e74787419000004ffffff0102"
    "020000000f456e642062756c6b20696e7365727437000005000100020001002f5265636f7264733a2031202044656c657465"
    "643a20302020536b69707065643a203020205761726e696e67733a2031")
PS_CLIENT = (
    "c00000018ca2be00000010002d000000000000000000000000000000000000001d000000617070001402d26c34f9452b1c92"
    "ae2ea76259310af589749073686f70006d7973716c5f6e61746976655f70617373776f7264006b035f6f73054c696e75780c"
    "5f636c69656e745f6e616d650a6c69626d617269616462045f70696404383634390f5f636c69656e745f76657273696f6e06"
    "332e332e3230095f706c6174666f726d067838365f36340c5f7365727665725f686f7374093132372e302e302e3111000000"
    "03534554206175746f636f6d6d69743d3138000000035345542053455353494f4e205452414e53414354494f4e2049534f4c"
    "4154494f4e204c4556454c2052455045415441424c452052454144350000000353484f572053455353494f4e205641524941"
    "424c4553204c494b4520276c6f7765725f636173655f7461626c655f6e616d6573272a0000001653454c45435420612c2062"
    "2046524f4d20742057484552452061203e203f204f5244455220425920611200000017040000000001000000000103000000"
    "00001f000000165550444154452074205345542062203d203f2057484552452061203d203f19000000170500000000010000"
    "000001fe0003000465696e73010000001f0000001653454c454354202a2046524f4d206e6f70652057484552452061203d20"
    "3f0500000019050000000500000019040000000100000001")
PS_SERVER = (
    "640000000a352e352e352d31302e31312e31392d4d6172696144422d302b64656231327531000a000000462f564537244c35"
    "00fef7080200ff81150000000000001d000000606456606249292d475c7b75006d7973716c5f6e61746976655f7061737377"
    "6f7264001000000200000002400000000701050473686f7019000001000000024000000010000e0a6175746f636f6d6d6974"
    "024f4e0700000100000002000000020000010201650000020364656612696e666f726d6174696f6e5f736368656d61115345"
    "5353494f4e5f5641524941424c45531153455353494f4e5f5641524941424c45530d5661726961626c655f6e616d650d5641"
    "524941424c455f4e414d45000c2d0000010000fd01100000005e0000030364656612696e666f726d6174696f6e5f73636865"
    "6d611153455353494f4e5f5641524941424c45531153455353494f4e5f5641524941424c45530556616c75650e5641524941"
    "424c455f56414c5545000c2d0000400000fd011000000005000004fe0000220019000005166c6f7765725f636173655f7461"
    "626c655f6e616d6573013005000006fe000022000c0000010004000000020001000000001800000203646566000000013f00"
    "000c3f000000000006800000000005000003fe000002001f000004036465660473686f700174017401610161000c3f000b00"
    "00000303500000001f000005036465660473686f700174017401620162000c2d0050000000fd000000000005000006fe0000"
    "020002000001020005000002fe000002000b0000030000010000000465696e73060000040008020000000c00000500000300"
    "000005746872656505000006fe000002000c0000010005000000000002000000001800000203646566000000013f00000c3f"
    "00000000000680000000001800000303646566000000013f00000c3f000000000006800000000005000004fe000002003000"
    "00010000000200000028526f7773206d6174636865643a203120204368616e6765643a203020205761726e696e67733a2030"
    "28000001ff7a042334325330325461626c65202773686f702e6e6f70652720646f65736e2774206578697374")


def header(flags=0, chunks=(0, 0, 0, 0)):
    return bytes([flags]) + bytes(chunks)


def pkt(seq, payload):
    return struct.pack("<I", len(payload))[:3] + bytes([seq & 0xFF]) + payload


def lenenc(v):
    if v < 251:
        return bytes([v])
    if v < 1 << 16:
        return b"\xfc" + struct.pack("<H", v)
    if v < 1 << 24:
        return b"\xfd" + struct.pack("<I", v)[:3]
    return b"\xfe" + struct.pack("<Q", v)


def lstr(s):
    s = s.encode() if isinstance(s, str) else s
    return lenenc(len(s)) + s


def cstr(s):
    return s.encode() + b"\0"


CAPS = 0x0000A28D | (1 << 9) | (1 << 15) | (1 << 16) | (1 << 17) | (1 << 19) | (1 << 20) | (1 << 21) | (1 << 24)


def login_request(caps=CAPS, user="app", auth=b"\x11" * 20, db="shop", plugin="mysql_native_password",
                  attrs=(("_client_name", "libmariadb"), ("_pid", "1"))):
    p = struct.pack("<IIB", caps, 1 << 24, 45) + bytes(23) + cstr(user) + lenenc(len(auth)) + auth
    p += cstr(db) + cstr(plugin)
    a = b"".join(lstr(k) + lstr(v) for k, v in attrs)
    return p + lenenc(len(a)) + a


def ssl_request(caps=CAPS | (1 << 11)):
    return struct.pack("<IIB", caps, 1 << 24, 45) + bytes(23)


def commands():
    execute = b"\x17" + struct.pack("<IBI", 4, 0, 1) + b"\x00\x01" + struct.pack("<HH", 0x08, 0xFD)
    execute += struct.pack("<q", 42) + lstr("abc")
    return [
        b"\x03SELECT a, b FROM t WHERE a = 1",
        b"\x02shop",
        b"\x16SELECT a FROM t WHERE a > ? AND b = ?",
        execute,
        b"\x18" + struct.pack("<IH", 4, 1) + b"long data",
        b"\x1c" + struct.pack("<II", 4, 10),
        b"\x1a" + struct.pack("<I", 4),
        b"\x19" + struct.pack("<I", 4),
        b"\x04t\0%",
        b"\x09",
        b"\x0e",
        b"\x0c" + struct.pack("<I", 77),
        b"\x1b\x00\x00",
        b"\x1f",
        b"\x11root\0",       # COM_CHANGE_USER (refused)
        b"\x12" + bytes(10),  # COM_BINLOG_DUMP (refused)
        b"\x99",              # unknown
        b"\x01",
    ]


def column_def(name):
    return (lstr("def") + lstr("shop") + lstr("t") + lstr("t") + lstr(name) + lstr(name) + b"\x0c"
            + struct.pack("<HIBHB", 45, 11, 3, 0, 0) + b"\0\0")


def ok(affected=0, status=2, header=0):
    return bytes([header]) + lenenc(affected) + lenenc(0) + struct.pack("<HH", status, 0)


def eof(status=2):
    return b"\xfe" + struct.pack("<HH", 0, status)


def err(code=1146, state="42S02", msg="Table 'shop.nope' doesn't exist"):
    return b"\xff" + struct.pack("<H", code) + b"#" + state.encode() + msg.encode()


def greeting(plugin="caching_sha2_password", caps=CAPS | (1 << 11) | (1 << 23)):
    p = b"\x0a" + cstr("8.0.36") + struct.pack("<I", 42) + b"ABCDEFGH\0"
    p += struct.pack("<HBHHB", caps & 0xFFFF, 255, 2, caps >> 16, 21) + bytes(10) + b"IJKLMNOPQRST\0" + cstr(plugin)
    return p


def result_set(seq, dep, final_status=2):
    out = pkt(seq, lenenc(2)) + pkt(seq + 1, column_def("a")) + pkt(seq + 2, column_def("b"))
    seq += 3
    if not dep:
        out += pkt(seq, eof()); seq += 1
    out += pkt(seq, lstr("1") + lstr("one")) + pkt(seq + 1, lstr("2") + b"\xfb")
    seq += 2
    out += pkt(seq, ok(0, final_status, 0xFE) if dep else eof(final_status))
    return out, seq + 1


def backend_script(dep):
    kinds = []
    out = b""
    rs, seq = result_set(1, dep, 2 | 8)
    out += rs + pkt(seq, ok(3, 3))
    kinds.append(0)
    prep = pkt(1, b"\0" + struct.pack("<IHHBH", 4, 1, 1, 0, 0)) + pkt(2, column_def("?"))
    seq = 3
    if not dep:
        prep += pkt(seq, eof()); seq += 1
    prep += pkt(seq, column_def("a")); seq += 1
    if not dep:
        prep += pkt(seq, eof())
    out += prep
    kinds.append(1)
    cur = 2 | 64
    ex = pkt(1, lenenc(1)) + pkt(2, column_def("a")) + pkt(3, ok(0, cur, 0xFE) if dep else eof(cur))
    out += ex
    kinds.append(2)
    fe = pkt(1, b"\0\0" + struct.pack("<I", 1)) + pkt(2, b"\0\0" + struct.pack("<I", 2))
    fe += pkt(3, ok(0, 2 | 64 | 128, 0xFE) if dep else eof(2 | 64 | 128))
    out += fe
    kinds.append(3)
    out += pkt(1, column_def("a") + lstr("0")) + pkt(2, ok(0, 2, 0xFE) if dep else eof())
    kinds.append(4)
    out += pkt(1, b"Uptime: 5  Threads: 1")
    kinds.append(5)
    out += pkt(1, ok())
    kinds.append(6)
    out += pkt(1, ok(0, 2, 0xFE) if dep else eof())
    kinds.append(7)
    out += pkt(1, err(1049, "42000", "Unknown database 'db'"))
    kinds.append(8)
    return bytes([len(kinds)]) + bytes(kinds) + out


def write(name, seeds):
    d = os.path.join(HERE, "corpus", name)
    os.makedirs(d, exist_ok=True)
    for seed_name, data in seeds.items():
        with open(os.path.join(d, seed_name), "wb") as f:
            f.write(data)


def client_corpus():
    cmd_stream = b"".join(pkt(0, c) for c in commands())
    attrs_query = b"\x03" + lenenc(1) + lenenc(1) + b"\x00\x01" + struct.pack("<H", 0xFD) + lstr("k") + lstr("v") + b"SELECT 1"
    return {
        "cli_capture": header(0, (3, 50, 0, 255)) + bytes.fromhex(CLI_CLIENT),
        "ps_capture": header(2 << 4, (10, 1, 7, 100)) + bytes.fromhex(PS_CLIENT),
        "ssl_then_login": header(0, (5, 31, 2, 9)) + pkt(1, ssl_request()) + pkt(2, login_request()) + cmd_stream,
        "login_secure_connection": header() + pkt(1, login_request(caps=CAPS & ~(1 << 21))) + pkt(0, b"\x0e"),
        "every_command": header(2 | (2 << 4), (0, 3, 17, 255)) + cmd_stream,
        "every_command_long_data": header(2 | 8 | (2 << 4), (255, 255, 255, 255)) + cmd_stream,
        "query_attributes": header(2 | 4) + pkt(0, attrs_query) + pkt(0, b"\x03" + lenenc(0) + lenenc(1) + b"SELECT 2"),
        "small_limits": header(1) + pkt(1, login_request(attrs=(("a", "1"), ("b", "2"), ("c", "3")))),
        "small_limits_long_query": header(1 | 2) + pkt(0, b"\x03" + b"x" * 100),
        "seq_mismatch": header(2) + pkt(0, b"\x0e") + pkt(5, b"\x0e"),
        "huge_length": header(2) + b"\xff\xff\xff\x00" + b"\x03SELECT",
        "continuation": header(2) + b"\xff\xff\xff\x00\x03" + b"a" * 40,
    }


def backend_corpus():
    cli_kinds = [0, 0, 0, 8, 0, 0, 0, 0, 0, 0]
    ps_kinds = [0, 0, 0, 1, 2, 1, 2, 1]
    switch = (pkt(0, greeting()) + pkt(2, b"\xfe" + cstr("mysql_native_password") + b"ABCDEFGHIJKLMNOPQRST\0")
              + pkt(4, b"\x01\x04") + pkt(6, b"\x01-----BEGIN PUBLIC KEY-----\n") + pkt(8, ok()))
    return {
        "cli_capture": header(4 | 8 | 16, (7, 0, 100, 31)) + bytes([len(cli_kinds)]) + bytes(cli_kinds)
        + bytes.fromhex(CLI_SERVER),
        "ps_capture": header(4 | 8, (2, 90, 5, 255)) + bytes([len(ps_kinds)]) + bytes(ps_kinds)
        + bytes.fromhex(PS_SERVER),
        "script_eof": header(32, (0, 4, 9, 255)) + backend_script(False),
        "script_deprecate_eof": header(32 | 2, (1, 1, 30, 3)) + backend_script(True),
        "script_small_cap": header(32 | 1, (6, 6, 6, 6)) + backend_script(False),
        "greeting_switch_more_data": header(0, (3, 3, 3, 3)) + b"\x01\x06" + switch + pkt(1, ok()),
        "greeting_err": header() + b"\x00" + pkt(0, err(1040, "08004", "Too many connections")),
        "local_infile": header(32) + b"\x01\x00" + pkt(1, b"\xfb/etc/passwd") + pkt(3, err(1148, "42000", "refused")),
        "unsolicited_err": header(32) + b"\x00" + pkt(0, err(4031, "HY000", "timeout")),
        "progress": header(32 | 16) + b"\x01\x00" + pkt(1, b"\xfb/f") + pkt(3, b"\xff\xff\xff\x01\x02\x02\x00\x00\x00\x03abc")
        + pkt(4, ok(1)),
    }


if __name__ == "__main__":
    write("mysql_client", client_corpus())
    write("mysql_backend", backend_corpus())
