#!/usr/bin/env bash
# Floods and slow peers must not starve established sessions (issue 20): the p99
# latency of a running `pgbench -c 8`, first alone (baseline), then while a flood client
# makes BENCH_FLOOD_RATE (500) TLS handshakes per second and holds BENCH_HALF_OPEN
# (1,000) idle half-open connections, spread over BENCH_SOURCES (16) source addresses
# 127.0.1.x (a flood from many hosts: each stays under limits.max_handshakes_per_address;
# the listener's limits.max_concurrent_handshakes still applies). Target: p99 during the
# flood within 2x of the baseline. Timing figures need a quiet machine; not part of CI.
#
# The same two phases run against each target in turn, in one run: segproxy
# (BENCH_PROXY_BIN), an older segproxy (BENCH_BASELINE_BIN, when set: before/after in
# the same run) and PgBouncer 1.18 in client-mTLS session mode (unless
# BENCH_SKIP_PGBOUNCER=1), in the order of BENCH_ORDER ("segproxy baseline pgbouncer";
# names may repeat, e.g. "segproxy pgbouncer pgbouncer segproxy" for ABBA). Per flood
# phase: the handshakes the flood client achieved per second, and the CPU split from
# /proc (the proxy per thread, the flood client, pgbench, PostgreSQL's processes) — the
# flood client runs on the same cores as everything else, so this tells how much of a
# ratio is the machine and how much the proxy.
#
# BENCH_FLOOD_NICE=N (0 = off) runs the flood client under `nice -n N` (19 emulates a
# flood from other hosts: the client's own TLS work yields to the proxy, pgbench and
# PostgreSQL); the report names the mode of every figure.
#
# Usage: bench/flood.sh [SECONDS]   (per phase, default 30)
# BENCH_PROXY_YAML / BENCH_BASELINE_YAML: top-level YAML lines for the segproxy / baseline
# configuration (e.g. the same binary twice, "handshake_threads: 0" for the baseline).
#
# Env: BENCH_PROXY_BIN (build/bin/segproxy), BENCH_BASELINE_BIN, BENCH_SKIP_PGBOUNCER,
#      BENCH_ORDER, BENCH_FLOOD_RATE (500), BENCH_HALF_OPEN (1000), BENCH_SOURCES (16),
#      BENCH_CLIENTS (8), BENCH_PGBENCH_ARGS ("-S -M extended"), BENCH_FLOOD_NICE (0),
#      BENCH_FLOOD_THREADS (8: the flood client's handshake threads).
# Set-up: bench/lib/bench_env.sh.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/bench_env.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/bench_env.sh" flood
# shellcheck source-path=SCRIPTDIR source=lib/proc_cpu.sh
source "$SEGPROXY_REPO_ROOT/bench/lib/proc_cpu.sh"

seconds="${1:-30}"
rate="${BENCH_FLOOD_RATE:-500}"
half_open="${BENCH_HALF_OPEN:-1000}"
sources="${BENCH_SOURCES:-16}"
clients="${BENCH_CLIENTS:-8}"
flood_nice="${BENCH_FLOOD_NICE:-0}"
flood_threads="${BENCH_FLOOD_THREADS:-8}"
read -r -a pgbench_args <<<"${BENCH_PGBENCH_ARGS:--S -M extended}"
((seconds >= 10)) || sp_die "phases of at least 10 s (the CPU split leaves out 2 s at the start, 3 s at the end)"

flood_pid=""
# shellcheck disable=SC2317 # invoked by bench/lib/bench_env.sh's cleanup
bench_cleanup_extra() { if [[ -n "$flood_pid" ]]; then sp_stop_pid "$flood_pid" 20; fi; }
bench_env_up flood "$seconds" "$rate" "$half_open" "$sources" "$clients" "$flood_nice" "$flood_threads"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
flood_mode="flood client at nice 0 on the same cores"
((flood_nice > 0)) && flood_mode="flood client under nice -n $flood_nice (emulates a flood from other hosts)"

# Each segproxy gets its own metrics port; PgBouncer room for the half-open connections
# (its client_login_timeout, 60 s, ends them; segproxy's handshake_timeout, 10 s).
declare -A metrics_port
start_segproxy() {  # start_segproxy NAME BIN [EXTRA_YAML]
  sp_pick_port "metrics_port[$1]" 19187
  BP_EXTRA_YAML="metrics: {listen: \"127.0.0.1:${metrics_port[$1]}\"}
${3:-}" bp_start_segproxy "$1" "$2"
}
names=(segproxy)
start_segproxy segproxy "$proxy_bin" "${BENCH_PROXY_YAML:-}"
if [[ -n "${BENCH_BASELINE_BIN:-}" ]]; then
  start_segproxy baseline "$BENCH_BASELINE_BIN" "${BENCH_BASELINE_YAML:-}"
  names+=(baseline)
