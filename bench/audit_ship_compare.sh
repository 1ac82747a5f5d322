#!/usr/bin/env bash
# Cost of shipping the audit log to the central store (issue 17, docs/audit.md "Central
# store"): pgbench -S through an audited segproxy with audit.ship off and on, interleaved
# rounds, same log settings. The store is a database in the same test PostgreSQL, so on a
# small machine the shipper's COPYs compete with pgbench's backends: take figures on a
# quiet host with cores to spare. Goal from the issue: >= 20,000 records/s shipped for
# <= 5 % TPS. Not part of CI. See bench/README.md.
#
# Env: BENCH_SECONDS (20) per run, BENCH_ROUNDS (3), BENCH_CLIENTS (16), BENCH_SCALE (10),
#      BENCH_SKIP_BUILD=1, SEGPROXY_BUILD_DIR, SEGPROXY_KEEP_TESTENV=1.
set -euo pipefail

export SP_LOG_TAG=bench
# shellcheck source-path=SCRIPTDIR source=../scripts/lib/testenv.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/testenv.sh"
cd "$SEGPROXY_REPO_ROOT"

seconds="${BENCH_SECONDS:-20}"
rounds="${BENCH_ROUNDS:-3}"
clients="${BENCH_CLIENTS:-16}"
scale="${BENCH_SCALE:-10}"
for v in "$seconds" "$rounds" "$clients" "$scale"; do
  [[ "$v" =~ ^[0-9]+$ ]] || sp_die "BENCH_SECONDS, BENCH_ROUNDS, BENCH_CLIENTS and BENCH_SCALE must be integers"
done

bench_dir=""
proxy_pid=""

# shellcheck disable=SC2317 # invoked by trap
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n "$proxy_pid" ]]; then sp_stop_pid "$proxy_pid" 10; fi
  if [[ -n "$bench_dir" ]]; then testenv_down "$bench_dir" || true; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$SEGPROXY_REPO_ROOT/scripts/deps.sh"
