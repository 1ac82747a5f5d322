#!/usr/bin/env bash
# PostgreSQL throughput/latency: direct vs PgBouncer 1.18 vs segproxy, in one run on
# one machine, interleaved. Not part of CI. See bench/README.md.
#
# Env: BENCH_SECONDS (20) per pgbench run, BENCH_ROUNDS (2) rounds (median taken),
#      BENCH_CLIENTS ("1 16"), BENCH_SCALE (10), BENCH_TARGETS ("direct pgbouncer segproxy"),
#      BENCH_SKIP_BUILD=1 (use the existing build), BENCH_PROXY_USER (billing),
#      SEGPROXY_BUILD_DIR, SEGPROXY_KEEP_TESTENV=1 (keep the temp directory),
#      BENCH_SEGPROXY_EXTRA_YAML (top-level YAML lines appended to segproxy's config,
#      e.g. "threads: 1").
set -euo pipefail

export SP_LOG_TAG=bench
# shellcheck source-path=SCRIPTDIR source=../scripts/lib/testenv.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/testenv.sh"
cd "$SEGPROXY_REPO_ROOT"

seconds="${BENCH_SECONDS:-20}"
rounds="${BENCH_ROUNDS:-2}"
scale="${BENCH_SCALE:-10}"
read -r -a clients_list <<<"${BENCH_CLIENTS:-1 16}"
read -r -a targets <<<"${BENCH_TARGETS:-direct pgbouncer segproxy}"
proxy_user="${BENCH_PROXY_USER:-billing}"
[[ "$seconds" =~ ^[0-9]+$ && "$rounds" =~ ^[0-9]+$ && "$scale" =~ ^[0-9]+$ ]] ||
  sp_die "BENCH_SECONDS, BENCH_ROUNDS and BENCH_SCALE must be integers"
for t in "${targets[@]}"; do
  case "$t" in direct | pgbouncer | segproxy) ;; *) sp_die "unknown target '$t'" ;; esac
done
want() { [[ " ${targets[*]} " == *" $1 "* ]]; }

bench_dir=""
proxy_pid=""
pgb_port=""
proxy_port=""
pgb_pidfile=""

# shellcheck disable=SC2317 # invoked by trap
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n "$proxy_pid" ]]; then sp_stop_pid "$proxy_pid" 10; fi
  if [[ -n "$pgb_pidfile" && -s "$pgb_pidfile" ]]; then
    sp_stop_pid "$(cat "$pgb_pidfile")" 10
  fi
  if [[ -n "$bench_dir" ]]; then testenv_down "$bench_dir" || true; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$SEGPROXY_REPO_ROOT/scripts/deps.sh"
