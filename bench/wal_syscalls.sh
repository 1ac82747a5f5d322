#!/usr/bin/env bash
# Write-ahead audit (issue 14): system calls and audit records per transaction of
# pgbench -S through segproxy with `audit: {durability: group, on_failure: fail_closed}`,
# for -M simple and -M extended (strace -c -f -p on the proxy during a fixed number of
# transactions; records counted in the log afterwards). Counts, not timings: they do
# not depend on machine load. TPS belongs to bench/pg_compare.sh on a quiet machine.
#
# Env: BENCH_PROXY_BIN (build/bin/segproxy), BENCH_TXNS (4000 per mode), BENCH_CLIENTS (4),
# BENCH_METADATA (1: the listener has backend.metadata, so the WalCatalog is loaded and
# pgbench's SELECT is proven read-only; 0: no catalog, every table read is escaping).
# Set-up: bench/lib/bench_env.sh.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/bench_env.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/bench_env.sh" wal_syscalls strace

txns="${BENCH_TXNS:-4000}"
clients="${BENCH_CLIENTS:-4}"

bench_env_up wal "$txns" "$clients"
audit_dir="$bench_dir/audit"
export BP_SEGPROXY_EXTRA_YAML="audit: {dir: \"$audit_dir\", durability: group, on_failure: fail_closed}"
metadata="${BENCH_METADATA:-1}"
if [[ "$metadata" == 1 ]]; then
  export BP_LOG_LEVEL=info  # wal_catalog.loaded is logged at info
else
  export BP_PG_METADATA=""  # no metadata login: no catalog
fi
# The tables exist before the proxy starts, so its first catalog load sees them.
bench_pgbench_init 1
bp_start_segproxy segproxy "$proxy_bin"
if [[ "$metadata" == 1 ]]; then
  for _ in $(seq 1 120); do
    grep -q 'wal_catalog.loaded' "$SEGPROXY_TEST_DIR/segproxy-segproxy.log" && break
    sleep 0.5
  done
  grep -q 'wal_catalog.loaded' "$SEGPROXY_TEST_DIR/segproxy-segproxy.log" || sp_die "no WalCatalog loaded within 60 s"
fi
echo "backend.metadata (WalCatalog loaded): $metadata"

per_client=$((txns / clients))
n=$((per_client * clients))
for mode in simple extended; do
  bp_pgbench segproxy -n -S -M "$mode" -c "$clients" -j 2 -t 1 >/dev/null 2>&1 || sp_die "warm-up failed"
  before="$(cat "$audit_dir"/audit-*.jsonl 2>/dev/null | wc -l)"
  bytes_before="$(cat "$audit_dir"/audit-*.jsonl 2>/dev/null | tr -d '\0' | wc -c)"
  bench_strace_run "${bp_pid[segproxy]}" "$bench_dir/strace-$mode.txt" \
    bp_pgbench segproxy -n -S -M "$mode" -c "$clients" -j 2 -t "$per_client" >"$bench_dir/pgbench-$mode.log" 2>&1 ||
    sp_die "pgbench -M $mode failed"
  sleep 1 # the last records reach the log
  after="$(cat "$audit_dir"/audit-*.jsonl | wc -l)"
  bytes_after="$(cat "$audit_dir"/audit-*.jsonl | tr -d '\0' | wc -c)"
  IFS=$'\t' read -r total top <<<"$(bench_syscalls "$bench_dir/strace-$mode.txt" "$n" 8)"
  printf 'pgbench -S -M %s: %s syscalls/txn (%s), %s records/txn, %s bytes/txn\n' "$mode" "$total" "$top" \
    "$(awk -v a="$before" -v b="$after" -v n="$n" 'BEGIN { printf "%.2f", (b - a) / n }')" \
    "$(awk -v a="$bytes_before" -v b="$bytes_after" -v n="$n" 'BEGIN { printf "%.0f", (b - a) / n }')"
done
