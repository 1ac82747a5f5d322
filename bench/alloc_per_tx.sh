#!/usr/bin/env bash
# Heap allocations per transaction in the proxy (issue 15: "no allocation per
# statement"), counted, not sampled: a uprobe on libc's malloc (`perf probe -x libc.so.6
# malloc`; operator new, OpenSSL's CRYPTO_malloc / CRYPTO_zalloc and Asio's frame
# allocations all end there) and `perf stat -e probe_libc:malloc -p PID` over
# two `pgbench -S -M extended -c 1` runs of BENCH_SHORT and BENCH_TXNS transactions after a
# warm-up run, for this tree's binary and BENCH_BASELINE_BIN interleaved (each its own
# proxy in one bench environment); per transaction = the difference of the two counts
# over the difference of the transactions, so a connection's set-up (SCRAM alone makes
# thousands of allocations) drops out. Works without hardware counters (uprobes are
# software events). With BENCH_ALLOC_SITES=1 also `perf record --call-graph dwarf` of the
# same probe over a short run of each binary, and `perf report` (the first frames of each
# allocation's stack; samples may be lost, so read the rows as shares).
#
# Env: BENCH_TXNS (5000), BENCH_SHORT (500), BENCH_WARMUP (200), BENCH_ROUNDS (2), BENCH_PROXY_BIN
#      (build/bin/segproxy), BENCH_BASELINE_BIN, BENCH_ALLOC_SITES=1 (BENCH_SITE_TXNS, 500).
# The probe is global to the machine: created when missing, deleted at exit only when
# this script created it. Needs root (or perf_event_paranoid / tracefs rights).
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/bench_env.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/bench_env.sh" alloc_per_tx perf pgbench

txns="${BENCH_TXNS:-5000}"
warmup="${BENCH_WARMUP:-200}"
short="${BENCH_SHORT:-500}"
rounds="${BENCH_ROUNDS:-2}"
site_txns="${BENCH_SITE_TXNS:-500}"

libc="$(ldconfig -p | awk '/libc\.so\.6 .*x86-64/ { print $NF; exit }')"
[[ -n "$libc" && -e "$libc" ]] || sp_die "libc.so.6 not found"
probe_created=0
if ! perf probe -l 2>/dev/null | grep -q 'probe_libc:malloc '; then
  perf probe -q -x "$libc" malloc || sp_die "perf probe -x $libc malloc failed (uprobes unavailable?)"
  probe_created=1
fi
# shellcheck disable=SC2317 # invoked by the cleanup trap of bench_env.sh
bench_cleanup_extra() {
  if ((probe_created)); then perf probe -q -d probe_libc:malloc || true; fi
}

export BENCH_SKIP_PGBOUNCER=1
bench_env_up alloc "$txns" "$warmup" "$rounds" "$site_txns" "$short"
((txns > short)) || sp_die "BENCH_TXNS must be larger than BENCH_SHORT"
bench_start_targets FIRST
BENCH_SKIP_MYSQL=1 bench_prepare_data 1 1000

# count_mallocs PID TARGET TXNS FILE_PREFIX: the proxy's malloc calls over one
# pgbench -S -M extended -c 1 -t TXNS run (its connection's set-up included)
count_mallocs() {
  local stat_pid n
  perf stat -x, -e probe_libc:malloc -p "$1" -o "$4.csv" &
  stat_pid=$!
  sleep 0.5  # attached before the run starts
  bp_pgbench "$2" -n -S -M extended -c 1 -t "$3" >"$4.log" 2>&1 || sp_die "pgbench against $2 failed"
  sleep 0.2
  kill -INT "$stat_pid" 2>/dev/null || true
  wait "$stat_pid" 2>/dev/null || true
  n="$(awk -F, '$3 ~ /probe_libc:malloc/ { print $1 }' "$4.csv")"
  [[ "$n" =~ ^[0-9]+$ ]] || sp_die "no malloc count in $4.csv"
  echo "$n"
}
raw="$bench_dir/raw.tsv"
: >"$raw"
for ((r = 1; r <= rounds; r++)); do
  for t in "${targets[@]}"; do
    pid="${bp_pid[$t]}"
    sp_log "round $r/$rounds: $t, pgbench -S -M extended -c 1 -t $short and -t $txns (after $warmup warm-up transactions)"
    bp_pgbench "$t" -n -S -M extended -c 1 -t "$warmup" >"$bench_dir/warm-$t-$r.log" 2>&1 || sp_die "warm-up against $t failed"
    # Two measured runs of one connection each, BENCH_SHORT and BENCH_TXNS transactions:
    # their difference is free of the connection's set-up (TLS handshake, SCRAM's
    # thousands of HMAC contexts), which is the same in both.
    m_short="$(count_mallocs "$pid" "$t" "$short" "$bench_dir/short-$t-$r")"
    m_long="$(count_mallocs "$pid" "$t" "$txns" "$bench_dir/long-$t-$r")"
    printf '%s\t%s\t%s\t%s\t%s\n' "$t" "$r" "$m_short" "$m_long" \
      "$(awk -v a="$m_short" -v b="$m_long" -v s="$short" -v t="$txns" 'BEGIN { printf "%.2f", (b - a) / (t - s) }')" >>"$raw"
  done
done

stamp="$(date -u +%Y%m%d-%H%M%S)"
sites() {  # target: perf record of the probe over a short run, top stacks
  local t="$1" pid="${bp_pid[$1]}"
  perf record -q -m 1024 -e probe_libc:malloc --call-graph dwarf,8192 -p "$pid" -o "$bench_dir/sites-$t.data" &
  local rec_pid=$!
  sleep 1
  bp_pgbench "$t" -n -S -M extended -c 1 -t "$site_txns" >"$bench_dir/sites-$t.log" 2>&1 || true
  kill -INT "$rec_pid" 2>/dev/null || true
  wait "$rec_pid" 2>/dev/null || true
  perf report -i "$bench_dir/sites-$t.data" --stdio --no-children -G --percent-limit 1.5 2>/dev/null |
    grep -v '^$' | head -n 400 >"$SEGPROXY_REPO_ROOT/bench/results/alloc_sites-$t-$stamp.txt" || true
}
mkdir -p "$SEGPROXY_REPO_ROOT/bench/results"
if [[ "${BENCH_ALLOC_SITES:-0}" == 1 ]]; then
  for t in "${targets[@]}"; do sites "$t"; done
fi

report="$(
  printf '# Heap allocations per transaction in the proxy\n\n'
  printf -- '- date (UTC): %s; host: %s cores, load average %s; segproxy %s\n' "$stamp" "$(nproc)" \
    "$(cut -d' ' -f1-3 /proc/loadavg)" "$(git -C "$SEGPROXY_REPO_ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
  printf -- '- malloc calls of the proxy process (uprobe on %s) over pgbench -S -M extended -c 1 -t %s and -t %s (one connection each, after %s warm-up transactions); per transaction = the difference / %s (set-up excluded); %s interleaved rounds\n\n' \
    "$libc" "$short" "$txns" "$warmup" "$((txns - short))" "$rounds"
  printf '| target | round | mallocs, %s txns | mallocs, %s txns | per transaction |\n|---|---:|---:|---:|---:|\n' "$short" "$txns"
  awk -F'\t' '{ printf "| %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5 }' "$raw"
)"
out="$SEGPROXY_REPO_ROOT/bench/results/alloc_per_tx-$stamp.md"
printf '%s\n' "$report" | tee "$out"
sp_log "written to $out"
