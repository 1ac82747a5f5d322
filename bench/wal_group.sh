#!/usr/bin/env bash
# Group commit of the write-ahead audit (issue 14): per audited transaction of pgbench -S
# -M extended through two segproxy binaries side by side (both `audit: {durability: group,
# on_failure: fail_closed}`, each its own log), interleaved per round:
#   1. system calls per transaction (strace -c -f -p, a fixed number of transactions at
#      BENCH_CLIENTS and at 1 client): fdatasync, futex, epoll_ctl, ... Counts, not
#      timings: they hardly move with machine load.
#   2. proxy CPU per transaction at a fixed rate (pgbench -R, utime + stime from
#      /proc/PID/stat, as bench/cpu_per_tx.sh).
# Records per fdatasync comes from (records appended) / (fdatasyncs) over the strace run.
#   3. (BENCH_AUDIT_OFF=1) a third target "off": the proxy binary without an audit, in the
#      same interleaved rounds, so "what the audit adds" is a difference within one run.
#   4. per thread: the CPU rounds also split the proxy's CPU by thread name (segproxy-io,
#      segproxy-audit, ...: /proc/PID/task/*/stat, bench/lib/proc_cpu.sh), µs per txn.
#   5. (BENCH_PERF_RECORD=1) after the rounds, one more fixed-rate run per target under
#      `perf record -e cpu-clock -g` (software clock: works in a VM without PMU access);
#      the report (by thread, by shared object and symbol, self time) goes next to the
#      results as wal_group-STAMP-perf-TARGET.txt.
#
# Env: BENCH_PROXY_BIN (build/bin/segproxy), BENCH_BASELINE_BIN (required: the binary to
# compare with), BENCH_BASELINE_EXTRA_YAML (audit: lines for the baseline only; default
# the same as the proxy's), BENCH_PROXY_AUDIT_EXTRA (extra keys inside the proxy's audit:
# map, e.g. "group_delay: 0us"), BENCH_TXNS (8000 per strace run), BENCH_CLIENTS (16),
# BENCH_RATE (1500 tx/s), BENCH_SECONDS (15), BENCH_ROUNDS (3), BENCH_STRACE (1; 0: CPU
# rounds only), BENCH_AUDIT_OFF (0), BENCH_PERF_RECORD (0).
# Set-up: bench/lib/bench_env.sh.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/bench_env.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/bench_env.sh" wal_group strace

txns="${BENCH_TXNS:-8000}"
clients="${BENCH_CLIENTS:-16}"
rate="${BENCH_RATE:-1500}"
seconds="${BENCH_SECONDS:-15}"
rounds="${BENCH_ROUNDS:-3}"
[[ -n "${BENCH_BASELINE_BIN:-}" ]] || sp_die "set BENCH_BASELINE_BIN"
tick_us=$((1000000 / $(getconf CLK_TCK)))
strace_on="${BENCH_STRACE:-1}"
audit_off="${BENCH_AUDIT_OFF:-0}"
perf_record="${BENCH_PERF_RECORD:-0}"
if [[ "$perf_record" == 1 ]] && ! command -v perf >/dev/null; then sp_die "BENCH_PERF_RECORD=1 needs perf"; fi
# shellcheck source-path=SCRIPTDIR source=lib/proc_cpu.sh
source "$SEGPROXY_REPO_ROOT/bench/lib/proc_cpu.sh"

bench_env_up wal_group "$txns" "$clients" "$rate" "$seconds" "$rounds"
extra="${BENCH_PROXY_AUDIT_EXTRA:+, $BENCH_PROXY_AUDIT_EXTRA}"
export BP_EXTRA_YAML="audit: {dir: \"$bench_dir/audit-segproxy\", durability: group, on_failure: fail_closed$extra}"
base_yaml='audit: {dir: "@BENCH_DIR@/audit-baseline", durability: group, on_failure: fail_closed}'
export BENCH_BASELINE_EXTRA_YAML="${BENCH_BASELINE_EXTRA_YAML:-$base_yaml}"
export BENCH_SKIP_PGBOUNCER=1
export BP_LOG_LEVEL=info  # wal_catalog.loaded is logged at info
bench_pgbench_init 1      # before the proxies start: their first catalog load sees the tables
bench_start_targets FIRST
audited=("${targets[@]}")
if [[ "$audit_off" == 1 ]]; then
  BP_EXTRA_YAML="" bp_start_segproxy off "$proxy_bin"
  targets+=(off)
fi
for t in "${audited[@]}"; do
  for _ in $(seq 1 120); do
    grep -q 'wal_catalog.loaded' "$SEGPROXY_TEST_DIR/segproxy-$t.log" && break
    sleep 0.5
  done
  grep -q 'wal_catalog.loaded' "$SEGPROXY_TEST_DIR/segproxy-$t.log" || sp_die "$t: no WalCatalog loaded within 60 s"
done

lines() { cat "$bench_dir/audit-$1"/audit-*.jsonl 2>/dev/null | tr -d '\0' | grep -c . || true; }
count() { awk -v c="$2" '/^------/ { sep++; next } sep == 1 && $NF == c { print $4; found = 1 } END { if (!found) print 0 }' "$1"; }

