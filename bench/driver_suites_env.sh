#!/usr/bin/env bash
# Databases, users and a segproxy for bench/driver_suites.sh (issue 12, "Transparency").
#
# usage: bench/driver_suites_env.sh SUITES_DIR {up|down}
#   up:   in the testenv's servers (source DIR/env.sh first) create the suites' login
#         with a random password (PostgreSQL: suite_pg owning database psycopg2_test;
#         MariaDB: suite_my with ALL on test1, test2 and the global privileges the PyMySQL
#         suite reads: PROCESS for SHOW PROCESSLIST), write SUITES_DIR/proxy/segproxy.yaml
#         (one segment for the testenv's client-spiffe identity, see bench/RESULTS.md
#         "Session 8"), start $SEGPROXY_BIN on two free ports and write
#         SUITES_DIR/proxy/env.sh with the SUITE_* variables bench/driver_suites.sh reads.
#   down: stop that segproxy (by the pid it wrote).
# The password is generated here and never printed (SUITES_DIR/proxy/suite.pw, 0600).
set -euo pipefail
[[ $# -eq 2 ]] || { echo "usage: $0 SUITES_DIR {up|down}" >&2; exit 2; }
suites="$(cd "$1" && pwd)" action="$2"
p="$suites/proxy"
case "$action" in
  down)
    if [[ -f "$p/pid" ]] && kill -0 "$(cat "$p/pid")" 2>/dev/null; then
      kill "$(cat "$p/pid")"
      for _ in $(seq 1 100); do kill -0 "$(cat "$p/pid")" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$p/pid"
    exit 0 ;;
  up) ;;
  *) echo "unknown action: $action" >&2; exit 2 ;;
esac
: "${SEGPROXY_TEST_PKI:?source the testenv env.sh first}" "${SEGPROXY_BIN:?}"
mkdir -p "$p" "$p/audit"
umask 077
[[ -s "$p/suite.pw" ]] || head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' >"$p/suite.pw"
pw="$(cat "$p/suite.pw")"
umask 022
psql=("$SEGPROXY_TEST_PGBINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$SEGPROXY_TEST_PGSOCKDIR"
      -p "$SEGPROXY_TEST_PGPORT" -U "$SEGPROXY_TEST_PGSUPERUSER" -d postgres)
"${psql[@]}" -v pw="$pw" <<'SQL'
SELECT format('CREATE ROLE suite_pg LOGIN PASSWORD %L', :'pw') WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'suite_pg') \gexec
SELECT format('ALTER ROLE suite_pg PASSWORD %L', :'pw') \gexec
SELECT 'CREATE DATABASE psycopg2_test OWNER suite_pg' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'psycopg2_test') \gexec
SQL
mysql=(mariadb --protocol=socket -S "$SEGPROXY_TEST_MYSOCK" -u "$SEGPROXY_TEST_MYSUPERUSER")
"${mysql[@]}" <<SQL
CREATE DATABASE IF NOT EXISTS test1 DEFAULT CHARACTER SET utf8mb4;
CREATE DATABASE IF NOT EXISTS test2 DEFAULT CHARACTER SET utf8mb4;
CREATE USER IF NOT EXISTS 'suite_my'@'%' IDENTIFIED BY '$pw';
ALTER USER 'suite_my'@'%' IDENTIFIED BY '$pw';
GRANT ALL ON test1.* TO 'suite_my'@'%';
GRANT ALL ON test2.* TO 'suite_my'@'%';
GRANT PROCESS ON *.* TO 'suite_my'@'%';
SQL
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pgport="$(free_port)" myport="$(free_port)"
pki="$SEGPROXY_TEST_PKI"
cat >"$p/segproxy.yaml" <<YAML
listeners:
  - name: pg-main
    protocol: postgres
    listen: 127.0.0.1:$pgport
    tls: {cert: $pki/server.crt, key: $pki/server.key, client_ca: $pki/ca.crt}
    backend:
      host: 127.0.0.1
      port: $SEGPROXY_TEST_PGPORT
      tls: {mode: verify-full, ca: $pki/ca.crt, server_name: localhost}
  - name: my-main
    protocol: mysql
    listen: 127.0.0.1:$myport
    tls: {cert: $pki/server.crt, key: $pki/server.key, client_ca: $pki/ca.crt}
    backend:
      host: 127.0.0.1
      port: $SEGPROXY_TEST_MYPORT
      tls: {mode: verify-full, ca: $pki/ca.crt, server_name: localhost}
identities:
  - match: {spiffe_id: "spiffe://example.org/ns/billing/*"}
    segment: suites
segments:
  suites:
    databases: [psycopg2_test, test1, test2]
    credentials:
      pg-main: {user: suite_pg, password_file: suite.pw}
      my-main: {user: suite_my, password_file: suite.pw}
    catalog: metadata
    rules:
      - {id: pg-all, tables: ["public.*", "typens.*", "rs.*"], allow: [all]}  # the schemas psycopg2's tests create
      - {id: pg-2pc, tables: ["pg_catalog.pg_prepared_xacts"], allow: [select]}  # tpc_recover(): outside the metadata list
      - {id: my-test1, tables: ["test1.*"], allow: [all]}
      - {id: my-test2, tables: ["test2.*"], allow: [all]}
    statements: [transaction, session_safe, ddl, admin, procedural, notify, prepare, cursor, explain, large_objects, anonymous_code]
    functions: {allow: ["*", "*.*"]}  # "*.*": schema-qualified calls too (pg_temp functions of test_cursor)
audit: {dir: audit}
log:
  level: warn
YAML
"$0" "$suites" down
(cd "$p" && exec "$SEGPROXY_BIN" --config segproxy.yaml >>"$p/segproxy.log" 2>&1) &
echo $! >"$p/pid"
for _ in $(seq 1 300); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$pgport") 2>/dev/null && (exec 3<>"/dev/tcp/127.0.0.1/$myport") 2>/dev/null; then
    break
  fi
  kill -0 "$(cat "$p/pid")" 2>/dev/null || { echo "segproxy exited; see $p/segproxy.log" >&2; exit 1; }
  sleep 0.1
done
cat >"$p/env.sh" <<ENV
export SUITE_USER_PG=suite_pg SUITE_USER_MY=suite_my
export SUITE_PASSWORD="\$(cat $p/suite.pw)"
export SUITE_PROXY_PGPORT=$pgport SUITE_PROXY_MYPORT=$myport
ENV
echo "segproxy pid $(cat "$p/pid") on pg $pgport, mysql $myport; source $p/env.sh"