fi
if [[ "${BENCH_SKIP_PGBOUNCER:-0}" != 1 ]]; then
  # Its listen backlog as segproxy's (the kernel's somaxconn; PgBouncer's default is 128):
  # a flood must not measure a full accept queue.
  BP_PGB_MAX_CLIENT_CONN=$((half_open + 2 * rate + 100)) BP_PGB_LISTEN_BACKLOG="$(cat /proc/sys/net/core/somaxconn)" \
    bp_start_pgbouncer
  names+=(pgbouncer)
fi
read -r -a order <<<"${BENCH_ORDER:-${names[*]}}"
for name in "${order[@]}"; do [[ -n "${bp_pid[$name]:-}" ]] || sp_die "BENCH_ORDER: $name is not started"; done
postmaster="$(head -n1 "$SEGPROXY_TEST_DIR/pgdata/postmaster.pid")"

bench_pgbench_init 1

# run_phase TARGET NAME [FLOOD_PID]: pgbench -c $clients for $seconds with a
# per-transaction log; prints "tps p50_ms p99_ms max_ms failed" (latencies from the log,
# in milliseconds). Samples /proc from 2 s after the start to 3 s before the end into
# $bench_dir/cpu-NAME.txt (the target's threads, pgbench, PostgreSQL, the flood client).
run_phase() {
  local target="$1" name="$2" flood="${3:-}" logdir="$bench_dir/log-$2" pgb pids
  mkdir -p "$logdir"
  (cd "$logdir" && bp_pgbench "$target" -n "${pgbench_args[@]}" -c "$clients" -j 2 -T "$seconds" -l \
    --log-prefix="$logdir/tx" >"$bench_dir/pgbench-$name.out" 2>&1) &
  pgb=$!
  local t0 ta1 ta2 tb1 tb2
  t0="$EPOCHREALTIME"
  sleep 2
  pids=("pgbench=$pgb" "postgres=$postmaster")
  [[ -n "$flood" ]] && pids+=("flood client=$flood")
  # A sample takes a while on a loaded machine: the window runs from the middle of one to
  # the middle of the other, and the second is taken 3 s before pgbench's end, however
  # long the first took.
  ta1="$EPOCHREALTIME"
  proc_cpu_snapshot "$bench_dir/cpu-$name.before" "${bp_pid[$target]}" "${pids[@]}"
  ta2="$EPOCHREALTIME"
  sleep "$(awk -v t0="$t0" -v now="$ta2" -v s="$seconds" 'BEGIN { d = t0 + s - 3 - now; printf "%.2f", (d > 1 ? d : 1) }')"
  tb1="$EPOCHREALTIME"
  proc_cpu_snapshot "$bench_dir/cpu-$name.after" "${bp_pid[$target]}" "${pids[@]}"
  tb2="$EPOCHREALTIME"
  proc_cpu_split "$bench_dir/cpu-$name.before" "$bench_dir/cpu-$name.after" \
    "$(awk -v a1="$ta1" -v a2="$ta2" -v b1="$tb1" -v b2="$tb2" 'BEGIN { printf "%.3f", (b1 + b2) / 2 - (a1 + a2) / 2 }')" \
    >"$bench_dir/cpu-$name.txt"
  printf '%s\n' "$(awk -v a="$ta1" -v b="$tb2" -v t0="$t0" 'BEGIN { printf "%.1f-%.1f", a - t0, b - t0 }')" >"$bench_dir/cpu-$name.window"
  wait "$pgb" || true
  # The evidence stays (bench/results is not committed): pgbench's output, the CPU split.
  mkdir -p "$raw_dir"
  cp "$bench_dir/pgbench-$name.out" "$bench_dir/cpu-$name".* "$raw_dir/" 2>/dev/null || true
  local tps failed
  tps="$(awk '/^tps = / { print $3; exit }' "$bench_dir/pgbench-$name.out")"
  failed="$(grep -c 'client [0-9]* aborted' "$bench_dir/pgbench-$name.out" || true)"
  cat "$logdir"/tx.* 2>/dev/null | awk '{ print $3 }' | sort -n >"$logdir/lat.txt"
  awk -v tps="${tps:-0}" -v failed="$failed" '{ v[NR] = $1 } END {
      if (NR == 0) { printf "%s - - - %s\n", tps, failed; exit }
      p50 = v[int(NR * 0.50) > 0 ? int(NR * 0.50) : 1]; p99 = v[int(NR * 0.99) > 0 ? int(NR * 0.99) : 1]
      printf "%.0f %.3f %.3f %.3f %s\n", tps, p50 / 1000, p99 / 1000, v[NR] / 1000, failed }' "$logdir/lat.txt"
}
metric() {  # metric NAME SERIES: its value on segproxy NAME's /metrics (0 when absent)
  { curl -s "http://127.0.0.1:${metrics_port[$1]}/metrics" || true; } |
    awk -v s="$2" 'index($0, s " ") == 1 { print $2; found = 1; exit } END { if (!found) print 0 }'
}
stat_field() {  # stat_field FILE FIELD: FIELD of the flood client's last stats line (0 when none)
  { tail -n1 "$1" 2>/dev/null || true; } |
    python3 -c 'import json,sys; print(json.loads(sys.stdin.read() or "{}").get(sys.argv[1], 0))' "$2" 2>/dev/null || echo 0
}
load() { cut -d' ' -f1 /proc/loadavg; }

