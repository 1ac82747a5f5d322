#!/usr/bin/env bash
# Write-ahead audit on the MySQL path (issue 14): system calls and audit records per
# statement for sysbench oltp_point_select (1 point select per event), text and prepared,
# with the audit off and on (durability: group, fail_closed), counted with strace -c -f
# -p on the proxy. Counts, not timings: they do not depend on machine load.
#
# Env: BENCH_PROXY_BIN (build/bin/segproxy), BENCH_EVENTS (4000), BENCH_CLIENTS (4).
# Set-up: bench/lib/bench_env.sh.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/bench_env.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/bench_env.sh" mysql_wal strace

events="${BENCH_EVENTS:-4000}"
clients="${BENCH_CLIENTS:-4}"

bench_env_up mywal "$events" "$clients"
# Tables first: the proxy loads the write-ahead catalog at start; a table it does not
# know yet is not proven read-only (docs/audit.md).
bench_sysbench_prepare 1000
bp_start_segproxy off "$proxy_bin"
BP_EXTRA_YAML="audit: {dir: \"$bench_dir/audit\", durability: group, on_failure: fail_closed}" \
  bp_start_segproxy on "$proxy_bin"

count_records() {  # statement.decision records in the log
  cat "$bench_dir"/audit/*.jsonl 2>/dev/null | grep -a -c '"event":"statement.decision"' || true
}
results="$bench_dir/results.tsv"
: >"$results"
for mode in disable auto; do
  for t in off on; do
    sp_log "sysbench oltp_point_select --db-ps-mode=$mode through $t: $events events, $clients threads"
    before="$(count_records)"
    bench_strace_run "${bp_pid[$t]}" "$bench_dir/strace-$t-$mode.txt" \
      bp_sysbench "$t" oltp_point_select run --table-size=1000 --db-ps-mode="$mode" --point-selects=1 \
      --threads="$clients" --events="$events" --time=0 >"$bench_dir/sysbench-$t-$mode.log" 2>&1 ||
      sp_die "sysbench against $t failed"
    after="$(count_records)"
    IFS=$'\t' read -r total top <<<"$(bench_syscalls "$bench_dir/strace-$t-$mode.txt" "$events" 7)"
    recs="$(awk -v a="$before" -v b="$after" -v n="$events" 'BEGIN { printf "%.2f", (b - a) / n }')"
    printf '%s\t%s\t%s\t%s\t%s\n' "$mode" "$t" "$total" "$recs" "$top" >>"$results"
  done
done
bench_sysbench_cleanup
printf '| ps-mode | audit | syscalls/statement | decision records/statement | most frequent per statement |\n|---|---|---:|---:|---|\n'
awk -F'\t' '{ printf "| %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5 }' "$results"
