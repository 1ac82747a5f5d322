#!/usr/bin/env bash
# The hot path's countable costs (issue 15): system calls per transaction (strace -c
# -f -p on the proxy during a fixed number of transactions) and RSS per idle TLS
# session (SESSIONS sessions held open after one query each: RSS delta / SESSIONS),
# for segproxy on both protocols and PgBouncer on PostgreSQL, all in one run. These
# counts do not depend on machine load; CPU per transaction is bench/cpu_per_tx.sh.
#
# Env: BENCH_PROXY_BIN (build/bin/segproxy), BENCH_BASELINE_BIN (an older segproxy,
#      measured the same way), BENCH_TXNS (8000 per run), BENCH_CLIENTS (4),
#      BENCH_SESSIONS (200), BENCH_SKIP_PGBOUNCER=1, BENCH_SKIP_MYSQL=1.
# Set-up: bench/lib/bench_env.sh.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/bench_env.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/bench_env.sh" hot_path strace

txns="${BENCH_TXNS:-8000}"
clients="${BENCH_CLIENTS:-4}"
sessions="${BENCH_SESSIONS:-200}"

holder_pid=""
# shellcheck disable=SC2317 # invoked by bench/lib/bench_env.sh's cleanup
bench_cleanup_extra() { if [[ -n "$holder_pid" ]]; then sp_stop_pid "$holder_pid" 10; fi; }
bench_env_up hotpath "$txns" "$clients" "$sessions"
bench_start_targets LAST
bench_prepare_data 1 1000

results="$bench_dir/results.tsv"
: >"$results"
for t in "${pg_targets[@]}"; do
  per_client=$((txns / clients))
  sp_log "PostgreSQL syscalls: $t, pgbench -S -M extended -c $clients -t $per_client"
  bp_pgbench "$t" -n -S -M extended -c "$clients" -j 2 -t 1 >/dev/null 2>&1 || sp_die "warm-up against $t failed"
  bench_strace_run "${bp_pid[$t]}" "$bench_dir/strace-pg-$t.txt" \
    bp_pgbench "$t" -n -S -M extended -c "$clients" -j 2 -t "$per_client" >"$bench_dir/pgbench-$t.log" 2>&1
  printf 'pg\t%s\tsyscalls/txn\t%s\n' "$t" "$(bench_syscalls "$bench_dir/strace-pg-$t.txt" "$((per_client * clients))" 6)" >>"$results"
done
if ((mysql_on)); then
  for t in "${targets[@]}"; do
    sp_log "MySQL syscalls: $t, sysbench oltp_point_select --point-selects=1 --threads=$clients --events=$txns"
    bench_strace_run "${bp_pid[$t]}" "$bench_dir/strace-my-$t.txt" \
      bp_sysbench "$t" oltp_point_select run --table-size=1000 --db-ps-mode=disable --point-selects=1 \
      --threads="$clients" --events="$txns" --time=0 >"$bench_dir/sysbench-$t.log" 2>&1
    printf 'mysql\t%s\tsyscalls/query\t%s\n' "$t" "$(bench_syscalls "$bench_dir/strace-my-$t.txt" "$txns" 6)" >>"$results"
  done
fi