raw_dir="$SEGPROXY_REPO_ROOT/bench/results/flood-$(date -u +%Y%m%d-%H%M%S)-raw"
rows=()
details=()
round=0
for target in "${order[@]}"; do
  round=$((round + 1))
  tag="$round-$target"
  pid="${bp_pid[$target]}"
  sp_log "[$tag] warm-up"
  bp_pgbench "$target" -n "${pgbench_args[@]}" -c "$clients" -j 2 -T 2 >/dev/null 2>&1 || sp_die "warm-up of $target failed"
  l0="$(load)"
  sp_log "[$tag] baseline: pgbench -c $clients -T $seconds ${pgbench_args[*]} (load $l0)"
  read -r b_tps b_p50 b_p99 b_max b_failed <<<"$(run_phase "$target" "$tag-baseline")"
  b_rss="$(bp_rss_kib "$pid")"
  b_fds="$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)"

  stats="$bench_dir/flood-stats-$tag.jsonl"
  flood_cmd=(python3 "$SEGPROXY_REPO_ROOT/bench/lib/flood_client.py" "${bp_pg_port[$target]}" "$SEGPROXY_TEST_PKI/ca.crt"
    "$SEGPROXY_TEST_PKI/client-spiffe.crt" "$SEGPROXY_TEST_PKI/client-spiffe.key" --rate "$rate"
    --half-open "$half_open" --sources "$sources" --threads "$flood_threads" --stats "$stats")
  ((flood_nice > 0)) && flood_cmd=(nice -n "$flood_nice" "${flood_cmd[@]}")
  sp_log "[$tag] flood: $rate handshakes/s + $half_open half-open connections from $sources addresses ($flood_mode)"
  "${flood_cmd[@]}" >"$bench_dir/flood-$tag.out" 2>"$bench_dir/flood-$tag.err" &
  flood_pid=$!
  for ((i = 0; i < 60; i++)); do  # until the half-open connections are (nearly) all held
    held="$(stat_field "$stats" half_open_now)"
    [[ "$held" =~ ^[0-9]+$ ]] || held=0
    ((held * 10 >= half_open * 9)) && break
    sleep 1
  done
  sp_log "[$tag] half-open held by the flood client: ${held:-0}"
  l1="$(load)"
  ok0="$(stat_field "$stats" handshakes_ok)"
  fail0="$(stat_field "$stats" handshakes_failed)"
  t0="$(date +%s.%N)"
  read -r f_tps f_p50 f_p99 f_max f_failed <<<"$(run_phase "$target" "$tag-flood" "$flood_pid")"
  t1="$(date +%s.%N)"
  ok1="$(stat_field "$stats" handshakes_ok)"
  fail1="$(stat_field "$stats" handshakes_failed)"
  held_end="$(stat_field "$stats" half_open_now)"
  f_rss="$(bp_rss_kib "$pid")"
  f_fds="$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)"
  kill -TERM "$flood_pid"
  wait "$flood_pid" || true
  flood_pid=""
  cp "$bench_dir/flood-$tag.out" "$bench_dir/flood-$tag.err" "$stats" "$raw_dir/" 2>/dev/null || true
  kill -0 "$pid" 2>/dev/null || sp_die "$target died during the flood"
  hs_rate="$(awk -v a="$ok0" -v b="$ok1" -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%.0f", (b - a) / (t1 - t0) }')"
  hs_fail="$(awk -v a="$fail0" -v b="$fail1" -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%.0f", (b - a) / (t1 - t0) }')"
  ratio="$(awk -v a="$f_p99" -v b="$b_p99" 'BEGIN { if (b + 0 > 0) printf "%.2f", a / b; else print "-" }')"
  rows+=("| $tag | $l0 / $l1 | $b_tps | $b_p50 | $b_p99 | $b_max | $f_tps | $f_p50 | $f_p99 | $f_max | **$ratio** | $hs_rate | $hs_fail | $held_end | $b_failed / $f_failed | $b_rss / $f_rss | $b_fds / $f_fds |")
  detail="- $tag, CPU during the flood (cores, s $(cat "$bench_dir/cpu-$tag-flood.window") of the phase): $(
    awk -F'\t' '$1 !~ /^proxy / { printf "%s %s, ", $1, $2 } $1 ~ /^proxy / { p += $2 } END { printf "%s (all threads) %.3f", "'"$target"'", p }' \
      "$bench_dir/cpu-$tag-flood.txt"); threads: $(
    awk -F'\t' '$1 ~ /^proxy / && $2 > 0.005 { sub(/^proxy /, "", $1); printf "%s%s %s", sep, $1, $2; sep = ", " }' \
      "$bench_dir/cpu-$tag-flood.txt")"
  if [[ -n "${metrics_port[$target]:-}" ]]; then
    detail+="; refused: handshake_limit $(metric "$target" 'segproxy_connections_refused_total{listener="pg-main",reason="handshake_limit"}'), per_address_limit $(metric "$target" 'segproxy_connections_refused_total{listener="pg-main",reason="per_address_limit"}'), startup timeouts $(metric "$target" 'segproxy_connections_refused_total{listener="pg-main",reason="startup_timeout"}') (cumulative)"
  fi
  details+=("$detail" "  flood client totals: $(tail -n1 "$bench_dir/flood-$tag.out" 2>/dev/null || echo '{}')")
