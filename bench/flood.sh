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
# BENCH_FLOOD_MODE picks the flood client (the report names the mode of every figure):
#   open   (default) open loop: BENCH_FLOOD_RATE connections offered per second whatever
#          the target answers, each replaying one prebuilt TLS 1.3 ClientHello and reading
#          the server's first flight (the server's key exchange and signature are spent by
#          then), then BENCH_FLOOD_THEN: close (default) or hold (complete nothing until the
#          server gives up). Almost no client CPU: a flood from many hosts. Reported per
#          flood phase: offered, first flights, answered an ErrorResponse / closed early / reset (refused), timed out
#          (per second), and the first flight's latency.
#   closed the earlier closed loop: BENCH_FLOOD_THREADS (8) threads each completing a full
#          handshake with the client certificate, then the next; the client slows down with
#          the server and its own TLS work costs about as much CPU as the server's.
# BENCH_FLOOD_NICE=N (0 = off) runs the flood client under `nice -n N` (with the closed
# loop, 19 emulates a flood from other hosts: its TLS work yields to the rest).
#
# A well-behaved client logs in during every phase (bench/lib/login_probe.py: every
# BENCH_PROBE_INTERVAL_MS (200) ms, from 127.0.0.1, mTLS with the target's client
# certificate, SELECT 1, sequentially): its login latency p50 / p99 / max and failures per
# phase are reported beside pgbench's p99.
#
# Usage: bench/flood.sh [SECONDS]   (per phase, default 30)
# BENCH_PROXY_YAML / BENCH_BASELINE_YAML: top-level YAML lines for the segproxy / baseline
# configuration (e.g. the same binary twice, "handshake_threads: 0" for the baseline).
#
# Env: BENCH_PROXY_BIN (build/bin/segproxy), BENCH_BASELINE_BIN, BENCH_SKIP_PGBOUNCER,
#      BENCH_ORDER, BENCH_FLOOD_RATE (500), BENCH_HALF_OPEN (1000), BENCH_SOURCES (16),
#      BENCH_CLIENTS (8), BENCH_PGBENCH_ARGS ("-S -M extended"), BENCH_FLOOD_NICE (0),
#      BENCH_FLOOD_THREADS (8: the flood client's handshake threads), BENCH_FLOOD_MODE (open),
#      BENCH_FLOOD_THEN (close), BENCH_PROBE_INTERVAL_MS (200).
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
flood_kind="${BENCH_FLOOD_MODE:-open}"
flood_then="${BENCH_FLOOD_THEN:-close}"
probe_ms="${BENCH_PROBE_INTERVAL_MS:-200}"
[[ "$flood_kind" == open || "$flood_kind" == closed ]] || sp_die "BENCH_FLOOD_MODE: open or closed"
[[ "$flood_then" == close || "$flood_then" == hold ]] || sp_die "BENCH_FLOOD_THEN: close or hold"
read -r -a pgbench_args <<<"${BENCH_PGBENCH_ARGS:--S -M extended}"
((seconds >= 10)) || sp_die "phases of at least 10 s (the CPU split leaves out 2 s at the start, 3 s at the end)"

flood_pid=""
stats=""
flood_s0=""
flood_s1=""
flood_from=0
flood_t1=0
# shellcheck disable=SC2317 # invoked by bench/lib/bench_env.sh's cleanup
bench_cleanup_extra() { if [[ -n "$flood_pid" ]]; then sp_stop_pid "$flood_pid" 20; fi; }
bench_env_up flood "$seconds" "$rate" "$half_open" "$sources" "$clients" "$flood_nice" "$flood_threads" "$probe_ms"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if [[ "$flood_kind" == open ]]; then
  flood_mode="open loop: $rate connections/s offered, each a replayed ClientHello and the server's first flight, then $flood_then"
else
  flood_mode="closed loop: $flood_threads threads, each a complete handshake with the client certificate, then the next"
fi
if ((flood_nice > 0)); then flood_mode+="; flood client under nice -n $flood_nice"; else flood_mode+="; flood client at nice 0 on the same cores"; fi

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

