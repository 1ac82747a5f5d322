#!/usr/bin/env bash
# segproxy fleet demo (issue 16, docs/fleet.md): a private PostgreSQL 15 and MariaDB, a
# three-member etcd 3.4 cluster (TLS, client certificates) and three segproxy instances
# (proxy-a, proxy-b, proxy-c) sharing one control plane, all on loopback under
# <repo>/.demo-fleet/. Prints the commands to try (a revoke on one instance ends the
# sessions on all three). Ctrl-C stops the proxies and the servers.
# Usage: scripts/demo-fleet.sh     Env: SEGPROXY_BUILD_DIR, SEGPROXY_DEMO_SKIP_BUILD=1
set -euo pipefail

export SP_LOG_TAG=demo-fleet
# shellcheck source-path=SCRIPTDIR source=lib/testenv.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/testenv.sh"
cd "$SEGPROXY_REPO_ROOT"

demo_dir="$SEGPROXY_REPO_ROOT/.demo-fleet"
names=(proxy-a proxy-b proxy-c)
pids=()

# shellcheck disable=SC2317 # invoked by trap
cleanup() {
  local rc=$? pid
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do
    sp_log "stopping segproxy (pid $pid)"
    sp_stop_pid "$pid" 10
  done
  sp_log "stopping PostgreSQL, MariaDB and etcd"
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
bin="$build_dir/bin/segproxy"
ctl="$build_dir/bin/segproxyctl"
[[ -x "$bin" && -x "$ctl" ]] || sp_die "$bin or $ctl not found; build failed?"

step 3 "starting PostgreSQL 15, MariaDB and a three-member etcd cluster in $demo_dir"
testenv_up "$demo_dir" 2>"$build_dir/demo-fleet-testenv.log" ||
  sp_die "starting the servers failed; see $build_dir/demo-fleet-testenv.log"
# shellcheck disable=SC1091 # written by testenv_up
source "$demo_dir/env.sh"
endpoints="${SEGPROXY_TEST_ETCD_ENDPOINTS//,/, }"

step 4 "starting ${names[*]} (one control plane: prefix /segproxy/demo)"
declare -A pg_port my_port metrics_port
for name in "${names[@]}"; do
  dir="$demo_dir/$name"
  mkdir -p "$dir"
  p="" m="" x=""
  sp_pick_port p 6432
  sp_pick_port m 3307
  sp_pick_port x 9187
  pg_port[$name]=$p
  my_port[$name]=$m
  metrics_port[$name]=$x
  sed -e "s/@PROXY_PORT@/$p/g" -e "s/@PG_PORT@/$SEGPROXY_TEST_PGPORT/g" -e "s/@METRICS_PORT@/$x/g" \
    -e "s/@MYPROXY_PORT@/$m/g" -e "s/@MY_PORT@/$SEGPROXY_TEST_MYPORT/g" \
    -e "s#pki/#$demo_dir/pki/#g" -e "s#secrets/#$demo_dir/secrets/#g" \
    "$SEGPROXY_REPO_ROOT/config/examples/demo.yaml" >"$dir/segproxy.yaml"
  cat >>"$dir/segproxy.yaml" <<YAML
# The fleet control plane (docs/fleet.md): revocations travel through etcd.
control_plane:
  etcd:
    endpoints: [$endpoints]
    tls: {ca: "$SEGPROXY_TEST_ETCD_CA", cert: "$SEGPROXY_TEST_ETCD_CERT", key: "$SEGPROXY_TEST_ETCD_KEY"}
    prefix: /segproxy/demo
  instance: $name
  max_staleness: 30s
  on_stale: keep_serving
YAML
  "$bin" --check-config "$dir/segproxy.yaml" >/dev/null
  (cd "$dir" && exec "$bin" --config "$dir/segproxy.yaml" >>"$dir/segproxy.log" 2>&1) &
  pids+=($!)
  sp_wait_port "$p" 30 "${pids[-1]}" || sp_die "$name did not start listening on port $p; see $dir/segproxy.log"
done

pki="$demo_dir/pki"
step 5 "ready"
cat <<MSG

segproxy fleet demo is running: ${names[*]} share the etcd cluster at
$SEGPROXY_TEST_ETCD_ENDPOINTS (Ctrl-C stops everything; logs in $demo_dir/<instance>/segproxy.log).

  # the registry: instances, config drift, applied revision
  $ctl fleet --config $demo_dir/proxy-a/segproxy.yaml

  # one session of segment "billing" on each instance (three terminals)
$(for n in "${names[@]}"; do printf '  psql "host=localhost port=%s dbname=shop user=billing sslmode=verify-full sslrootcert=%s/ca.crt sslcert=%s/client-spiffe.crt sslkey=%s/client-spiffe.key"\n' "${pg_port[$n]}" "$pki" "$pki" "$pki"; done)

  # the same identity through proxy-a's MySQL listener
  mariadb --protocol=tcp -h 127.0.0.1 -P ${my_port[proxy-a]} -u billing --ssl --ssl-ca=$pki/ca.crt --ssl-cert=$pki/client-spiffe.crt --ssl-key=$pki/client-spiffe.key shop

  # revoke on proxy-a: the sessions on all three end, new ones are refused everywhere
  # (add --force when the identity has not connected through proxy-a itself)
  $ctl --socket $demo_dir/proxy-a/admin.sock revoke --identity spiffe://example.org/ns/billing/sa/api --reason demo --ttl 2m
  $ctl --socket $demo_dir/proxy-c/admin.sock revocations
  $ctl --socket $demo_dir/proxy-b/admin.sock unrevoke --identity spiffe://example.org/ns/billing/sa/api

  # staleness (stop the etcd members with: kill \$(cat $demo_dir/etcd/m*.pid); a revoke is then
  # applied locally and queued; restart them with $demo_dir/etcd/m1.run etc.)
  curl -s http://127.0.0.1:${metrics_port[proxy-a]}/metrics | grep control_plane_staleness
  curl -s http://127.0.0.1:${metrics_port[proxy-a]}/readyz

MSG

rc=0
wait -n "${pids[@]}" || rc=$?
sp_log "a segproxy instance exited with status $rc"
exit "$rc"
