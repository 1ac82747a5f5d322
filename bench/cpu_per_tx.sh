#!/usr/bin/env bash
# Proxy CPU per transaction at a fixed rate (issue 15): the proxy process's utime +
# stime from /proc/PID/stat over a `pgbench -R` run, PgBouncer measured the same way in
# the same run (interleaved), and the MySQL path with `sysbench --rate`. A fixed rate
# makes the figures comparable across proxies; they still move with machine load, so
# label figures taken on a busy machine as such.
#
# Env: BENCH_RATE (4000 tx/s), BENCH_SECONDS (20), BENCH_ROUNDS (2), BENCH_CLIENTS (16),
#      BENCH_PROXY_BIN (build/bin/segproxy), BENCH_BASELINE_BIN (an older segproxy),
#      BENCH_SKIP_PGBOUNCER=1, BENCH_SKIP_MYSQL=1, BENCH_PERF=1 (also count the proxy's
#      user and kernel instructions with `perf stat -p` over each run: on a loaded
#      machine CPU time per transaction is noisy, instructions per transaction much
#      less so). Set-up: bench/lib/bench_env.sh.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/bench_env.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/bench_env.sh" cpu_per_tx

rate="${BENCH_RATE:-4000}"
seconds="${BENCH_SECONDS:-20}"
rounds="${BENCH_ROUNDS:-2}"
clients="${BENCH_CLIENTS:-16}"
tick_us=$((1000000 / $(getconf CLK_TCK)))
perf_on="${BENCH_PERF:-0}"
if [[ "$perf_on" == 1 ]] && ! command -v perf >/dev/null; then sp_die "BENCH_PERF=1 needs perf"; fi

bench_env_up cpu "$rate" "$seconds" "$rounds" "$clients"
bench_start_targets FIRST

bench_prepare_data 10 100000

raw="$bench_dir/raw.tsv"
: >"$raw"
perf_pid=""
# perf_begin PID FILE: counts the process's instructions (user, kernel) until perf_end.
perf_begin() {
  [[ "$perf_on" == 1 ]] || return 0
  perf stat -x, -e instructions:u,instructions:k -p "$1" -o "$2" &
  perf_pid=$!
  sleep 0.5  # attached before the run starts
}
perf_end() {
  [[ -n "$perf_pid" ]] || return 0
  kill -INT "$perf_pid" 2>/dev/null || true
  wait "$perf_pid" 2>/dev/null || true
  perf_pid=""
}
# per_txn FILE EVENT TXNS: that event's count per transaction ("-" without perf).
per_txn() {
  [[ "$perf_on" == 1 && -s "$1" ]] || {
    echo "-"
    return
  }
  awk -F, -v e="$2" -v t="$3" '$3 ~ "^" e { if (t > 0 && $1 ~ /^[0-9]+$/) printf "%.0f", $1 / t; else printf "-" }' "$1"
}
# record PROTO TARGET ROUND TXNS TICKS [PERF_FILE]
record() {
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" \
    "$(awk -v d="$5" -v t="$4" -v u="$tick_us" 'BEGIN { if (t > 0) printf "%.1f", d * u / t; else print "-" }')" \
    "$(per_txn "${6:-}" instructions:u "$4")" "$(per_txn "${6:-}" instructions:k "$4")" >>"$raw"
}
for ((r = 1; r <= rounds; r++)); do
  for t in "${pg_targets[@]}"; do
    sp_log "round $r/$rounds: PostgreSQL $t, pgbench -S -M extended -R $rate -c $clients, ${seconds}s"
    pid="${bp_pid[$t]}"
    perf_begin "$pid" "$bench_dir/perf-pg-$t-$r.csv"
    c0="$(bp_cpu_ticks "$pid")"
    bp_pgbench "$t" -n -S -M extended -R "$rate" -c "$clients" -j 2 -T "$seconds" >"$bench_dir/pg-$t-$r.log" 2>&1 ||
      sp_die "pgbench against $t failed"
    c1="$(bp_cpu_ticks "$pid")"
    perf_end
    n="$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$bench_dir/pg-$t-$r.log")"
    record pg "$t" "$r" "${n:-0}" $((c1 - c0)) "$bench_dir/perf-pg-$t-$r.csv"
  done
  if ((mysql_on)); then
    for t in "${targets[@]}"; do
      sp_log "round $r/$rounds: MySQL $t, sysbench oltp_point_select --rate=$rate --threads=$clients, ${seconds}s"
      pid="${bp_pid[$t]}"
      perf_begin "$pid" "$bench_dir/perf-my-$t-$r.csv"
      c0="$(bp_cpu_ticks "$pid")"
      bp_sysbench "$t" oltp_point_select run --table-size=100000 --db-ps-mode=disable --point-selects=1 \
        --rate="$rate" --threads="$clients" --time="$seconds" --report-interval=0 >"$bench_dir/my-$t-$r.log" 2>&1 ||
        sp_die "sysbench against $t failed"
      c1="$(bp_cpu_ticks "$pid")"
      perf_end
      n="$(sed -n 's/^ *queries: *\([0-9]*\) .*/\1/p' "$bench_dir/my-$t-$r.log" | head -n1)"
      record mysql "$t" "$r" "${n:-0}" $((c1 - c0)) "$bench_dir/perf-my-$t-$r.csv"
    done
  fi
