#!/usr/bin/env bash
# CPU per shipped audit record (issue 17, docs/audit.md "Central store"), independent of
# TPS noise: the shipper thread's CPU (segproxy-ship, /proc/PID/task/TID/schedstat, ns)
# and the store backend's CPU (its pid from pg_stat_activity, /proc/PID/schedstat) per
# record that reached the store, in two phases per round and binary:
#
#   fixed rate  pgbench -S -M extended -R BENCH_RATE through the audited proxy with
#               shipping on; CPU from before the run until the store has caught up.
#   catch-up    BENCH_BACKLOG_SECONDS of unthrottled pgbench with shipping OFF (same log
#               directory and instance), then the proxy restarted with shipping on: the
#               records/s the shipper reaches while emptying the backlog and its CPU (a
#               fresh thread and a fresh store backend: their whole CPU, connect included).
#
# It then sets 20,000 records/s x (proxy + store µs per record) against 5 % of the
# machine (the issue's "<= 5 % TPS" when pgbench -S saturates every core). The store is a
# database in the same test PostgreSQL. CPU per record moves far less with machine load
# than TPS does; bench/audit_ship_compare.sh gives the TPS view. Not part of CI.
#
# Env: BENCH_RATE (3000 tx/s), BENCH_SECONDS (20), BENCH_BACKLOG_SECONDS (40),
#      BENCH_ROUNDS (2), BENCH_CLIENTS (16), BENCH_SCALE (10), BENCH_BATCH (5000 records
#      per COPY), BENCH_INTERVAL (200ms), BENCH_PROXY_BIN (build/bin/segproxy),
#      BENCH_BASELINE_BIN (an older segproxy: measured in the same interleaved rounds; it
#      must name its shipper thread segproxy-ship), BENCH_STORE_VERSION /
#      BENCH_BASELINE_STORE_VERSION (the schema version of each binary's store database,
#      audit_bench_segproxy / audit_bench_baseline, made by this build's segproxyctl
#      `audit store init --schema-version`; default the newest; a binary before session 11
#      ships only into version 1), BENCH_BASELINE_BATCH (the baseline's batch, default
#      BENCH_BATCH: the same binary twice with two batch sizes), BENCH_PERF=1 (perf record -a -g over
#      round 1's catch-ups into BENCH_PERF_DIR (default: bench_dir, removed at exit)
#      /perf-NAME.data; the report ends with their top symbols).
#      Set-up: bench/lib/bench_env.sh.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/bench_env.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/bench_env.sh" audit_ship_cost curl psql

rate="${BENCH_RATE:-3000}"
seconds="${BENCH_SECONDS:-20}"
backlog_seconds="${BENCH_BACKLOG_SECONDS:-40}"
rounds="${BENCH_ROUNDS:-2}"
clients="${BENCH_CLIENTS:-16}"
scale="${BENCH_SCALE:-10}"
batch="${BENCH_BATCH:-5000}"
interval="${BENCH_INTERVAL:-200ms}"
ctl_bin="$(sp_build_dir)/bin/segproxyctl"
[[ -x "$ctl_bin" ]] || sp_die "build segproxyctl first"

bench_env_up ship_cost "$rate" "$seconds" "$backlog_seconds" "$rounds" "$clients" "$scale" "$batch"
su_conn() {
  printf 'host=%s port=%s user=postgres dbname=%s sslmode=disable' "$SEGPROXY_TEST_PGSOCKDIR" "$SEGPROXY_TEST_PGPORT" "$1"
}
# store_sql NAME SQL: in the store database of binary NAME.
store_sql() { psql -X -At -v ON_ERROR_STOP=1 "$(su_conn "audit_bench_$1")" -c "$2"; }

declare -A bin store_version ship_batch
bin[segproxy]="$proxy_bin"
ship_batch[segproxy]="$batch"
ship_batch[baseline]="${BENCH_BASELINE_BATCH:-$batch}"
[[ "${ship_batch[baseline]}" =~ ^[0-9]+$ ]] || sp_die "BENCH_BASELINE_BATCH must be a whole number"
store_version[segproxy]="${BENCH_STORE_VERSION:-}"
names=(segproxy)
if [[ -n "${BENCH_BASELINE_BIN:-}" ]]; then
  [[ -x "$BENCH_BASELINE_BIN" ]] || sp_die "BENCH_BASELINE_BIN $BENCH_BASELINE_BIN is not executable"
  bin[baseline]="$BENCH_BASELINE_BIN"
  store_version[baseline]="${BENCH_BASELINE_STORE_VERSION:-}"
  names+=(baseline)