proxy_bin="$(sp_build_dir)/bin/segproxy"
if want segproxy; then
  if [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then
    "$SEGPROXY_REPO_ROOT/scripts/build.sh" Release
  fi
  [[ -x "$proxy_bin" ]] || sp_die "$proxy_bin not found (build it, or drop segproxy from BENCH_TARGETS)"
fi
pgbench_bin="$(sp_pg_bindir)/pgbench"
[[ -x "$pgbench_bin" ]] || pgbench_bin="$(command -v pgbench)"

bench_dir="$(mktemp -d /tmp/segproxy-bench.XXXXXX)"
chmod 0755 "$bench_dir"
# No etcd (fleet tests only): its members heartbeat every 50 ms and would skew the numbers.
SEGPROXY_TESTENV_ETCD=0 testenv_up "$bench_dir"
pki="$SEGPROXY_TEST_PKI"
pg_port="$SEGPROXY_TEST_PGPORT"
svc_user="$(sp_service_user)"

# ---- PgBouncer: session pooling, client mTLS with cert auth, plain to the server ----
if want pgbouncer; then
  # PgBouncer's auth_type=cert takes the user name from the certificate CN.
  "$SEGPROXY_REPO_ROOT/scripts/gen-certs.sh" --client client-pgbouncer billing_rw "$pki"
  pgb="$bench_dir/pgbouncer"
  mkdir -p "$pgb"
  cp "$pki/server.crt" "$pki/server.key" "$pki/ca.crt" "$pgb/"
  # auth_file: the backend password PgBouncer logs in with (SCRAM); never printed.
  (umask 077 && printf '"billing_rw" "%s"\n' "$(cat "$SEGPROXY_TEST_SECRETS/billing_rw.pw")" >"$pgb/userlist.txt")
  sp_pick_port pgb_port 26432
  cat >"$pgb/pgbouncer.ini" <<INI
[databases]
shop = host=127.0.0.1 port=$pg_port dbname=shop

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $pgb_port
unix_socket_dir =
logfile = $pgb/pgbouncer.log
pidfile = $pgb/pgbouncer.pid
pool_mode = session
max_client_conn = 200
default_pool_size = 40
auth_type = cert
auth_file = $pgb/userlist.txt
client_tls_sslmode = verify-full
client_tls_ca_file = $pgb/ca.crt
client_tls_cert_file = $pgb/server.crt
client_tls_key_file = $pgb/server.key
server_tls_sslmode = disable
ignore_startup_parameters = extra_float_digits
INI
  chown -R "$svc_user" "$pgb"
  chmod 0700 "$pgb"
  chmod 0600 "$pgb"/*
  pgb_pidfile="$pgb/pgbouncer.pid"
  # PgBouncer refuses to run as root: run it as the service user, daemonized.
  sp_as_service pgbouncer -q -d "$pgb/pgbouncer.ini"
  sp_wait_port "$pgb_port" 30 || sp_die "PgBouncer did not listen on $pgb_port (see $pgb/pgbouncer.log)"
  sp_log "PgBouncer $(pgbouncer --version | head -n1 | awk '{print $2}') on 127.0.0.1:$pgb_port"
fi

# ---- segproxy: same demo mapping, backend TLS off (PgBouncer's backend is plain too) ----
if want segproxy; then
  sp_pick_port proxy_port 16432
  # The demo's MySQL listener stays (idle) in front of the environment's MariaDB.
  myproxy_port=""
  sp_pick_port myproxy_port 16306
  sed -e "s/@PROXY_PORT@/$proxy_port/g" -e "s/@PG_PORT@/$pg_port/g" \
    -e "s/@MYPROXY_PORT@/$myproxy_port/g" -e "s/@MY_PORT@/$SEGPROXY_TEST_MYPORT/g" \
    -e 's/^\([[:space:]]*\)tls: {mode: verify-full[^}]*}.*$/\1tls: {mode: disable}/' \
    -e '/^admin:/d' -e '/^metrics:/d' \
    -e '/^audit:/d' \
    "$SEGPROXY_REPO_ROOT/config/examples/demo.yaml" >"$bench_dir/segproxy.yaml"
  grep -q 'tls: {mode: disable}' "$bench_dir/segproxy.yaml" ||
    sp_die "could not switch backend TLS off in the bench config (demo.yaml changed?)"
  printf 'log:\n  level: warn\n' >>"$bench_dir/segproxy.yaml"
  [[ -z "${BENCH_SEGPROXY_EXTRA_YAML:-}" ]] || printf '%s\n' "$BENCH_SEGPROXY_EXTRA_YAML" >>"$bench_dir/segproxy.yaml"
  "$proxy_bin" --check-config "$bench_dir/segproxy.yaml" >/dev/null
  "$proxy_bin" --config "$bench_dir/segproxy.yaml" >"$bench_dir/segproxy.log" 2>&1 &
  proxy_pid=$!
  sp_wait_port "$proxy_port" 30 "$proxy_pid" || sp_die "segproxy did not listen on $proxy_port (see $bench_dir/segproxy.log)"
  sp_log "segproxy on 127.0.0.1:$proxy_port"
fi

conninfo() {
  case "$1" in
    direct) printf 'host=127.0.0.1 port=%s user=billing_rw dbname=shop sslmode=disable' "$pg_port" ;;
    pgbouncer) printf 'host=localhost port=%s user=billing_rw dbname=shop sslmode=verify-full sslrootcert=%s sslcert=%s sslkey=%s' \
      "$pgb_port" "$pki/ca.crt" "$pki/client-pgbouncer.crt" "$pki/client-pgbouncer.key" ;;
    segproxy) printf 'host=localhost port=%s user=%s dbname=shop sslmode=verify-full sslrootcert=%s sslcert=%s sslkey=%s' \
      "$proxy_port" "$proxy_user" "$pki/ca.crt" "$pki/client-spiffe.crt" "$pki/client-spiffe.key" ;;
  esac
}

# pgbench gets the password in its environment (direct only); never argv or output.
run_pgbench() {
  local target="$1"
  shift
  (
    unset PGPASSWORD
    if [[ "$target" == direct ]]; then
      PGPASSWORD="$(cat "$SEGPROXY_TEST_SECRETS/billing_rw.pw")"
      export PGPASSWORD
    fi
    exec timeout --kill-after=10 "$((seconds + 120))" "$pgbench_bin" "$@" "$(conninfo "$target")"
  )
}

sp_log "pgbench -i -s $scale (direct)"
run_pgbench direct -i -q -s "$scale" >"$bench_dir/pgbench-init.log" 2>&1 ||
  { tail -n 20 "$bench_dir/pgbench-init.log" >&2; sp_die "pgbench -i failed"; }

raw="$bench_dir/raw.tsv"
: >"$raw"
for c in "${clients_list[@]}"; do
  j=$((c < 2 ? c : 2))
  for ((r = 1; r <= rounds; r++)); do
    for t in "${targets[@]}"; do
      log="$bench_dir/run-$t-c$c-r$r.log"
      sp_log "round $r/$rounds: $t, $c client(s), ${seconds}s"
      if ! run_pgbench "$t" -n -S -M extended -c "$c" -j "$j" -T "$seconds" >"$log" 2>&1; then
        tail -n 20 "$log" >&2
        sp_die "pgbench against $t failed"
      fi
      tps="$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$log" | head -n1)"
      lat="$(sed -n 's/^latency average = \([0-9.]*\) ms.*/\1/p' "$log" | head -n1)"
      [[ -n "$tps" && -n "$lat" ]] || sp_die "could not parse pgbench output in $log"
      printf '%s\t%s\t%s\t%s\t%s\n' "$c" "$t" "$r" "$tps" "$lat" >>"$raw"
    done
  done
done

# median COLUMN CLIENTS TARGET  (column 4 = tps, 5 = latency)
median() {
  awk -F'\t' -v c="$2" -v t="$3" -v col="$1" '$1 == c && $2 == t { print $col }' "$raw" |
    sort -g | awk '{ v[NR] = $1 } END {
      if (NR == 0) { print "-"; exit }
      if (NR % 2) printf "%.3f\n", v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f\n", a / b }'; }
diff_ms() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-") print "-"; else printf "%+.3f\n", a - b }'; }

pg_version="$(psql -X -At -h "$SEGPROXY_TEST_PGSOCKDIR" -p "$pg_port" -U postgres -d postgres -c 'SHOW server_version')"
proxy_rev="$(git -C "$SEGPROXY_REPO_ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
stamp="$(date -u +%Y%m%d-%H%M%S)"
report="$(
  printf '# segproxy vs PgBouncer vs direct: pgbench -S -M extended\n\n'
  printf -- '- date (UTC): %s; host: %s cores, %s\n' "$stamp" "$(nproc)" "$(uname -sr)"
  printf -- '- PostgreSQL %s (fsync=off), PgBouncer %s (session pool, client mTLS, cert auth), segproxy %s\n' \
    "$pg_version" "$(pgbouncer --version 2>/dev/null | head -n1 | awk '{print $2}')" "$proxy_rev"
  printf -- '- scale %s, %s s per run, %s interleaved round(s), median shown; backend connections are plain TCP for all three\n' \
    "$scale" "$seconds" "$rounds"
  printf -- '- direct: plain TCP, SCRAM; PgBouncer and segproxy: TLS verify-full with a client certificate\n\n'
  printf '| clients | direct TPS | PgBouncer TPS | segproxy TPS | direct lat ms | PgBouncer lat ms | segproxy lat ms | segproxy/direct TPS | segproxy/PgBouncer TPS | added lat segproxy ms | added lat PgBouncer ms |\n'
  printf '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n'
  for c in "${clients_list[@]}"; do
    dt="$(median 4 "$c" direct)" bt="$(median 4 "$c" pgbouncer)" st="$(median 4 "$c" segproxy)"
    dl="$(median 5 "$c" direct)" bl="$(median 5 "$c" pgbouncer)" sl="$(median 5 "$c" segproxy)"
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$c" "$dt" "$bt" "$st" "$dl" "$bl" "$sl" \
      "$(ratio "$st" "$dt")" "$(ratio "$st" "$bt")" "$(diff_ms "$sl" "$dl")" "$(diff_ms "$bl" "$dl")"
  done
  printf '\nAdded latency = target average latency minus direct average latency (pgbench "latency average").\n'
  printf '\n<details><summary>raw runs (clients, target, round, tps, latency ms)</summary>\n\n```\n'
  cat "$raw"
  printf '```\n</details>\n'
)"

mkdir -p "$SEGPROXY_REPO_ROOT/bench/results"
out="$SEGPROXY_REPO_ROOT/bench/results/pg_compare-$stamp.md"
printf '%s\n' "$report" >"$out"
printf '%s\n' "$report"
sp_log "written to $out"
