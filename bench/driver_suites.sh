#!/usr/bin/env bash
# Upstream driver test suites, direct vs through segproxy (issue 12, "Transparency").
# Fetches nothing: SUITES_DIR holds third-party test files copied by hand (never into
# this repository):
#   SUITES_DIR/psycopg2/tests/   psycopg/psycopg2 tests/ (testconfig.py, testutils.py,
#                                test_*.py; tests/__init__.py may be an empty file)
#   SUITES_DIR/pymysql/pymysql_tests/  PyMySQL/PyMySQL pymysql/tests/ (base.py, test_*.py)
#   SUITES_DIR/node-postgres/          brianc/node-postgres packages/pg: test/ (test-helper.js,
#                                suite.js, cli.js, buffer-list.js, integration/**/*-tests.js) and
#                                script/create-test-tables.js; `npm install pg@8.16.0 async@2.6.4
#                                bluebird@3.7.2 co@4.6.0 pg-copy-streams@0.3.0` run in that
#                                directory and `lib -> node_modules/pg/lib` (the tests require
#                                ../lib). Node.js 20.
# The drivers are Debian's: python3-psycopg2 2.9.5, python3-pymysql 1.0.2, run with
# /usr/bin/python3 (-m unittest for psycopg2, -m pytest for PyMySQL).
#
# usage: bench/driver_suites.sh SUITES_DIR {psycopg2|pymysql|node-postgres} {direct|proxy}
#        bench/driver_suites.sh SUITES_DIR node-postgres proxy-config PORT
#          (prints a segproxy config listening on PORT whose segment for the client-spiffe
#          identity allows SUITE_DB_NODEPG; start segproxy with it, then run `proxy`)
#   environment: the testenv (source DIR/env.sh), SUITE_USER_PG / SUITE_USER_MY /
#   SUITE_PASSWORD (a login that owns the suites' databases: psycopg2_test, test1, test2),
#   SUITE_PROXY_PGPORT / SUITE_PROXY_MYPORT (a running segproxy whose segment for the
#   client-spiffe identity allows those databases; see bench/RESULTS.md "Session 7");
#   SUITE_MY_SQL_MODE (e.g. ANSI) opens every PyMySQL connection in that sql_mode.
#   bench/driver_suites_env.sh SUITES_DIR up creates that login and databases, starts such a
#   segproxy and writes SUITES_DIR/proxy/env.sh with these variables (source it).
#   node-postgres: SUITE_DB_NODEPG (default node_pg_test, owned by SUITE_USER_PG),
#   SUITE_PROXY_PGPORT; SUITE_OUT (default SUITES_DIR/node-postgres-TARGET.out) keeps each
#   file's output.
# Prints the runner's summary line (counts of passed/failed/errors/skipped); for
# node-postgres one line per file (rc, tests passed) and the totals. Its runner stops a
# file at its first failing test (test/suite.js exits), so a failing file counts one
# failure and its later tests do not run.
set -euo pipefail
[[ $# -ge 3 ]] || { echo "usage: $0 SUITES_DIR {psycopg2|pymysql|node-postgres} {direct|proxy}" >&2; exit 2; }
suites="$1" suite="$2" target="$3"
pki="${SEGPROXY_TEST_PKI:?source the testenv env.sh first}"
py=/usr/bin/python3
case "$suite:$target" in
  psycopg2:direct | psycopg2:proxy)
    if [[ $target == direct ]]; then
      port="$SEGPROXY_TEST_PGPORT"
      extra="sslmode=verify-full sslrootcert=$pki/ca.crt"
      export PSYCOPG2_TESTDB_USER="${SUITE_USER_PG:?}" PSYCOPG2_TESTDB_PASSWORD="${SUITE_PASSWORD:?}"
    else
      port="${SUITE_PROXY_PGPORT:?}"
      extra="sslmode=verify-full sslrootcert=$pki/ca.crt sslcert=$pki/client-spiffe.crt sslkey=$pki/client-spiffe.key"
      export PSYCOPG2_TESTDB_USER="${SUITE_USER_PG:?}"
      unset PSYCOPG2_TESTDB_PASSWORD
    fi
    export PSYCOPG2_TESTDB=psycopg2_test PSYCOPG2_TESTDB_HOST=localhost PSYCOPG2_TESTDB_PORT="$port"
    export PSYCOPG2_TESTDB_EXTRA="$extra" PSYCOPG2_TEST_FAST="${PSYCOPG2_TEST_FAST:-}"
    cd "$suites/psycopg2"
    mods=()
    for f in tests/test_*.py; do m="${f%.py}"; mods+=("${m//\//.}"); done
    "$py" -m unittest "${mods[@]}" 2>&1 | tail -n "${SUITE_TAIL:-400}"
    ;;
  pymysql:direct | pymysql:proxy)
    if [[ $target == direct ]]; then
      port="$SEGPROXY_TEST_MYPORT" cert=null key=null
    else
      port="${SUITE_PROXY_MYPORT:?}" cert="\"$pki/client-spiffe.crt\"" key="\"$pki/client-spiffe.key\""
    fi
    ssl="{\"ca\": \"$pki/ca.crt\", \"cert\": $cert, \"key\": $key}"
    ssl="${ssl//\"cert\": null, /}"; ssl="${ssl//, \"key\": null/}"
    one() { # db extra-json
      printf '{"host": "127.0.0.1", "port": %s, "user": "%s", "password": "%s", "database": "%s", "ssl": %s%s}' \
        "$port" "${SUITE_USER_MY:?}" "${SUITE_PASSWORD:?}" "$1" "$ssl" "$2"
    }
    mode=""  # SUITE_MY_SQL_MODE=ANSI: every connection in that sql_mode (issue 12: lexing by sql_mode)
    [[ -z "${SUITE_MY_SQL_MODE:-}" ]] || mode=", \"sql_mode\": \"$SUITE_MY_SQL_MODE\""
    printf '[%s, %s]\n' "$(one test1 ", \"use_unicode\": true, \"local_infile\": true$mode")" "$(one test2 "$mode")" \
      >"$suites/pymysql/pymysql_tests/databases.json"
    cd "$suites/pymysql"
    "$py" -m pytest -q -p no:cacheprovider pymysql_tests 2>&1 | tail -n "${SUITE_TAIL:-400}"
    ;;
  node-postgres:proxy-config)
    port="${4:?PORT}"
    cat <<YAML