fi
(umask 077 && openssl rand -hex 24 >"$bench_dir/ship.pw")
for name in "${names[@]}"; do
  psql -X -q -v ON_ERROR_STOP=1 "$(su_conn postgres)" -c "CREATE DATABASE audit_bench_$name" >/dev/null
  "$ctl_bin" audit store init --postgres "$(su_conn "audit_bench_$name")" --shipper-role bench_shipper \
    --shipper-password-file "$bench_dir/ship.pw" ${store_version[$name]:+--schema-version "${store_version[$name]}"} >/dev/null
done
# Tables before any proxy starts (the write-ahead catalog, docs/audit.md).
bench_pgbench_init "$scale"

metrics_port=""
# proxy_up NAME on|off: one segproxy at a time (so the store has one shipping backend),
# log directory and instance per NAME, the metrics listener for the lag.
running=""
proxy_up() {
  local name="$1" mode="$2" ship=""
  sp_pick_port metrics_port 19090
  if [[ "$mode" == on ]]; then
    ship="  ship:
    postgres: {host: 127.0.0.1, port: $SEGPROXY_TEST_PGPORT, dbname: audit_bench_$name, user: bench_shipper, password_file: \"$bench_dir/ship.pw\", tls: {mode: verify-full, ca: \"$SEGPROXY_TEST_PKI/ca.crt\"}}
    batch: ${ship_batch[$name]}
    interval: $interval"
  fi
  BP_EXTRA_YAML="metrics: {listen: \"127.0.0.1:$metrics_port\"}
audit:
  dir: \"$bench_dir/audit-$name\"
  instance: bench-$name
  durability: group
$ship" bp_start_segproxy "$name-$mode" "${bin[$name]}"
  running="$name-$mode"
}
proxy_down() {
  sp_stop_pid "${bp_pid[$running]}" 10
  unset "bp_pid[$running]"
  running=""
}
ship_tid() {  # PID: the shipper thread's id (waits for it)
  local deadline=$((SECONDS + 60)) t
  while ((SECONDS < deadline)); do
    for t in /proc/"$1"/task/*; do
      if [[ "$(cat "$t/comm" 2>/dev/null)" == segproxy-ship ]]; then
        basename "$t"
        return 0
      fi
    done
    sleep 0.1
  done
  sp_die "no thread named segproxy-ship in segproxy $1 (a binary that does not name it?)"
}
store_backend_pid() {  # the one shipping backend (waits for it)
  local deadline=$((SECONDS + 60)) p
  while ((SECONDS < deadline)); do
    p="$(store_sql segproxy "SELECT string_agg(pid::text, ' ') FROM pg_stat_activity WHERE usename = 'bench_shipper'")"
    if [[ "$p" =~ ^[0-9]+$ ]]; then
      printf '%s\n' "$p"
      return 0
    fi
    sleep 0.1
  done
  sp_die "not exactly one store backend of bench_shipper: '$p'"
}
cpu_ns() { awk '{ print $1 }' "$1"; }  # a schedstat file: ns on CPU
head_seq() { store_sql "$1" "SELECT coalesce(max(seq), 0) FROM segproxy_audit.records WHERE instance = 'bench-$1'"; }
lag_records() {
  curl -fsS "http://127.0.0.1:$metrics_port/metrics" | awk '$1 == "segproxy_audit_ship_lag_records" { print $2 }'
}
# caught_up NAME: the shipper reports no lag and the store's head stands still for 1 s.
caught_up() {
  local deadline=$((SECONDS + 900)) a b l
  while ((SECONDS < deadline)); do
    l="$(lag_records || true)"
    if [[ "$l" == 0 ]]; then
      a="$(head_seq "$1")"
      sleep 1
      b="$(head_seq "$1")"
      [[ "$a" == "$b" && "$(lag_records || true)" == 0 ]] && return 0
    else
      sleep 0.2
    fi
  done
  sp_die "the shipper of $1 did not catch up within 900 s"
}
now_ns() { date +%s%N; }

perf_pid=""
perf_dir="${BENCH_PERF_DIR:-$bench_dir}"
mkdir -p "$perf_dir"
declare -A perf_backend
# shellcheck disable=SC2317 # called by bench_env.sh's exit trap
bench_cleanup_extra() { if [[ -n "$perf_pid" ]]; then kill -INT "$perf_pid" 2>/dev/null || true; fi; }
raw="$bench_dir/raw.tsv"
: >"$raw"
# row PHASE NAME ROUND RECORDS RATE_RECORDS RATE_SECONDS SHIP_NS STORE_NS: CPU per RECORDS,
# records/s = RATE_RECORDS / RATE_SECONDS.
row() {
  awk -v p="$1" -v n="$2" -v r="$3" -v c="$4" -v rc="$5" -v s="$6" -v a="$7" -v b="$8" 'BEGIN {
    if (c <= 0 || s <= 0) { printf "%s\t%s\t%s\t%d\t%.2f\t-\t-\t-\n", p, n, r, c, s; exit }
    printf "%s\t%s\t%s\t%d\t%.2f\t%.0f\t%.2f\t%.2f\n", p, n, r, c, s, rc / s, a / 1000 / c, b / 1000 / c }' >>"$raw"
}

for ((r = 1; r <= rounds; r++)); do
  for name in "${names[@]}"; do
    # Fixed rate, shipping on.
    proxy_up "$name" on
    pid="${bp_pid[$running]}"
    tid="$(ship_tid "$pid")"
    caught_up "$name"
    bpid="$(store_backend_pid)"
    s0="$(head_seq "$name")"
    a0="$(cpu_ns "/proc/$pid/task/$tid/schedstat")"
    b0="$(cpu_ns "/proc/$bpid/schedstat")"
    sp_log "round $r/$rounds, $name: fixed rate, pgbench -S -M extended -R $rate -c $clients, ${seconds}s"
    bp_pgbench "$running" -n -S -M extended -R "$rate" -c "$clients" -j 2 -T "$seconds" >"$bench_dir/rate-$name-$r.log" 2>&1 ||
      { tail -n 20 "$bench_dir/rate-$name-$r.log" >&2; sp_die "pgbench failed (its log above)"; }
    caught_up "$name"
    s1="$(head_seq "$name")"
    a1="$(cpu_ns "/proc/$pid/task/$tid/schedstat")"
    b1="$(cpu_ns "/proc/$bpid/schedstat")"
    row rate "$name" "$r" $((s1 - s0)) $((s1 - s0)) "$seconds" $((a1 - a0)) $((b1 - b0))
    proxy_down

    # Backlog with shipping off, then the catch-up.
    proxy_up "$name" off
    sp_log "round $r/$rounds, $name: backlog, shipping off, pgbench -S -M extended -c $clients, ${backlog_seconds}s"
    bp_pgbench "$running" -n -S -M extended -c "$clients" -j 2 -T "$backlog_seconds" >"$bench_dir/fill-$name-$r.log" 2>&1 ||
      { tail -n 20 "$bench_dir/fill-$name-$r.log" >&2; sp_die "pgbench failed (its log above)"; }
    proxy_down
    s0="$(head_seq "$name")"
    if [[ "${BENCH_PERF:-0}" == 1 && "$r" == 1 ]]; then
      perf record -a -g -o "$perf_dir/perf-$name.data" >"$perf_dir/perf-$name.log" 2>&1 &
      perf_pid=$!
    fi
    proxy_up "$name" on
    pid="${bp_pid[$running]}"
    tid="$(ship_tid "$pid")"
    caught_up "$name"
    if [[ -n "$perf_pid" ]]; then
      kill -INT "$perf_pid"
      wait "$perf_pid" || true
      perf_pid=""
    fi
    s1="$(head_seq "$name")"
    bpid="$(store_backend_pid)"
    a1="$(cpu_ns "/proc/$pid/task/$tid/schedstat")"
    b1="$(cpu_ns "/proc/$bpid/schedstat")"
    [[ -f "$perf_dir/perf-$name.data" && -z "${perf_backend[$name]:-}" ]] && perf_backend[$name]="$bpid"
    # Records/s from the store's shipped_at (each COPY's transaction start): the records
    # of every batch but the last over the time from the first batch's start to the last's.
    IFS=$'\t' read -r rate_records secs < <(store_sql "$name" "
      WITH b AS (SELECT shipped_at, count(*) AS n FROM segproxy_audit.records
                 WHERE instance = 'bench-$name' AND seq > $s0 GROUP BY shipped_at)
      SELECT sum(n) - (SELECT n FROM b ORDER BY shipped_at DESC LIMIT 1),
             coalesce(extract(epoch FROM max(shipped_at) - min(shipped_at)), 0) FROM b" | tr '|' '\t')
    row catchup "$name" "$r" $((s1 - s0)) "$rate_records" "$secs" "$a1" "$b1"
    proxy_down
  done
done

median() {  # PHASE NAME COLUMN
  awk -F'\t' -v p="$1" -v n="$2" -v c="$3" '$1 == p && $2 == n && $c != "-" { print $c }' "$raw" | sort -g |
    awk '{ x[NR] = $1 } END { if (NR == 0) { print "-"; exit }
      if (NR % 2) printf "%.2f\n", x[(NR + 1) / 2]; else printf "%.2f\n", (x[NR / 2] + x[NR / 2 + 1]) / 2 }'
}
stamp="$(date -u +%Y%m%d-%H%M%S)"
cores="$(nproc)"
report="$(
  printf '# CPU per shipped audit record\n\n'
  printf -- '- date (UTC): %s; host: %s cores, load average %s; segproxy %s%s\n' "$stamp" "$cores" \
    "$(cut -d' ' -f1-3 /proc/loadavg)" "$(git -C "$SEGPROXY_REPO_ROOT" describe --always --dirty 2>/dev/null || echo unknown)" \
    "${BENCH_BASELINE_BIN:+; baseline $BENCH_BASELINE_BIN}"
  printf -- '- fixed rate: pgbench -S -M extended -R %s -c %s, %s s; catch-up: %s s of unthrottled pgbench with shipping off, then shipping on; batch %s, interval %s; %s interleaved rounds, median\n' \
    "$rate" "$clients" "$seconds" "$backlog_seconds" "$batch${BENCH_BASELINE_BIN:+ (baseline ${ship_batch[baseline]})}" "$interval" "$rounds"
  printf -- '- proxy = the segproxy-ship thread (schedstat), store = its PostgreSQL backend (same host); store schema version:'
  for name in "${names[@]}"; do printf ' %s %s' "$name" "${store_version[$name]:-newest}"; done
  printf '\n\n'
  printf '| binary | phase | records | records/s | proxy µs/record | store µs/record |\n|---|---|---:|---:|---:|---:|\n'
  for name in "${names[@]}"; do
    for phase in rate catchup; do
      printf '| %s | %s | %s | %s | %s | %s |\n' "$name" "$phase" "$(median "$phase" "$name" 4)" \
        "$(median "$phase" "$name" 6)" "$(median "$phase" "$name" 7)" "$(median "$phase" "$name" 8)"
    done
  done
  for name in "${names[@]}"; do
    awk -v p="$(median catchup "$name" 7)" -v s="$(median catchup "$name" 8)" -v k="$cores" -v n="$name" 'BEGIN {
      if (p == "-" || s == "-") exit
      budget = 0.05 * k * 1e6 / 20000
      printf "\n%s: 20,000 records/s x (%.2f + %.2f) µs = %.3f cores (proxy %.3f, store %.3f); ", n, p, s, 20000 * (p + s) / 1e6, 20000 * p / 1e6, 20000 * s / 1e6
      printf "5 %% of %d cores = %.3f cores, i.e. %.2f µs per record in all\n", k, 0.05 * k, budget }'
  done
  printf '\n<details><summary>raw (phase, binary, round, records, seconds, records/s, proxy µs/record, store µs/record)</summary>\n\n```\n'
  cat "$raw"
  printf '```\n</details>\n'
  for name in "${!perf_backend[@]}"; do
    for who in "--comm segproxy-ship" "--pid ${perf_backend[$name]}"; do
      printf '\n<details><summary>perf, %s catch-up, %s (self, top 30)</summary>\n\n```\n' "$name" "$who"
      # shellcheck disable=SC2086 # $who: two words on purpose
      perf report -i "$perf_dir/perf-$name.data" $who --no-children -g none --sort dso,sym --stdio 2>/dev/null |
        grep -v '^#' | grep -v '^$' | grep '%' | head -n 30
      printf '```\n</details>\n'
    done
  done
)"
mkdir -p "$SEGPROXY_REPO_ROOT/bench/results"
out="$SEGPROXY_REPO_ROOT/bench/results/audit_ship_cost-$stamp.md"
printf '%s\n' "$report" | tee "$out"
sp_log "written to $out"