raw="$bench_dir/raw.tsv"
: >"$raw"
# strace_round TARGET ROUND CLIENTS
strace_round() {
  local t="$1" r="$2" c="$3" per n before after out
  per=$((txns / c))
  ((c == 1)) && per=$((txns / 8))
  n=$((per * c))
  bp_pgbench "$t" -n -S -M extended -c "$c" -j "$((c < 2 ? 1 : 2))" -t 20 >/dev/null 2>&1 || sp_die "warm-up failed"
  sleep 0.5
  before="$(lines "$t")"
  out="$bench_dir/strace-$t-$r-$c.txt"
  bench_strace_run "${bp_pid[$t]}" "$out" \
    bp_pgbench "$t" -n -S -M extended -c "$c" -j "$((c < 2 ? 1 : 2))" -t "$per" >"$bench_dir/pgbench-$t-$r-$c.log" 2>&1 ||
    sp_die "pgbench against $t failed"
  sleep 1
  after="$(lines "$t")"
  IFS=$'\t' read -r total _ <<<"$(bench_syscalls "$out" "$n" 1)"
  printf 'strace\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$r" "$c" "$n" "$total" \
    "$(count "$out" fdatasync)" "$(count "$out" futex)" "$(count "$out" epoll_ctl)" "$(count "$out" epoll_wait)" \
    "$((after - before))" >>"$raw"
}
cpu_round() {
  local t="$1" r="$2" pid c0 c1 n
  pid="${bp_pid[$t]}"
  proc_cpu_snapshot "$bench_dir/threads-$t-$r.before" "$pid"
  c0="$(bp_cpu_ticks "$pid")"
  bp_pgbench "$t" -n -S -M extended -R "$rate" -c "$clients" -j 2 -T "$seconds" >"$bench_dir/rate-$t-$r.log" 2>&1 ||
    sp_die "pgbench -R against $t failed"
  c1="$(bp_cpu_ticks "$pid")"
  proc_cpu_snapshot "$bench_dir/threads-$t-$r.after" "$pid"
  n="$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$bench_dir/rate-$t-$r.log")"
  # Per thread name (the tids of one name summed): µs per transaction.
  awk -F'\t' -v t="$t" -v r="$r" -v n="${n:-0}" -v u="$tick_us" '
    NR == FNR { before[$2] = $3; next }
    { split($1, k, " "); d[k[2]] += $3 - (($2 in before) ? before[$2] : 0) }
    END { for (c in d) if (n > 0) printf "thread\t%s\t%s\t%s\t%.1f\n", t, r, c, d[c] * u / n }' \
    "$bench_dir/threads-$t-$r.before" "$bench_dir/threads-$t-$r.after" >>"$raw"
  printf 'cpu\t%s\t%s\t%s\t%s\t%s\n' "$t" "$r" "${n:-0}" \
    "$(awk -v d="$((c1 - c0))" -v t="${n:-0}" -v u="$tick_us" 'BEGIN { if (t > 0) printf "%.1f", d * u / t; else print "-" }')" \
    "$(sed -n 's/^latency average = \([0-9.]*\) ms.*/\1/p' "$bench_dir/rate-$t-$r.log")" >>"$raw"
}

