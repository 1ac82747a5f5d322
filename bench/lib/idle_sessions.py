#!/usr/bin/python3
"""Holds COUNT idle TLS sessions open through a proxy, each after one query.

Usage: idle_sessions.py pg|mysql HOST PORT COUNT PKI_DIR [CERT_NAME [USER]]
Prints "ready <count>" once every session ran its query, then waits until stdin
closes and closes them. The MySQL password comes from BP_MYSQL_PASSWORD (never argv).
Used by bench/hot_path.sh (RSS per idle session); Debian's python3-psycopg2 and
python3-pymysql.
"""
import os
import sys


def main():
    proto, host, port, count, pki = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    cert = sys.argv[6] if len(sys.argv) > 6 else "client-spiffe"
    user = sys.argv[7] if len(sys.argv) > 7 else ("billing" if proto == "pg" else "billing_rw")
    conns = []
    if proto == "pg":
        import psycopg2

        for _ in range(count):
            c = psycopg2.connect(host=host, port=port, user=user, dbname="shop", sslmode="verify-full",
                                 sslrootcert=f"{pki}/ca.crt", sslcert=f"{pki}/{cert}.crt", sslkey=f"{pki}/{cert}.key")
            c.autocommit = True
            with c.cursor() as cur:
                cur.execute("SELECT bid FROM pgbench_branches LIMIT 1")
                cur.fetchall()
            conns.append(c)
    else:
        import pymysql

        ssl = {"ca": f"{pki}/ca.crt", "cert": f"{pki}/{cert}.crt", "key": f"{pki}/{cert}.key"}
        for _ in range(count):
            c = pymysql.connect(host=host, port=port, user=user, password=os.environ.get("BP_MYSQL_PASSWORD", ""),
                                database="shop", ssl=ssl, autocommit=True)
            with c.cursor() as cur:
                cur.execute("SELECT id FROM sbtest1 LIMIT 1")
                cur.fetchall()
            conns.append(c)
    print(f"ready {len(conns)}", flush=True)
    sys.stdin.read()
    for c in conns:
        c.close()


if __name__ == "__main__":
    main()
