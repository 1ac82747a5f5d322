#!/usr/bin/env bash
# Floods and slow peers must not starve established sessions (issue 20): the p99
# latency of a running `pgbench -c 8` through segproxy, first alone (baseline), then
# while a flood client makes BENCH_FLOOD_RATE (500) TLS handshakes per second and holds
# BENCH_HALF_OPEN (1,000) idle half-open connections, spread over BENCH_SOURCES (16)
# source addresses 127.0.1.x (a flood from many hosts: each stays under
# limits.max_handshakes_per_address; the listener's limits.max_concurrent_handshakes
# still applies). Target: p99 during the flood within 2x of the baseline. Timing
# figures need a quiet machine; not part of CI.
#
# Usage: bench/flood.sh [SECONDS]   (per phase, default 30)
# Env: BENCH_PROXY_BIN (build/bin/segproxy), BENCH_FLOOD_RATE (500), BENCH_HALF_OPEN
#      (1000), BENCH_SOURCES (16), BENCH_CLIENTS (8), BENCH_PGBENCH_ARGS ("-S -M extended").
# Set-up: bench/lib/bench_env.sh.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/bench_env.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/bench_env.sh" flood

seconds="${1:-30}"
rate="${BENCH_FLOOD_RATE:-500}"
half_open="${BENCH_HALF_OPEN:-1000}"
sources="${BENCH_SOURCES:-16}"
clients="${BENCH_CLIENTS:-8}"
read -r -a pgbench_args <<<"${BENCH_PGBENCH_ARGS:--S -M extended}"

flood_pid=""
# shellcheck disable=SC2317 # invoked by bench/lib/bench_env.sh's cleanup
bench_cleanup_extra() { if [[ -n "$flood_pid" ]]; then sp_stop_pid "$flood_pid" 20; fi; }
bench_env_up flood "$seconds" "$rate" "$half_open" "$sources" "$clients"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

metrics_port=""
sp_pick_port metrics_port 19187
export BP_EXTRA_YAML="metrics: {listen: \"127.0.0.1:$metrics_port\"}"
bp_start_segproxy segproxy "$proxy_bin"
pid="${bp_pid[segproxy]}"
port="${bp_pg_port[segproxy]}"

bench_pgbench_init 1

# run_phase NAME: pgbench -c $clients for $seconds with a per-transaction log; prints
# "tps p50_ms p99_ms max_ms failed" (latencies from the log, in milliseconds).
run_phase() {
  local name="$1" logdir="$bench_dir/log-$1"
  mkdir -p "$logdir"
  (cd "$logdir" && bp_pgbench segproxy -n "${pgbench_args[@]}" -c "$clients" -j 2 -T "$seconds" -l \
    --log-prefix="$logdir/tx" >"$bench_dir/pgbench-$name.out" 2>&1) || true
  local tps failed
  tps="$(awk '/^tps = / { print $3; exit }' "$bench_dir/pgbench-$name.out")"
  failed="$(grep -c 'client [0-9]* aborted' "$bench_dir/pgbench-$name.out" || true)"
  cat "$logdir"/tx.* 2>/dev/null | awk '{ print $3 }' | sort -n >"$logdir/lat.txt"
  awk -v tps="${tps:-0}" -v failed="$failed" '{ v[NR] = $1 } END {
      if (NR == 0) { printf "%s - - - %s\n", tps, failed; exit }
      p50 = v[int(NR * 0.50) > 0 ? int(NR * 0.50) : 1]; p99 = v[int(NR * 0.99) > 0 ? int(NR * 0.99) : 1]
      printf "%.0f %.3f %.3f %.3f %s\n", tps, p50 / 1000, p99 / 1000, v[NR] / 1000, failed }' "$logdir/lat.txt"
}
metric() {  # metric SERIES: its value on /metrics (0 when absent)
  { curl -s "http://127.0.0.1:$metrics_port/metrics" || true; } |
    awk -v s="$1" 'index($0, s " ") == 1 { print $2; found = 1; exit } END { if (!found) print 0 }'
}

sp_log "warm-up"
bp_pgbench segproxy -n "${pgbench_args[@]}" -c "$clients" -j 2 -T 2 >/dev/null 2>&1 || sp_die "warm-up failed"
sp_log "baseline: pgbench -c $clients -T $seconds ${pgbench_args[*]}"
read -r b_tps b_p50 b_p99 b_max b_failed <<<"$(run_phase baseline)"
b_rss="$(bp_rss_kib "$pid")"
b_fds="$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 | wc -l)"

