#!/usr/bin/env bash
# Write-ahead audit on the MySQL path (issue 14): system calls and audit records per
# statement for sysbench oltp_point_select (1 point select per event), text and prepared,
# with the audit off and on (durability: group, fail_closed), counted with strace -c -f
# -p on the proxy. Counts, not timings: they do not depend on machine load.
#
# Env: BENCH_PROXY_BIN (build/bin/segproxy), BENCH_EVENTS (4000), BENCH_CLIENTS (4).
set -euo pipefail

export SP_LOG_TAG=mysql_wal
# shellcheck source-path=SCRIPTDIR source=../scripts/lib/testenv.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/testenv.sh"
# shellcheck source-path=SCRIPTDIR source=lib/proxies.sh
source "$SEGPROXY_REPO_ROOT/bench/lib/proxies.sh"
cd "$SEGPROXY_REPO_ROOT"

events="${BENCH_EVENTS:-4000}"
clients="${BENCH_CLIENTS:-4}"
proxy_bin="${BENCH_PROXY_BIN:-$(sp_build_dir)/bin/segproxy}"
command -v strace >/dev/null || sp_die "strace is not installed"

bench_dir=""
# shellcheck disable=SC2317 # invoked by trap
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  bp_stop_all
  if [[ -n "$bench_dir" ]]; then testenv_down "$bench_dir" || true; fi
  exit "$rc"
}
trap cleanup EXIT

bench_dir="$(mktemp -d /tmp/segproxy-mywal.XXXXXX)"
chmod 0755 "$bench_dir"
SEGPROXY_TESTENV_ETCD=0 testenv_up "$bench_dir"
# Tables first: the proxy loads the write-ahead catalog at start; a table it does not
# know yet is not proven read-only (docs/audit.md).
bp_sysbench direct oltp_point_select cleanup >/dev/null 2>&1 || true
bp_sysbench direct oltp_point_select prepare --table-size=1000 >"$bench_dir/sysbench-prepare.log" 2>&1 ||
  sp_die "sysbench prepare failed"
bp_start_segproxy off "$proxy_bin"
BP_EXTRA_YAML="audit: {dir: \"$bench_dir/audit\", durability: group, on_failure: fail_closed}" \
  bp_start_segproxy on "$proxy_bin"

count_records() {  # statement.decision records in the log
  cat "$bench_dir"/audit/*.jsonl 2>/dev/null | grep -c '"event":"statement.decision"' || true
}
results="$bench_dir/results.tsv"
: >"$results"
for mode in disable auto; do
  for t in off on; do
    sp_log "sysbench oltp_point_select --db-ps-mode=$mode through $t: $events events, $clients threads"
    before="$(count_records)"
    strace -c -f -p "${bp_pid[$t]}" -o "$bench_dir/strace-$t-$mode.txt" 2>/dev/null &
    st=$!
    sleep 1
    bp_sysbench "$t" oltp_point_select run --table-size=1000 --db-ps-mode="$mode" --point-selects=1 \
      --threads="$clients" --events="$events" --time=0 >"$bench_dir/sysbench-$t-$mode.log" 2>&1 ||
      sp_die "sysbench against $t failed"
    kill -INT "$st"
    wait "$st" || true
    after="$(count_records)"
    rows="$(awk '/^------/ { sep++; next } sep == 1 && NF >= 5 && $4 ~ /^[0-9]+$/ { print $4, $NF }' "$bench_dir/strace-$t-$mode.txt")"
    total="$(awk -v n="$events" '{ s += $1 } END { printf "%.2f", s / n }' <<<"$rows")"
    top="$(sort -rn <<<"$rows" | head -n 7 | awk -v n="$events" '{ printf "%s %.2f, ", $2, $1 / n }')"
    recs="$(awk -v a="$before" -v b="$after" -v n="$events" 'BEGIN { printf "%.2f", (b - a) / n }')"
    printf '%s\t%s\t%s\t%s\t%s\n' "$mode" "$t" "$total" "$recs" "$top" >>"$results"
  done
done
bp_sysbench direct oltp_point_select cleanup >/dev/null 2>&1 || true
printf '| ps-mode | audit | syscalls/statement | decision records/statement | most frequent per statement |\n|---|---|---:|---:|---|\n'
awk -F'\t' '{ printf "| %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5 }' "$results"
