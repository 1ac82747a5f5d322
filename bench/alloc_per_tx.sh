#!/usr/bin/env bash
# Heap allocations per transaction in the proxy (issue 15: "no allocation per
# statement"), counted, not sampled: a uprobe on libc's malloc (`perf probe -x libc.so.6
# malloc`; operator new, OpenSSL's CRYPTO_malloc / CRYPTO_zalloc and Asio's frame
# allocations all end there) and `perf stat -e probe_libc:malloc -p PID` over
# two `pgbench -S -M extended -c 1` runs of BENCH_SHORT and BENCH_TXNS transactions after a
# warm-up run, for this tree's binary and BENCH_BASELINE_BIN interleaved (each its own
# proxy in one bench environment); per transaction = the difference of the two counts
# over the difference of the transactions, so a connection's set-up (SCRAM alone makes
# thousands of allocations) drops out. MySQL the same way (unless BENCH_SKIP_MYSQL=1):
# sysbench oltp_point_select, one thread (one connection), one point select per event,
# --db-ps-mode=$BENCH_MYSQL_PS (disable: COM_QUERY text, the default; auto:
# COM_STMT_EXECUTE); per query = the difference / the difference of the events. Works without hardware counters (uprobes are
# software events). With BENCH_ALLOC_SITES=1 also `perf record --call-graph dwarf` of the
# same probe over a short run of each binary, and `perf report` (the first frames of each
# allocation's stack; samples may be lost, so read the rows as shares).
#
# Env: BENCH_TXNS (5000), BENCH_SHORT (500), BENCH_WARMUP (200), BENCH_ROUNDS (2), BENCH_PROXY_BIN
#      (build/bin/segproxy), BENCH_BASELINE_BIN, BENCH_ALLOC_SITES=1 (BENCH_SITE_TXNS, 500),
#      BENCH_SKIP_MYSQL=1, BENCH_MYSQL_PS (disable | auto).
# The probe is global to the machine: created when missing, deleted at exit only when
# this script created it. Needs root (or perf_event_paranoid / tracefs rights).
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/bench_env.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/bench_env.sh" alloc_per_tx perf pgbench sysbench

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
bench_prepare_data 1 1000
mysql_ps="${BENCH_MYSQL_PS:-disable}"
[[ "$mysql_ps" == disable || "$mysql_ps" == auto ]] || sp_die "BENCH_MYSQL_PS must be disable or auto"
protocols=(pg)
if ((mysql_on)); then protocols+=(mysql); fi

# load PROTO TARGET TXNS: one connection running TXNS transactions (pg: pgbench -S -M
# extended) or queries (mysql: sysbench oltp_point_select, one point select per event)
load() {
  if [[ "$1" == pg ]]; then
    bp_pgbench "$2" -n -S -M extended -c 1 -t "$3"
  else
    bp_sysbench "$2" oltp_point_select run --table-size=1000 --db-ps-mode="$mysql_ps" --point-selects=1 \
      --threads=1 --events="$3" --time=0
  fi
}

# count_mallocs PID TARGET TXNS FILE_PREFIX PROTO: the proxy's malloc calls over one
# connection's TXNS transactions or queries (its set-up included)
count_mallocs() {
  local stat_pid n
  perf stat -x, -e probe_libc:malloc -p "$1" -o "$4.csv" &
  stat_pid=$!
  sleep 0.5  # attached before the run starts
  load "$5" "$2" "$3" >"$4.log" 2>&1 || sp_die "$5 load against $2 failed"
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
  for proto in "${protocols[@]}"; do
    for t in "${targets[@]}"; do
      pid="${bp_pid[$t]}"
      sp_log "round $r/$rounds: $proto through $t, one connection of $short and of $txns (after $warmup warm-up)"
      load "$proto" "$t" "$warmup" >"$bench_dir/warm-$proto-$t-$r.log" 2>&1 || sp_die "warm-up against $t failed"
      # Two measured runs of one connection each, BENCH_SHORT and BENCH_TXNS transactions:
      # their difference is free of the connection's set-up (TLS handshake, SCRAM's
      # thousands of HMAC contexts), which is the same in both.
      m_short="$(count_mallocs "$pid" "$t" "$short" "$bench_dir/short-$proto-$t-$r" "$proto")"
      m_long="$(count_mallocs "$pid" "$t" "$txns" "$bench_dir/long-$proto-$t-$r" "$proto")"
      printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$proto" "$t" "$r" "$m_short" "$m_long" \
        "$(awk -v a="$m_short" -v b="$m_long" -v s="$short" -v t="$txns" 'BEGIN { printf "%.2f", (b - a) / (t - s) }')" >>"$raw"
    done
  done
done

stamp="$(date -u +%Y%m%d-%H%M%S)"
sites() {  # proto target: perf record of the probe over a short run, top stacks
  local proto="$1" t="$2" pid="${bp_pid[$2]}"
  perf record -q -m 1024 -e probe_libc:malloc --call-graph dwarf,8192 -p "$pid" -o "$bench_dir/sites-$proto-$t.data" &
  local rec_pid=$!
  sleep 1
  load "$proto" "$t" "$site_txns" >"$bench_dir/sites-$proto-$t.log" 2>&1 || true
  kill -INT "$rec_pid" 2>/dev/null || true
  wait "$rec_pid" 2>/dev/null || true
  perf report -i "$bench_dir/sites-$proto-$t.data" --stdio --no-children -G --percent-limit 1.5 2>/dev/null |
    grep -v '^$' | head -n 400 >"$SEGPROXY_REPO_ROOT/bench/results/alloc_sites-$proto-$t-$stamp.txt" || true
}
mkdir -p "$SEGPROXY_REPO_ROOT/bench/results"
if [[ "${BENCH_ALLOC_SITES:-0}" == 1 ]]; then
  for proto in "${protocols[@]}"; do
    for t in "${targets[@]}"; do sites "$proto" "$t"; done
  done
fi

report="$(
  printf '# Heap allocations per transaction in the proxy\n\n'
  printf -- '- date (UTC): %s; host: %s cores, load average %s; segproxy %s\n' "$stamp" "$(nproc)" \
    "$(cut -d' ' -f1-3 /proc/loadavg)" "$(git -C "$SEGPROXY_REPO_ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
  printf -- '- malloc calls of the proxy process (uprobe on %s) over one connection of %s and one of %s transactions (pg: pgbench -S -M extended -c 1; mysql: sysbench oltp_point_select --threads=1 --point-selects=1 --db-ps-mode=%s, per query), after %s warm-up; per transaction = the difference / %s (set-up excluded); %s interleaved rounds\n\n' \
    "$libc" "$short" "$txns" "$mysql_ps" "$warmup" "$((txns - short))" "$rounds"
  printf '| protocol | target | round | mallocs, %s | mallocs, %s | per transaction |\n|---|---|---:|---:|---:|---:|\n' "$short" "$txns"
  awk -F'\t' '{ printf "| %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6 }' "$raw"
)"
out="$SEGPROXY_REPO_ROOT/bench/results/alloc_per_tx-$stamp.md"
printf '%s\n' "$report" | tee "$out"
sp_log "written to $out"