log: {level: info}
listeners:
  - name: pg-main
    protocol: postgres
    listen: 127.0.0.1:$port
    tls: {cert: "$pki/server.crt", key: "$pki/server.key", client_ca: "$pki/ca.crt"}
    backend:
      host: ${SEGPROXY_TEST_PGHOST:-127.0.0.1}
      port: $SEGPROXY_TEST_PGPORT
      tls: {mode: verify-full, ca: "$pki/ca.crt", server_name: localhost}
identities:
  - match: {spiffe_id: "spiffe://example.org/ns/billing/*"}
    segment: suites
segments:
  suites:
    databases: [${SUITE_DB_NODEPG:-node_pg_test}]
    credentials:
      pg-main: {user: ${SUITE_USER_PG:?}, password_env: SUITE_PASSWORD}
    catalog: metadata
    rules:
      - {id: everything, tables: ["*.*"], allow: [all]}
      - {id: activity, tables: [pg_catalog.pg_stat_activity], allow: [select]}
    statements: [transaction, session_safe, ddl, admin, procedural, anonymous_code, notify, prepare, cursor, explain, large_objects]
    functions: {allow: ["*"]}
limits: {handshake_timeout: 5s, startup_timeout: 10s}
YAML
    ;;
  node-postgres:direct | node-postgres:proxy)
    dir="$suites/node-postgres"
    export PGHOST=localhost PGUSER="${SUITE_USER_PG:?}" PGDATABASE="${SUITE_DB_NODEPG:-node_pg_test}"
    export PGSSLMODE=verify-full NODE_EXTRA_CA_CERTS="$pki/ca.crt"
    # tls-tests.js (upstream's client-certificate test) and psql (gh-issues/130) read these.
    export PG_CLIENT_CERT_TEST=1 PGSSLROOTCERT="$pki/ca.crt"
    export PGSSLCERT="$pki/client-spiffe.crt" PGSSLKEY="$pki/client-spiffe.key"
    if [[ $target == direct ]]; then
      export PGPORT="$SEGPROXY_TEST_PGPORT" PGPASSWORD="${SUITE_PASSWORD:?}"
      unset NODEPG_SSLCERT NODEPG_SSLKEY NODE_OPTIONS
    else
      export PGPORT="${SUITE_PROXY_PGPORT:?}"
      unset PGPASSWORD
      export NODEPG_SSLCERT="$PGSSLCERT" NODEPG_SSLKEY="$PGSSLKEY"
      bench_dir="$(cd "$(dirname "$0")" && pwd)"
      export NODE_OPTIONS="--require $bench_dir/lib/nodepg_client_cert.js"
    fi
    # Upstream's runner gives each test 5 s (test/suite.js; the copy reads TEST_TIMEOUT,
    # as test-helper.js's assert.calls does): generous here, the machine may be loaded.
    export TEST_TIMEOUT="${TEST_TIMEOUT:-30000}"
    out="${SUITE_OUT:-$suites/node-postgres-$target.out}"
    rm -rf "$out" && mkdir -p "$out"
    cd "$dir"
    node script/create-test-tables.js >"$out/create-test-tables.log" 2>&1 ||
      { echo "create-test-tables failed:"; cat "$out/create-test-tables.log"; exit 1; }
    files=0 failed=0 passed=0
    while IFS= read -r f; do
      log="$out/$(echo "$f" | tr / _).log"
      rc=0
      timeout "${SUITE_FILE_TIMEOUT:-180}" node "$f" >"$log" 2>&1 </dev/null || rc=$?
      base="$(basename "$f")"
      # Suite tests print one line ending in the check mark; global test() calls print
      # one '.' each after the file name on its first line.
      ok=$(grep -c '✔$' "$log" || true)
      dots=$(grep -m1 "^$base" "$log" | sed "s/^$base//" | tr -cd '.' | wc -c)
      ok=$((ok + dots))
      # A file that defines no test (a plain script) and exits 0 is one passing test.
      [[ $rc -ne 0 || $ok -ne 0 ]] || ok=1
      files=$((files + 1)) passed=$((passed + ok))
      if [[ $rc -ne 0 ]]; then
        failed=$((failed + 1))
        printf '%-70s rc=%-3s passed=%-3s FAILED: %s\n' "$f" "$rc" "$ok" \
          "$(grep -v '^\s*$' "$log" | grep -m1 -E 'FAILED|Error|error|did not complete' | cut -c1-160)"
      else
        printf '%-70s rc=0   passed=%s\n' "$f" "$ok"
      fi
    done < <(find test/integration -name '*-tests.js' | LC_ALL=C sort)
    echo "node-postgres $target: files=$files files_failed=$failed tests_passed=$passed tests_failed=$failed (outputs: $out)"
    ;;
  *) echo "unknown suite/target: $suite $target" >&2; exit 2 ;;
esac
