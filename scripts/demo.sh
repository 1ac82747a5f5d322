#!/usr/bin/env bash
# segproxy demo: a private PostgreSQL 15 and MariaDB with demo roles/data, a demo PKI
# and the proxy in front of both, all under <repo>/.demo/. Ctrl-C stops the proxy and
# the servers (the files in .demo/ are kept; the next run recreates them).
# Builds only what it runs (targets segproxy and segproxyctl; compiler output goes to
# <build>/demo-build.log) and prints one progress line per step.
# Usage: scripts/demo.sh          Env: SEGPROXY_BUILD_DIR, SEGPROXY_DEMO_SKIP_BUILD=1
set -euo pipefail

export SP_LOG_TAG=demo
# shellcheck source-path=SCRIPTDIR source=lib/testenv.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/testenv.sh"
cd "$SEGPROXY_REPO_ROOT"

demo_dir="$SEGPROXY_REPO_ROOT/.demo"
proxy_pid=""

# shellcheck disable=SC2317 # invoked by trap
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n "$proxy_pid" ]]; then
    sp_log "stopping segproxy"
    sp_stop_pid "$proxy_pid" 10
  fi
  rm -f "$demo_dir/segproxy.pid"
  sp_log "stopping PostgreSQL and MariaDB"
  testenv_stop "$demo_dir" || true
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# shellcheck source-path=SCRIPTDIR source=lib/demo_build.sh
source "$SEGPROXY_REPO_ROOT/scripts/lib/demo_build.sh"
build_dir="$(sp_build_dir)"
demo_build "$build_dir"
bin="$(sp_build_dir)/bin/segproxy"
[[ -x "$bin" ]] || sp_die "$bin not found; build failed?"

# A proxy left over from an earlier run that was killed hard.
if [[ -f "$demo_dir/segproxy.pid" ]]; then
  old="$(cat "$demo_dir/segproxy.pid")"
  if [[ "$old" =~ ^[0-9]+$ ]] && [[ "$(ps -o comm= -p "$old" 2>/dev/null)" == segproxy* ]]; then
    sp_log "stopping segproxy left running by an earlier demo (pid $old)"
    sp_stop_pid "$old" 10
  fi
  rm -f "$demo_dir/segproxy.pid"
fi

step 3 "starting a private PostgreSQL 15 and MariaDB with demo data and PKI in $demo_dir"
SEGPROXY_TESTENV_ETCD=0 testenv_up "$demo_dir" 2>"$build_dir/demo-testenv.log" || sp_die "starting the servers failed; see $build_dir/demo-testenv.log"
pg_port="$SEGPROXY_TEST_PGPORT"
my_port="$SEGPROXY_TEST_MYPORT"
proxy_port=""
sp_pick_port proxy_port 6432
myproxy_port=""
sp_pick_port myproxy_port 3307
metrics_port=""
sp_pick_port metrics_port 9187

sed -e "s/@PROXY_PORT@/$proxy_port/g" -e "s/@PG_PORT@/$pg_port/g" -e "s/@METRICS_PORT@/$metrics_port/g" \
  -e "s/@MYPROXY_PORT@/$myproxy_port/g" -e "s/@MY_PORT@/$my_port/g" \
  "$SEGPROXY_REPO_ROOT/config/examples/demo.yaml" >"$demo_dir/segproxy.yaml"
"$bin" --check-config "$demo_dir/segproxy.yaml" >/dev/null

step 4 "starting segproxy on 127.0.0.1:$proxy_port (PostgreSQL on 127.0.0.1:$pg_port) and 127.0.0.1:$myproxy_port (MariaDB on 127.0.0.1:$my_port)"
"$bin" --config "$demo_dir/segproxy.yaml" &
proxy_pid=$!
printf '%s\n' "$proxy_pid" >"$demo_dir/segproxy.pid"
if ! sp_wait_port "$proxy_port" 30 "$proxy_pid"; then
  kill -0 "$proxy_pid" 2>/dev/null || proxy_pid=""
  sp_die "segproxy did not start listening on port $proxy_port within 30s"
fi
sp_wait_port "$myproxy_port" 30 "$proxy_pid" || sp_die "segproxy did not start listening on port $myproxy_port within 30s"

pki="$demo_dir/pki"
step 5 "ready"
cat <<MSG

segproxy demo is running (Ctrl-C stops segproxy, PostgreSQL and MariaDB).

  # segment "billing" (SPIFFE id spiffe://example.org/ns/billing/sa/api -> backend role billing_rw)
  psql "host=localhost port=$proxy_port dbname=shop user=billing sslmode=verify-full sslrootcert=$pki/ca.crt sslcert=$pki/client-spiffe.crt sslkey=$pki/client-spiffe.key"

  # segment "reporting" (CN=reporting-job -> backend role reporting_ro, read only)
  psql "host=localhost port=$proxy_port dbname=shop user=reporting sslmode=verify-full sslrootcert=$pki/ca.crt sslcert=$pki/client-cn.crt sslkey=$pki/client-cn.key"

  try: SELECT * FROM orders;   INSERT INTO orders (customer, amount) VALUES ('demo', 1);

  # the same segment through the MySQL protocol (MariaDB; the user name is ignored: the
  # certificate is the identity)
  mariadb --protocol=tcp -h 127.0.0.1 -P $myproxy_port -u billing --ssl --ssl-ca=$pki/ca.crt --ssl-cert=$pki/client-spiffe.crt --ssl-key=$pki/client-spiffe.key shop

  try: SELECT * FROM orders;   SELECT * FROM customers_pii;   (the second is refused)

  # operator view (admin socket) and metrics
  $(dirname "$bin")/segproxyctl --socket $demo_dir/admin.sock sessions
  $(dirname "$bin")/segproxyctl --socket $demo_dir/admin.sock revoke --identity reporting-job --reason demo --ttl 2m
  curl -s http://127.0.0.1:$metrics_port/metrics | grep segproxy_statements_total

MSG

rc=0
wait "$proxy_pid" || rc=$?
proxy_pid=""
sp_log "segproxy exited with status $rc"
exit "$rc"
