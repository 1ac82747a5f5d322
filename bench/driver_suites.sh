#!/usr/bin/env bash
# Upstream driver test suites, direct vs through segproxy (issue 12, "Transparency").
# Fetches nothing: SUITES_DIR holds third-party test files copied by hand (never into
# this repository):
#   SUITES_DIR/psycopg2/tests/   psycopg/psycopg2 tests/ (testconfig.py, testutils.py,
#                                test_*.py; tests/__init__.py may be an empty file)
#   SUITES_DIR/pymysql/pymysql_tests/  PyMySQL/PyMySQL pymysql/tests/ (base.py, test_*.py)
# The drivers are Debian's: python3-psycopg2 2.9.5, python3-pymysql 1.0.2, run with
# /usr/bin/python3 (-m unittest for psycopg2, -m pytest for PyMySQL).
#
# usage: bench/driver_suites.sh SUITES_DIR {psycopg2|pymysql} {direct|proxy}
#   environment: the testenv (source DIR/env.sh), SUITE_USER_PG / SUITE_USER_MY /
#   SUITE_PASSWORD (a login that owns the suites' databases: psycopg2_test, test1, test2),
#   SUITE_PROXY_PGPORT / SUITE_PROXY_MYPORT (a running segproxy whose segment for the
#   client-spiffe identity allows those databases; see bench/RESULTS.md "Session 7");
#   SUITE_MY_SQL_MODE (e.g. ANSI) opens every PyMySQL connection in that sql_mode.
#   bench/driver_suites_env.sh SUITES_DIR up creates that login and databases, starts such a
#   segproxy and writes SUITES_DIR/proxy/env.sh with these variables (source it).
# Prints the runner's summary line (counts of passed/failed/errors/skipped).
set -euo pipefail
[[ $# -eq 3 ]] || { echo "usage: $0 SUITES_DIR {psycopg2|pymysql} {direct|proxy}" >&2; exit 2; }
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
  *) echo "unknown suite/target: $suite $target" >&2; exit 2 ;;
esac
