#!/usr/bin/python3
"""Holds COUNT idle TLS sessions open through a proxy, each after one query.

Usage: idle_sessions.py pg|mysql HOST PORT COUNT PKI_DIR [CERT_NAME [USER]]
Prints "ready <count>" once every session ran its query, then waits until stdin
closes and closes them. With IDLE_SESSIONS_RECHECK=1 every session runs its query a
second time once all are open, and "rechecked <count>" follows "ready". The MySQL
password comes from BP_MYSQL_PASSWORD (never argv). Used by bench/hot_path.sh (RSS per
idle session) and bench/many_sessions.sh; Debian's python3-psycopg2 and python3-pymysql.
"""
import os
import sys


def main():
    proto, host, port, count, pki = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    cert = sys.argv[6] if len(sys.argv) > 6 else "client-spiffe"
    user = sys.argv[7] if len(sys.argv) > 7 else ("billing" if proto == "pg" else "billing_rw")
    conns = []
    query = "SELECT bid FROM pgbench_branches LIMIT 1" if proto == "pg" else "SELECT id FROM sbtest1 LIMIT 1"
    if proto == "pg":
        import psycopg2

        for _ in range(count):
            c = psycopg2.connect(host=host, port=port, user=user, dbname="shop", sslmode="verify-full",
                                 sslrootcert=f"{pki}/ca.crt", sslcert=f"{pki}/{cert}.crt", sslkey=f"{pki}/{cert}.key")
            c.autocommit = True
            with c.cursor() as cur:
                cur.execute(query)
                cur.fetchall()
            conns.append(c)
    else:
        import pymysql

        ssl = {"ca": f"{pki}/ca.crt", "cert": f"{pki}/{cert}.crt", "key": f"{pki}/{cert}.key"}
        for _ in range(count):
            c = pymysql.connect(host=host, port=port, user=user, password=os.environ.get("BP_MYSQL_PASSWORD", ""),
                                database="shop", ssl=ssl, autocommit=True)
            with c.cursor() as cur:
                cur.execute(query)
                cur.fetchall()
            conns.append(c)
    print(f"ready {len(conns)}", flush=True)
    if os.environ.get("IDLE_SESSIONS_RECHECK") == "1":
        for c in conns:
            with c.cursor() as cur:
                cur.execute(query)
                if not cur.fetchall():
                    raise RuntimeError("a recheck query returned no row")
        print(f"rechecked {len(conns)}", flush=True)
    sys.stdin.read()
    for c in conns:
        c.close()


if __name__ == "__main__":
    main()