# probe_start TARGET NAME: the well-behaved client's logins in the background ($! is its
# pid; SIGTERM ends it and it prints its JSON summary to $bench_dir/probe-NAME.json).
probe_start() {
  local pki="$SEGPROXY_TEST_PKI" cert=client-spiffe user=billing
  if [[ "$1" == pgbouncer ]]; then cert=client-pgbouncer user=billing_rw; fi
  python3 "$SEGPROXY_REPO_ROOT/bench/lib/login_probe.py" "${bp_pg_port[$1]}" "$pki/ca.crt" "$pki/$cert.crt" \
    "$pki/$cert.key" "$user" shop --interval "$(awk -v m="$probe_ms" 'BEGIN { print m / 1000 }')" \
    --log "$bench_dir/probe-$2.log" >"$bench_dir/probe-$2.json" 2>"$bench_dir/probe-$2.err" &
}
# probe_summary NAME: "p50 p99 max failed/attempts classes" of the phase's logins (ms).
probe_summary() {
  python3 -c 'import json, sys
try:
    d = json.loads(open(sys.argv[1]).read() or "{}")
except (OSError, ValueError):
    d = {}
f = lambda v: "-" if v is None else "%.1f" % v
classes = ",".join("%s:%d" % kv for kv in sorted(d.get("failures", {}).items())) or "-"
print(f(d.get("p50_ms")), f(d.get("p99_ms")), f(d.get("max_ms")), "%d/%d" % (d.get("failed", 0), d.get("attempts", 0)), classes)' \
    "$bench_dir/probe-$1.json"
}

# flood_start TARGET NAME: starts the flood client against TARGET (flood_pid, its stats in
# $stats) and waits (up to 60 s) until its half-open connections are (nearly) all held.
flood_start() {
  local i
  stats="$bench_dir/flood-stats-$2.jsonl"
  flood_cmd=(python3 "$SEGPROXY_REPO_ROOT/bench/lib/flood_client.py" "${bp_pg_port[$1]}" "$SEGPROXY_TEST_PKI/ca.crt"
    "$SEGPROXY_TEST_PKI/client-spiffe.crt" "$SEGPROXY_TEST_PKI/client-spiffe.key" --rate "$rate"
    --half-open "$half_open" --sources "$sources" --threads "$flood_threads" --stats "$stats")
  if [[ "$flood_kind" == open ]]; then flood_cmd+=(--open-loop --then "$flood_then"); fi
  if ((flood_nice > 0)); then flood_cmd=(nice -n "$flood_nice" "${flood_cmd[@]}"); fi
  sp_log "[$2] flood: $rate handshakes/s + $half_open half-open connections from $sources addresses ($flood_mode)"
  "${flood_cmd[@]}" >"$bench_dir/flood-$2.out" 2>"$bench_dir/flood-$2.err" &
  flood_pid=$!
  held=0
  for ((i = 0; i < 60; i++)); do
    held="$(stat_field "$stats" half_open_now)"
    [[ "$held" =~ ^[0-9]+$ ]] || held=0
    ((held * 10 >= half_open * 9)) && break
    sleep 1
  done
  sp_log "[$2] half-open held by the flood client: $held"
}