for ((r = 1; r <= rounds; r++)); do
  order=("${targets[@]}")
  if ((r % 2 == 0)); then  # reversed in even rounds
    order=()
    for ((i = ${#targets[@]} - 1; i >= 0; i--)); do order+=("${targets[i]}"); done
  fi
  for t in "${order[@]}"; do
    sp_log "round $r/$rounds: $t: $( ((strace_on == 1)) && echo "strace, $clients clients and 1 client; ")CPU at -R $rate"
    if [[ "$strace_on" == 1 ]]; then
      strace_round "$t" "$r" "$clients"
      strace_round "$t" "$r" 1
    fi
    cpu_round "$t" "$r"
  done
done

stamp="$(date -u +%Y%m%d-%H%M%S)"
mkdir -p "$SEGPROXY_REPO_ROOT/bench/results"
cp "$raw" "$SEGPROXY_REPO_ROOT/bench/results/wal_group-$stamp-raw.tsv"
# perf_round TARGET: one more fixed-rate run under perf record (not counted above: the
# sampling costs the proxy CPU of its own).
perf_round() {
  local t="$1" data="$bench_dir/perf-$1.data" rep="$SEGPROXY_REPO_ROOT/bench/results/wal_group-$stamp-perf-$1.txt" p
  perf record -q -e cpu-clock -F 4999 -g -p "${bp_pid[$t]}" -o "$data" >/dev/null 2>&1 &
  p=$!
  sleep 1
  bp_pgbench "$t" -n -S -M extended -R "$rate" -c "$clients" -j 2 -T "$seconds" >"$bench_dir/perf-rate-$t.log" 2>&1 ||
    sp_die "pgbench -R against $t (perf) failed"
  kill -INT "$p"
  wait "$p" || true
  {
    printf '# perf record -e cpu-clock -g of %s at -R %s -c %s for %s s: %s transactions; load average %s\n' "$t" \
      "$rate" "$clients" "$seconds" "$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$bench_dir/perf-rate-$t.log")" \
      "$(cut -d' ' -f1-3 /proc/loadavg)"
    printf '\n## by thread\n'
    { perf report -i "$data" --no-children --sort comm --stdio -g none 2>/dev/null || true; } | grep -v -e '^#' -e '^$' | head -20 || true
    printf '\n## by thread, shared object and symbol (self)\n'
    { perf report -i "$data" --no-children --sort comm,dso,sym --stdio -g none --percent-limit 0.3 2>/dev/null || true; } |
      grep -v -e '^#' -e '^$' | head -150 || true
  } >"$rep"
  cp "$data" "${rep%.txt}.data"  # for perf report -i (bench/results/ is not committed)
  sp_log "perf: $rep"
}
if [[ "$perf_record" == 1 ]]; then
  for t in "${targets[@]}"; do perf_round "$t"; done
fi

med() { sort -g | awk '{ x[NR] = $1 } END { if (NR == 0) { print "-"; exit }
  if (NR % 2) printf "%.3f\n", x[(NR + 1) / 2]; else printf "%.3f\n", (x[NR / 2] + x[NR / 2 + 1]) / 2 }'; }
# per_txn TARGET CLIENTS COLUMN: median over rounds of column / transactions
per_txn() { awk -F'\t' -v t="$1" -v c="$2" -v k="$3" '$1 == "strace" && $2 == t && $4 == c { printf "%.4f\n", $k / $5 }' "$raw" | med; }
col() { awk -F'\t' -v t="$1" -v c="$2" -v k="$3" '$1 == "strace" && $2 == t && $4 == c { print $k }' "$raw" | med; }
per_sync() { awk -F'\t' -v t="$1" -v c="$2" '$1 == "strace" && $2 == t && $4 == c && $7 > 0 { printf "%.4f\n", $11 / $7 }' "$raw" | med; }
report="$(
  printf '# Write-ahead audit group commit: syscalls and CPU per transaction\n\n'
  printf -- '- date (UTC): %s; host: %s cores, load average %s (end); segproxy %s (%s) vs baseline %s\n' "$stamp" "$(nproc)" \
    "$(cut -d' ' -f1-3 /proc/loadavg)" "$(git -C "$SEGPROXY_REPO_ROOT" describe --always --dirty 2>/dev/null || echo unknown)" \
    "$proxy_bin" "$BENCH_BASELINE_BIN"
  printf -- '- pgbench -S -M extended; strace -c -f: %s transactions at %s clients, %s at 1 client; CPU: -R %s -c %s for %s s; %s interleaved rounds, medians\n\n' \
    "$txns" "$clients" "$((txns / 8))" "$rate" "$clients" "$seconds" "$rounds"
  printf '| target | clients | syscalls/txn | fdatasync/txn | futex/txn | epoll_ctl/txn | epoll_wait/txn | records/fdatasync |\n|---|---:|---:|---:|---:|---:|---:|---:|\n'
  for t in "${targets[@]}"; do
    for c in "$clients" 1; do
      printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$t" "$c" "$(col "$t" "$c" 6)" "$(per_txn "$t" "$c" 7)" \
        "$(per_txn "$t" "$c" 8)" "$(per_txn "$t" "$c" 9)" "$(per_txn "$t" "$c" 10)" "$(per_sync "$t" "$c")"
    done
  done
  printf '\n| target | proxy CPU µs/txn at -R %s | latency ms (pgbench) |\n|---|---:|---:|\n' "$rate"
  for t in "${targets[@]}"; do
    printf '| %s | %s | %s |\n' "$t" "$(awk -F'\t' -v t="$t" '$1 == "cpu" && $2 == t { print $5 }' "$raw" | med)" \
      "$(awk -F'\t' -v t="$t" '$1 == "cpu" && $2 == t { print $6 }' "$raw" | med)"
  done
  printf '\n| target | thread | proxy CPU µs/txn (median over rounds) |\n|---|---|---:|\n'
  awk -F'\t' '$1 == "thread" { print $2 "\t" $4 }' "$raw" | sort -u | while IFS=$'\t' read -r t th; do
    printf '| %s | %s | %s |\n' "$t" "$th" "$(awk -F'\t' -v t="$t" -v th="$th" '$1 == "thread" && $2 == t && $4 == th { print $5 }' "$raw" | med)"
  done
  printf '\n<details><summary>raw</summary>\n\n```\n'
  printf '# strace target round clients txns syscalls fdatasync futex epoll_ctl epoll_wait records\n'
  printf '# cpu target round txns µs/txn latency_ms\n'
  printf '# thread target round thread-name µs/txn\n'
  cat "$raw"
  printf '```\n</details>\n'
)"
out="$SEGPROXY_REPO_ROOT/bench/results/wal_group-$stamp.md"
printf '%s\n' "$report" | tee "$out"
sp_log "written to $out"