if [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then "$SEGPROXY_REPO_ROOT/scripts/build.sh" Release; fi
proxy_bin="$(sp_build_dir)/bin/segproxy"
ctl_bin="$(sp_build_dir)/bin/segproxyctl"
[[ -x "$proxy_bin" && -x "$ctl_bin" ]] || sp_die "build segproxy and segproxyctl first"
pgbench_bin="$(sp_pg_bindir)/pgbench"
[[ -x "$pgbench_bin" ]] || pgbench_bin="$(command -v pgbench)"

bench_dir="$(mktemp -d /tmp/segproxy-bench.XXXXXX)"
chmod 0755 "$bench_dir"
SEGPROXY_TESTENV_ETCD=0 testenv_up "$bench_dir"
pki="$SEGPROXY_TEST_PKI"
pg_port="$SEGPROXY_TEST_PGPORT"
sock="$SEGPROXY_TEST_PGSOCKDIR"
su_conn() { printf 'host=%s port=%s user=postgres dbname=%s sslmode=disable' "$sock" "$pg_port" "$1"; }

# The store: its own database and shipping role.
psql -X -q -v ON_ERROR_STOP=1 "$(su_conn postgres)" -c 'CREATE DATABASE audit_bench' >/dev/null
(umask 077 && openssl rand -hex 24 >"$bench_dir/ship.pw")
"$ctl_bin" audit store init --postgres "$(su_conn audit_bench)" --shipper-role bench_shipper \
  --shipper-password-file "$bench_dir/ship.pw" >/dev/null

proxy_port=""
sp_pick_port proxy_port 16432
myproxy_port=""
sp_pick_port myproxy_port 16306
# config MODE (off|on): the demo mapping, backend TLS off, audit on (group commit).
write_config() {
  local mode="$1" out="$bench_dir/segproxy-$1.yaml"
  sed -e "s/@PROXY_PORT@/$proxy_port/g" -e "s/@PG_PORT@/$pg_port/g" \
    -e "s/@MYPROXY_PORT@/$myproxy_port/g" -e "s/@MY_PORT@/$SEGPROXY_TEST_MYPORT/g" \
    -e 's/^\([[:space:]]*\)tls: {mode: verify-full[^}]*}.*$/\1tls: {mode: disable}/' \
    -e '/^admin:/d' -e '/^metrics:/d' -e '/^audit:/d' \
    "$SEGPROXY_REPO_ROOT/config/examples/demo.yaml" >"$out"
  {
    printf 'log:\n  level: warn\n'
    printf 'audit:\n  dir: "%s/audit-%s"\n  instance: bench-%s\n  durability: group\n' "$bench_dir" "$mode" "$mode"
    if [[ "$mode" == on ]]; then
      printf '  ship:\n    postgres: {host: 127.0.0.1, port: %s, dbname: audit_bench, user: bench_shipper, ' "$pg_port"
      printf 'password_file: "%s/ship.pw", tls: {mode: verify-full, ca: "%s/ca.crt"}}\n' "$bench_dir" "$pki"
      printf '    batch: 5000\n    interval: 200ms\n'
    fi
  } >>"$out"
  "$proxy_bin" --check-config "$out" >/dev/null
}
write_config off
write_config on

start_proxy() {
  "$proxy_bin" --config "$bench_dir/segproxy-$1.yaml" >>"$bench_dir/segproxy-$1.log" 2>&1 &
  proxy_pid=$!
  sp_wait_port "$proxy_port" 30 "$proxy_pid" || sp_die "segproxy did not listen (see $bench_dir/segproxy-$1.log)"
}
stop_proxy() {
  sp_stop_pid "$proxy_pid" 10
  proxy_pid=""
}
proxy_conn() {
  printf 'host=localhost port=%s user=billing dbname=shop sslmode=verify-full sslrootcert=%s sslcert=%s sslkey=%s' \
    "$proxy_port" "$pki/ca.crt" "$pki/client-spiffe.crt" "$pki/client-spiffe.key"
}
shipped() { psql -X -At "$(su_conn audit_bench)" -c "SELECT count(*) FROM segproxy_audit.records"; }

sp_log "pgbench -i -s $scale (direct)"
PGPASSWORD="$(cat "$SEGPROXY_TEST_SECRETS/billing_rw.pw")" "$pgbench_bin" -i -q -s "$scale" \
  "host=127.0.0.1 port=$pg_port user=billing_rw dbname=shop sslmode=disable" >"$bench_dir/init.log" 2>&1 ||
  sp_die "pgbench -i failed (see $bench_dir/init.log)"

raw="$bench_dir/raw.tsv"
: >"$raw"
j=$((clients < 2 ? clients : 2))
for ((r = 1; r <= rounds; r++)); do
  for mode in off on; do
    start_proxy "$mode"
    before="$(shipped)"
    log="$bench_dir/run-$mode-r$r.log"
    sp_log "round $r/$rounds: shipping $mode, $clients client(s), ${seconds}s"
    timeout --kill-after=10 "$((seconds + 120))" "$pgbench_bin" -n -S -M extended -c "$clients" -j "$j" \
      -T "$seconds" "$(proxy_conn)" >"$log" 2>&1 || { tail -n 20 "$log" >&2; sp_die "pgbench failed"; }
    after="$(shipped)"
    stop_proxy
    tps="$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$log" | head -n1)"
    rate="$(awk -v a="$after" -v b="$before" -v s="$seconds" 'BEGIN { printf "%.0f", (a - b) / s }')"
    printf '%s\t%s\t%s\t%s\n' "$mode" "$r" "$tps" "$rate" >>"$raw"
  done
done

median() {
  awk -F'\t' -v m="$1" -v col="$2" '$1 == m { print $col }' "$raw" | sort -g |
    awk '{ v[NR] = $1 } END { if (NR % 2) printf "%.1f\n", v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
off_tps="$(median off 3)"
on_tps="$(median on 3)"
printf '# audit shipping cost: pgbench -S -M extended, %s clients, %s s x %s rounds (median)\n\n' "$clients" "$seconds" "$rounds"
printf '| shipping | TPS | records shipped/s |\n|---|---:|---:|\n'
printf '| off | %s | - |\n| on | %s | %s |\n\n' "$off_tps" "$on_tps" "$(median on 4)"
awk -v a="$on_tps" -v b="$off_tps" 'BEGIN { printf "TPS cost of shipping: %.1f %%\n", (1 - a / b) * 100 }'
printf '\nraw (mode, round, tps, shipped/s during the run):\n'
cat "$raw"