# run_phase TARGET NAME [flood]: pgbench -c $clients for $seconds with a per-transaction
# log, and the login probe beside it. With "flood", pgbench runs 10 s longer and the flood
# starts once pgbench's clients are connected (established sessions: pgbench logs a
# thread's first transaction only after all of its clients connected); the phase's
# figures count from the moment the flood holds its half-open connections (flood_from;
# flood_s0 / flood_s1: the flood client's stats lines then and at pgbench's end). Prints
# "tps p50_ms p99_ms max_ms failed" (from the log, milliseconds) and probe_summary's five
# words. Samples /proc from 2 s after the phase's start to 3 s before pgbench's end into
# $bench_dir/cpu-NAME.txt (the target's threads, pgbench, PostgreSQL, the flood client).
# Runs in the calling shell (its output redirected to a file): flood_pid is global.
run_phase() {
  local target="$1" name="$2" flood="${3:-}" logdir="$bench_dir/log-$2" pgb pids probe duration="$seconds" i
  mkdir -p "$logdir"
  [[ -n "$flood" ]] && duration=$((seconds + 10))
  (cd "$logdir" && bp_pgbench "$target" -n "${pgbench_args[@]}" -c "$clients" -j 2 -T "$duration" -l \
    --log-prefix="$logdir/tx" >"$bench_dir/pgbench-$name.out" 2>&1) &
  pgb=$!
  local t0 t_end ta1 ta2 tb1 tb2
  t0="$EPOCHREALTIME"
  t_end="$(awk -v t="$t0" -v d="$duration" 'BEGIN { printf "%.3f", t + d }')"
  if [[ -n "$flood" ]]; then
    for ((i = 0; i < 600; i++)); do  # both pgbench threads logging: all 8 clients are in
      [[ -s "$(compgen -G "$logdir/tx.*[0-9]" | head -n1)" && -s "$(compgen -G "$logdir/tx.*.1" | head -n1)" ]] && break
      kill -0 "$pgb" 2>/dev/null || break
      sleep 0.1
    done
    flood_start "$target" "$name"
    t0="$EPOCHREALTIME"
    flood_s0="$(tail -n1 "$stats" 2>/dev/null || true)"
  fi
  flood_from="$t0"
  probe_start "$target" "$name"
  probe=$!
  sleep 2
  pids=("pgbench=$pgb" "postgres=$postmaster")
  [[ -n "$flood" ]] && pids+=("flood client=$flood_pid")
  # A sample takes a while on a loaded machine: the window runs from the middle of one to
  # the middle of the other, and the second is taken 3 s before pgbench's end, however
  # long the first took.
  ta1="$EPOCHREALTIME"
  proc_cpu_snapshot "$bench_dir/cpu-$name.before" "${bp_pid[$target]}" "${pids[@]}"
  ta2="$EPOCHREALTIME"
  sleep "$(awk -v e="$t_end" -v now="$ta2" 'BEGIN { d = e - 3 - now; printf "%.2f", (d > 1 ? d : 1) }')"
  tb1="$EPOCHREALTIME"
  proc_cpu_snapshot "$bench_dir/cpu-$name.after" "${bp_pid[$target]}" "${pids[@]}"
  tb2="$EPOCHREALTIME"
  proc_cpu_split "$bench_dir/cpu-$name.before" "$bench_dir/cpu-$name.after" \
    "$(awk -v a1="$ta1" -v a2="$ta2" -v b1="$tb1" -v b2="$tb2" 'BEGIN { printf "%.3f", (b1 + b2) / 2 - (a1 + a2) / 2 }')" \
    >"$bench_dir/cpu-$name.txt"
  printf '%s\n' "$(awk -v a="$ta1" -v b="$tb2" -v t0="$t0" 'BEGIN { printf "%.1f-%.1f", a - t0, b - t0 }')" >"$bench_dir/cpu-$name.window"
  wait "$pgb" || true
  if [[ -n "$flood" ]]; then
    flood_s1="$(tail -n1 "$stats" 2>/dev/null || true)"
    flood_t1="$EPOCHREALTIME"
  fi
  kill -TERM "$probe" 2>/dev/null || true
  wait "$probe" || true
  # The evidence stays (bench/results is not committed): pgbench's output, the CPU split,
  # the login probe's attempts.
  mkdir -p "$raw_dir"
  cp "$bench_dir/pgbench-$name.out" "$bench_dir/cpu-$name".* "$bench_dir/probe-$name".* "$raw_dir/" 2>/dev/null || true
  local failed
  failed="$(grep -c 'client [0-9]* aborted' "$bench_dir/pgbench-$name.out" || true)"
  # Log lines: client_id transaction_no time_us script_no epoch_s epoch_us (the end of the
  # transaction); only those from t0 on count, and TPS is theirs over t0 .. the last one.
  { cat "$logdir"/tx.* 2>/dev/null || true; } | awk -v from="$t0" '$5 + $6 / 1e6 >= from { printf "%d %.6f\n", $3, $5 + $6 / 1e6 }' |
    sort -n >"$logdir/lat.txt"
  awk -v from="$t0" -v failed="$failed" -v probe="$(probe_summary "$name")" '{ v[NR] = $1; if ($2 > last) last = $2 } END {
      if (NR == 0) { printf "0 - - - %s %s\n", failed, probe; exit }
      p50 = v[int(NR * 0.50) > 0 ? int(NR * 0.50) : 1]; p99 = v[int(NR * 0.99) > 0 ? int(NR * 0.99) : 1]
      printf "%.0f %.3f %.3f %.3f %s %s\n", NR / (last > from ? last - from : 1), p50 / 1000, p99 / 1000, v[NR] / 1000, failed, probe }' "$logdir/lat.txt"
}
metric() {  # metric NAME SERIES: its value on segproxy NAME's /metrics (0 when absent)
  { curl -s "http://127.0.0.1:${metrics_port[$1]}/metrics" || true; } |
    awk -v s="$2" 'index($0, s " ") == 1 { print $2; found = 1; exit } END { if (!found) print 0 }'
}
stat_field() {  # stat_field FILE FIELD: FIELD of the flood client's last stats line (0 when none)
  { tail -n1 "$1" 2>/dev/null || true; } |
    python3 -c 'import json,sys; print(json.loads(sys.stdin.read() or "{}").get(sys.argv[1], 0))' "$2" 2>/dev/null || echo 0
}
# flood_rates BEFORE AFTER SECONDS: per second between two stats lines (JSON): "served
# refused timed_out detail" - served: complete handshakes (closed loop) or first flights
# (open loop); refused: failed handshakes, or closed / reset before the first flight and
# failed connects; detail: every open-loop counter per second and the last second's
# first-flight latency.
flood_rates() {
  python3 -c 'import json, sys
def load(t):
    try:
        return json.loads(t or "{}")
    except ValueError:
        return {}
a, b, s = load(sys.argv[1]), load(sys.argv[2]), max(float(sys.argv[3]), 0.001)
d = lambda k: (b.get(k, 0) - a.get(k, 0)) / s
if b.get("open_loop"):
    served = d("first_flights")
    refused = d("error_response") + d("closed_early") + d("reset") + d("connect_failed")
    detail = "offered %.0f/s, first flights %.0f/s, refused with an ErrorResponse %.0f/s, closed early %.0f/s, reset %.0f/s, connect failed %.0f/s, timed out %.0f/s, not TLS %.0f/s; first flight p50 %s / p99 %s ms (last second)" % (
        d("offered"), served, d("error_response"), d("closed_early"), d("reset"), d("connect_failed"), d("timed_out"), d("not_tls"),
        b.get("flight_ms_p50", "-"), b.get("flight_ms_p99", "-"))
else:
    served, refused = d("handshakes_ok"), d("handshakes_failed")
    detail = "complete handshakes %.0f/s, failed %.0f/s" % (served, refused)
print("%.0f %.0f %.0f %s" % (served, refused, d("timed_out"), detail))' "$1" "$2" "$3"
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
  run_phase "$target" "$tag-baseline" >"$bench_dir/phase-$tag-baseline.txt"
  read -r b_tps b_p50 b_p99 b_max b_failed b_lp50 b_lp99 b_lmax b_lfail b_lclass <"$bench_dir/phase-$tag-baseline.txt"
  b_rss="$(bp_rss_kib "$pid")"
  b_fds="$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)"

  l1="$(load)"
  run_phase "$target" "$tag-flood" flood >"$bench_dir/phase-$tag-flood.txt"
  read -r f_tps f_p50 f_p99 f_max f_failed f_lp50 f_lp99 f_lmax f_lfail f_lclass <"$bench_dir/phase-$tag-flood.txt"
  held_end="$(stat_field "$stats" half_open_now)"
  f_rss="$(bp_rss_kib "$pid")"
  f_fds="$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)"
  kill -TERM "$flood_pid"
  wait "$flood_pid" || true
  flood_pid=""
  cp "$bench_dir/flood-$tag-flood.out" "$bench_dir/flood-$tag-flood.err" "$stats" "$raw_dir/" 2>/dev/null || true
  kill -0 "$pid" 2>/dev/null || sp_die "$target died during the flood"
  read -r hs_rate hs_fail hs_timeout hs_detail <<<"$(flood_rates "$flood_s0" "$flood_s1" "$(awk -v a="$flood_from" -v b="$flood_t1" 'BEGIN { print b - a }')")"
  ratio="$(awk -v a="$f_p99" -v b="$b_p99" 'BEGIN { if (b + 0 > 0) printf "%.2f", a / b; else print "-" }')"
  rows+=("| $tag | $l0 / $l1 | $b_tps | $b_p99 | $f_tps | $f_p99 | **$ratio** | $b_lp50 / $b_lp99 / $b_lmax | $b_lfail | $f_lp50 / $f_lp99 / $f_lmax | **$f_lfail** | $hs_rate | $hs_fail | $hs_timeout | $held_end | $b_failed / $f_failed | $b_rss / $f_rss | $b_fds / $f_fds |")
  detail="- $tag, CPU during the flood (cores, s $(cat "$bench_dir/cpu-$tag-flood.window") of the phase): $(
    awk -F'\t' '$1 !~ /^proxy / { printf "%s %s, ", $1, $2 } $1 ~ /^proxy / { p += $2 } END { printf "%s (all threads) %.3f", "'"$target"'", p }' \
      "$bench_dir/cpu-$tag-flood.txt"); threads: $(
    awk -F'\t' '$1 ~ /^proxy / && $2 > 0.005 { sub(/^proxy /, "", $1); printf "%s%s %s", sep, $1, $2; sep = ", " }' \
      "$bench_dir/cpu-$tag-flood.txt")"
  if [[ -n "${metrics_port[$target]:-}" ]]; then
    detail+="; refused: handshake_limit $(metric "$target" 'segproxy_connections_refused_total{listener="pg-main",reason="handshake_limit"}'), handshake_evicted $(metric "$target" 'segproxy_connections_refused_total{listener="pg-main",reason="handshake_evicted"}'), per_address_limit $(metric "$target" 'segproxy_connections_refused_total{listener="pg-main",reason="per_address_limit"}'), startup timeouts $(metric "$target" 'segproxy_connections_refused_total{listener="pg-main",reason="startup_timeout"}') (cumulative)"
  fi
  details+=("$detail" "  pgbench p50 / max ms, baseline: $b_p50 / $b_max, flood: $f_p50 / $f_max" "  flood during the phase: $hs_detail" "  login failures (baseline / flood): $b_lclass / $f_lclass"
    "  flood client totals: $(tail -n1 "$bench_dir/flood-$tag-flood.out" 2>/dev/null || echo '{}')")
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
  printf -- '- pgbench %s -c %s -j 2 -T %s per phase; flood: %s handshakes/s asked, %s half-open, %s source addresses (127.0.1.x); login probe every %s ms from 127.0.0.1\n' \
    "${pgbench_args[*]}" "$clients" "$seconds" "$rate" "$half_open" "$sources" "$probe_ms"
  printf -- '- mode: **%s**\n' "$flood_mode"
  [[ -n "${bp_pid[pgbouncer]:-}" ]] && printf -- "- PgBouncer's open-files limit: %s\n" \
    "$(awk '/^Max open files/ { print $4 }' "/proc/${bp_pid[pgbouncer]}/limits" 2>/dev/null || echo '?')"
  printf -- '- raw outputs: %s\n\n' "${raw_dir#"$SEGPROXY_REPO_ROOT"/}"
  printf '| target | load avg (baseline / flood start) | TPS base | p99 ms base | TPS flood | p99 ms flood | p99 ratio | login ms base p50 / p99 / max | login failed base | login ms flood p50 / p99 / max | login failed flood | handshakes/s served | refused/s | timed out/s | half-open held | aborted clients | RSS KiB | fds |\n'
  printf '|---|---|---:|---:|---:|---:|---:|---|---:|---|---:|---:|---:|---:|---:|---|---|---|\n'
  printf '%s\n' "${rows[@]}"
  printf '\n'
  printf '%s\n' "${details[@]}"
)"
mkdir -p "$SEGPROXY_REPO_ROOT/bench/results"
out="$SEGPROXY_REPO_ROOT/bench/results/flood-$stamp.md"
printf '%s\n' "$report" | tee "$out"
sp_log "written to $out"