sp_log "flood: $rate handshakes/s + $half_open half-open connections from $sources addresses"
python3 "$SEGPROXY_REPO_ROOT/bench/lib/flood_client.py" "$port" "$SEGPROXY_TEST_PKI/ca.crt" \
  "$SEGPROXY_TEST_PKI/client-spiffe.crt" "$SEGPROXY_TEST_PKI/client-spiffe.key" --rate "$rate" \
  --half-open "$half_open" --sources "$sources" --stats "$bench_dir/flood-stats.jsonl" \
  >"$bench_dir/flood.out" 2>"$bench_dir/flood.err" &
flood_pid=$!
for ((i = 0; i < 60; i++)); do  # until the half-open connections are (nearly) all held
  # (no `|| echo 0` after the pipe: with pipefail a missing stats file made it "0<newline>0")
  held="$({ tail -n1 "$bench_dir/flood-stats.jsonl" 2>/dev/null || true; } |
    python3 -c 'import json,sys; print(json.loads(sys.stdin.read() or "{}").get("half_open_now", 0))' 2>/dev/null || true)"
  [[ "$held" =~ ^[0-9]+$ ]] || held=0
  ((held * 10 >= half_open * 9)) && break
  sleep 1
done
sp_log "half-open held by the flood client: ${held:-0}"
read -r f_tps f_p50 f_p99 f_max f_failed <<<"$(run_phase flood)"
f_rss="$(bp_rss_kib "$pid")"
f_fds="$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 | wc -l)"
kill -TERM "$flood_pid"
wait "$flood_pid" || true
flood_pid=""
flood_totals="$(tail -n1 "$bench_dir/flood.out" 2>/dev/null || echo '{}')"
refused_cap="$(metric 'segproxy_connections_refused_total{listener="pg-main",reason="handshake_limit"}')"
refused_addr="$(metric 'segproxy_connections_refused_total{listener="pg-main",reason="per_address_limit"}')"
timeouts="$(metric 'segproxy_connections_refused_total{listener="pg-main",reason="startup_timeout"}')"
kill -0 "$pid" 2>/dev/null || sp_die "segproxy died during the flood (log: $SEGPROXY_TEST_DIR/segproxy-segproxy.log)"

ratio="$(awk -v a="$f_p99" -v b="$b_p99" 'BEGIN { if (b + 0 > 0) printf "%.2f", a / b; else print "-" }')"
stamp="$(date -u +%Y%m%d-%H%M%S)"
report="$(
  printf '# Flood: pgbench p99 with and without a handshake flood and half-open connections\n\n'
  printf -- '- date (UTC): %s; host: %s cores, load average %s; segproxy %s\n' "$stamp" "$(nproc)" \
    "$(cut -d' ' -f1-3 /proc/loadavg)" "$(git describe --always --dirty 2>/dev/null || echo unknown)"
  printf -- '- pgbench %s -c %s -j 2 -T %s per phase; flood: %s handshakes/s, %s half-open, %s source addresses\n\n' \
    "${pgbench_args[*]}" "$clients" "$seconds" "$rate" "$half_open" "$sources"
  printf '| phase | TPS | p50 ms | p99 ms | max ms | aborted clients | proxy RSS KiB | proxy fds |\n|---|---:|---:|---:|---:|---:|---:|---:|\n'
  printf '| baseline | %s | %s | %s | %s | %s | %s | %s |\n' "$b_tps" "$b_p50" "$b_p99" "$b_max" "$b_failed" "$b_rss" "$b_fds"
  printf '| flood | %s | %s | %s | %s | %s | %s | %s |\n\n' "$f_tps" "$f_p50" "$f_p99" "$f_max" "$f_failed" "$f_rss" "$f_fds"
  printf -- '- p99 flood / baseline: **%s** (target <= 2)\n' "$ratio"
  printf -- '- flood client totals: %s\n' "$flood_totals"
  printf -- '- refused by the proxy: handshake_limit %s, per_address_limit %s; startup timeouts %s\n' \
    "$refused_cap" "$refused_addr" "$timeouts"
)"
mkdir -p "$SEGPROXY_REPO_ROOT/bench/results"
out="$SEGPROXY_REPO_ROOT/bench/results/flood-$stamp.md"
printf '%s\n' "$report" | tee "$out"
sp_log "written to $out"