# RSS per idle TLS session: SESSIONS sessions, one query each, held open.
rss_run() {  # proto target port cert [user]
  local proto="$1" t="$2" port="$3" cert="$4" user="${5:-}" pid before after
  if [[ "$t" != pgbouncer ]]; then
    # A fresh process for each protocol: memory freed by an earlier measurement stays
    # resident in the allocator and would be reused (a MySQL row measured after the
    # PostgreSQL one read 0.0). Four sessions first, so one-time set-up (the thread's
    # buffer pool, OpenSSL's per-thread state) is not counted per session.
    bp_restart_segproxy "$t"
    BP_MYSQL_PASSWORD="$(cat "$SEGPROXY_TEST_SECRETS/billing_rw.my.pw")" \
      /usr/bin/python3 "$SEGPROXY_REPO_ROOT/bench/lib/idle_sessions.py" "$proto" 127.0.0.1 "$port" 4 \
      "$SEGPROXY_TEST_PKI" "$cert" ${user:+"$user"} </dev/null >/dev/null 2>"$bench_dir/warm-$proto-$t.err" ||
      { cat "$bench_dir/warm-$proto-$t.err" >&2; sp_die "warm-up sessions against $t failed"; }
  fi
  pid="${bp_pid[$t]}"
  sleep 1
  before="$(bp_rss_kib "$pid")"
  local fifo="$bench_dir/hold-$proto-$t.in" outf="$bench_dir/hold-$proto-$t.out" i
  mkfifo "$fifo"
  BP_MYSQL_PASSWORD="$(cat "$SEGPROXY_TEST_SECRETS/billing_rw.my.pw")" \
    /usr/bin/python3 "$SEGPROXY_REPO_ROOT/bench/lib/idle_sessions.py" "$proto" 127.0.0.1 "$port" "$sessions" \
    "$SEGPROXY_TEST_PKI" "$cert" ${user:+"$user"} <"$fifo" >"$outf" 2>"$bench_dir/hold-$proto-$t.err" &
  holder_pid=$!
  exec 7>"$fifo"  # the holder keeps its sessions until this closes
  for ((i = 0; i < 300; i++)); do
    grep -q "^ready $sessions$" "$outf" && break
    kill -0 "$holder_pid" 2>/dev/null || break
    sleep 1
  done
  grep -q "^ready $sessions$" "$outf" || { cat "$bench_dir/hold-$proto-$t.err" >&2; sp_die "idle sessions against $t failed"; }
  sleep 1
  after="$(bp_rss_kib "$pid")"
  exec 7>&-
  wait "$holder_pid" || true
  holder_pid=""
  printf '%s\t%s\tRSS KiB/idle session\t%s\t(%s -> %s KiB)\n' "$proto" "$t" \
    "$(awk -v a="$before" -v b="$after" -v n="$sessions" 'BEGIN { printf "%.1f", (b - a) / n }')" "$before" "$after" >>"$results"
}
for t in "${pg_targets[@]}"; do
  sp_log "PostgreSQL RSS: $sessions idle TLS sessions through $t"
  if [[ "$t" == pgbouncer ]]; then rss_run pg "$t" "${bp_pg_port[$t]}" client-pgbouncer billing_rw; else rss_run pg "$t" "${bp_pg_port[$t]}" client-spiffe; fi
done
if ((mysql_on)); then
  for t in "${targets[@]}"; do
    sp_log "MySQL RSS: $sessions idle TLS sessions through $t"
    rss_run mysql "$t" "${bp_my_port[$t]}" client-spiffe
  done
  bench_sysbench_cleanup
fi

stamp="$(date -u +%Y%m%d-%H%M%S)"
report="$(
  printf '# Hot path counts: syscalls per transaction, RSS per idle TLS session\n\n'
  printf -- '- date (UTC): %s; host: %s cores; segproxy %s (%s)%s\n' "$stamp" "$(nproc)" \
    "$(git -C "$SEGPROXY_REPO_ROOT" describe --always --dirty 2>/dev/null || echo unknown)" "$proxy_bin" \
    "${BENCH_BASELINE_BIN:+; baseline $BENCH_BASELINE_BIN}"
  printf -- '- syscalls: strace -c -f -p <proxy> over %s transactions (pgbench -S -M extended, %s clients; sysbench oltp_point_select, 1 point select per event, --db-ps-mode=disable); connection set-up included\n' "$txns" "$clients"
  printf -- '- RSS: %s sessions over client mTLS, one query each, held idle; (VmRSS after - before) / %s; segproxy restarted before each protocol and warmed with 4 sessions\n\n' "$sessions" "$sessions"
  printf '| protocol | target | measure | value | detail |\n|---|---|---|---:|---|\n'
  awk -F'\t' '{ printf "| %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5 }' "$results"
)"
mkdir -p "$SEGPROXY_REPO_ROOT/bench/results/hot_path-$stamp"
cp "$bench_dir"/strace-*.txt "$SEGPROXY_REPO_ROOT/bench/results/hot_path-$stamp/"  # the full strace -c summaries
out="$SEGPROXY_REPO_ROOT/bench/results/hot_path-$stamp.md"
printf '%s\n' "$report" | tee "$out"
sp_log "written to $out"