done
((mysql_on)) && bench_sysbench_cleanup

median() {  # proto target [column: 5 µs/txn (default), 6 user instructions/txn, 7 kernel]
  awk -F'\t' -v p="$1" -v t="$2" -v c="${3:-5}" '$1 == p && $2 == t && $c != "-" { print $c }' "$raw" | sort -g |
    awk '{ x[NR] = $1 } END { if (NR == 0) { print "-"; exit }
      if (NR % 2) printf "%.1f\n", x[(NR + 1) / 2]; else printf "%.1f\n", (x[NR / 2] + x[NR / 2 + 1]) / 2 }'
}
stamp="$(date -u +%Y%m%d-%H%M%S)"
report="$(
  printf '# Proxy CPU per transaction at a fixed rate\n\n'
  printf -- '- date (UTC): %s; host: %s cores, load average %s; segproxy %s\n' "$stamp" "$(nproc)" \
    "$(cut -d' ' -f1-3 /proc/loadavg)" "$(git -C "$SEGPROXY_REPO_ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
  printf -- '- PostgreSQL: pgbench -S -M extended -R %s -c %s, %s s; MySQL: sysbench oltp_point_select --rate=%s --threads=%s --point-selects=1 --db-ps-mode=disable; %s interleaved rounds, median; CPU = utime + stime of the proxy process (/proc/PID/stat)\n\n' \
    "$rate" "$clients" "$seconds" "$rate" "$clients" "$rounds"
  printf '| protocol | target | proxy CPU µs per transaction (query for MySQL) | user instructions per txn | kernel instructions per txn |\n|---|---|---:|---:|---:|\n'
  for t in "${pg_targets[@]}"; do
    printf '| postgres | %s | %s | %s | %s |\n' "$t" "$(median pg "$t")" "$(median pg "$t" 6)" "$(median pg "$t" 7)"
  done
  if ((mysql_on)); then for t in "${targets[@]}"; do
    printf '| mysql | %s | %s | %s | %s |\n' "$t" "$(median mysql "$t")" "$(median mysql "$t" 6)" "$(median mysql "$t" 7)"
  done; fi
  printf '\n<details><summary>raw (protocol, target, round, transactions, µs/txn, user and kernel instructions/txn)</summary>\n\n```\n'
  cat "$raw"
  printf '```\n</details>\n'
)"
mkdir -p "$SEGPROXY_REPO_ROOT/bench/results"
out="$SEGPROXY_REPO_ROOT/bench/results/cpu_per_tx-$stamp.md"
printf '%s\n' "$report" | tee "$out"
sp_log "written to $out"