done

stamp="$(date -u +%Y%m%d-%H%M%S)"
report="$(
  printf '# Flood: pgbench p99 with and without a handshake flood and half-open connections\n\n'
  printf -- '- date (UTC): %s; host: %s cores, load average at the end %s; segproxy %s (%s)\n' "$stamp" "$(nproc)" \
    "$(cut -d' ' -f1-3 /proc/loadavg)" "$(git describe --always --dirty 2>/dev/null || echo unknown)" "$proxy_bin"
  # shellcheck disable=SC2016 # backquotes: Markdown
  [[ -n "${BENCH_PROXY_YAML:-}" ]] && printf -- '- segproxy configuration adds: `%s`\n' "${BENCH_PROXY_YAML//$'\n'/; }"
  [[ -n "${BENCH_BASELINE_BIN:-}" ]] && printf -- '- baseline: %s %s\n' "$BENCH_BASELINE_BIN" \
    "${BENCH_BASELINE_YAML:+(configuration adds: \`${BENCH_BASELINE_YAML//$'\n'/; }\`)}"
  printf -- '- pgbench %s -c %s -j 2 -T %s per phase; flood: %s handshakes/s asked (%s threads), %s half-open, %s source addresses\n' \
    "${pgbench_args[*]}" "$clients" "$seconds" "$rate" "$flood_threads" "$half_open" "$sources"
  printf -- '- mode: **%s**\n' "$flood_mode"
  [[ -n "${bp_pid[pgbouncer]:-}" ]] && printf -- "- PgBouncer's open-files limit: %s\n" \
    "$(awk '/^Max open files/ { print $4 }' "/proc/${bp_pid[pgbouncer]}/limits" 2>/dev/null || echo '?')"
  printf -- '- raw outputs: %s\n\n' "${raw_dir#"$SEGPROXY_REPO_ROOT"/}"
  printf '| target | load avg (baseline / flood start) | TPS base | p50 ms base | p99 ms base | max ms base | TPS flood | p50 ms flood | p99 ms flood | max ms flood | p99 ratio | handshakes/s achieved | failed/s | half-open held | aborted clients | RSS KiB | fds |\n'
  printf '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|\n'
  printf '%s\n' "${rows[@]}"
  printf '\n'
  printf '%s\n' "${details[@]}"
)"
mkdir -p "$SEGPROXY_REPO_ROOT/bench/results"
out="$SEGPROXY_REPO_ROOT/bench/results/flood-$stamp.md"
printf '%s\n' "$report" | tee "$out"
sp_log "written to $out"
