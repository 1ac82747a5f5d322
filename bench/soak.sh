#!/usr/bin/env bash
# shellcheck disable=SC2016 # Markdown backquotes in the report's printf formats
# Soak with injected faults (issue 20): DURATION of mixed PostgreSQL and MySQL load
# through one segproxy while faults are injected on a schedule, then a report. Not CI.
#
# Usage: bench/soak.sh DURATION   (seconds, or 3m / 30m / 1h)
# Env: BENCH_PROXY_BIN / BENCH_CTL_BIN (build/bin/segproxy, segproxyctl),
#      BENCH_SOAK_WINDOW (seconds per fault window; default DURATION/9, 20..60),
#      BENCH_SOAK_FAULTS (the cycle of fault windows, space-separated; default all of
#      them below; e.g. without proxy_kill, one proxy process lives the whole run, which
#      is what tells allocator retention after a flood from a leak).
#
# Load, all through segproxy over client mTLS, for the whole run (restarted in chunks,
# so a fault that ends a client does not end the load):
#   pgbench tpcb-like -c 4, pgbench select-only -c 4, sysbench oltp_read_write 4 threads,
#   one probe INSERT per second (pgbench_soak_probe) whose success is remembered.
# Background all the time: `segproxyctl reload` every 3 s and a `revoke --force --ttl`
# of a made-up SPIFFE prefix every 5 s (plus its unrevoke).
# Fault windows, in a cycle after a quiet warm-up window:
#   pg_restart    PostgreSQL restarted (fast shutdown) at the window's start
#   my_restart    MariaDB restarted at the window's start
#   audit_full    the audit directory's file system (a tmpfs) filled, freed at half-window
#   slow_reader   a client reading a large result at 1 KB/s
#   flood         500 TLS handshakes/s + 1,000 half-open connections (bench/lib/flood_client.py)
#   proxy_kill    segproxy SIGKILLed at the window's start and started again 2 s later
#   quiet         no fault (recovery)
# Report (stdout and bench/results/soak-<UTC>.md): proxy RSS and open fds over time
# (growth after warm-up), pgbench p99 and transactions and sysbench p99 per window,
# errors by class, `segproxyctl audit verify`, committed probe rows found in the audit log.
set -euo pipefail

export SP_LOG_TAG=soak
# shellcheck source-path=SCRIPTDIR source=../scripts/lib/testenv.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/testenv.sh"
# shellcheck source-path=SCRIPTDIR source=lib/proxies.sh
source "$SEGPROXY_REPO_ROOT/bench/lib/proxies.sh"
cd "$SEGPROXY_REPO_ROOT"

arg="${1:?usage: bench/soak.sh DURATION (seconds, or 3m / 30m / 1h)}"
case "$arg" in
  *h) duration=$((${arg%h} * 3600)) ;;
  *m) duration=$((${arg%m} * 60)) ;;
  *s) duration="${arg%s}" ;;
  *) duration="$arg" ;;
esac
if ! [[ "$duration" =~ ^[0-9]+$ ]] || ((duration < 60)); then sp_die "DURATION must be at least 60 s: $arg"; fi
window="${BENCH_SOAK_WINDOW:-$((duration / 9))}"
((window < 20)) && window=20
((window > 60)) && [[ -z "${BENCH_SOAK_WINDOW:-}" ]] && window=60
proxy_bin="${BENCH_PROXY_BIN:-$(sp_build_dir)/bin/segproxy}"
ctl_bin="${BENCH_CTL_BIN:-$(sp_build_dir)/bin/segproxyctl}"
[[ -x "$ctl_bin" ]] || sp_die "$ctl_bin not found"

bench_dir=""
work=""
audit_mnt=""
bg_pids=()
# shellcheck disable=SC2317 # invoked by trap
cleanup() {
  local rc=$? p
  trap - EXIT INT TERM
  for p in "${bg_pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${bg_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  # The proxy restarted by the proxy_kill fault is no bp_* proxy: stop it by its pid file.
  if [[ -n "${work:-}" && -s "$work/proxy.pid" ]]; then sp_stop_pid "$(cat "$work/proxy.pid")" 10; fi
  bp_stop_all
  if [[ -n "$audit_mnt" ]]; then umount "$audit_mnt" 2>/dev/null || true; fi
  if [[ -n "$bench_dir" ]]; then testenv_down "$bench_dir" || true; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bench_dir="$(mktemp -d /tmp/segproxy-soak.XXXXXX)"
chmod 0755 "$bench_dir"
SEGPROXY_TESTENV_ETCD=0 testenv_up "$bench_dir"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
work="$bench_dir/soak"
mkdir -p "$work/pgtx"

# The audit log on its own small file system, so that it can be filled (tmpfs; without
# the right to mount, the audit_full fault is skipped and the report says so).
audit_mnt="$work/auditfs"
mkdir -p "$audit_mnt"
# Sized for the run: with statement_text full the load writes 1-2 MiB of audit per second,
# and a tmpfs the log fills by itself would turn every later window into "audit full"
# (the first 3-minute runs filled 256 MiB before the end). Only what is written (and the
# audit_full fault's filler, while it lasts) takes memory.
audit_mib=$((512 + duration * 4))
if mount -t tmpfs -o "size=${audit_mib}m" tmpfs "$audit_mnt" 2>/dev/null; then
  audit_fill=1
else
  audit_fill=0
  audit_mnt_failed="$audit_mnt"
  audit_mnt=""
  sp_log "cannot mount a tmpfs: the audit_full fault is skipped"
fi
audit_dir="${audit_mnt:-$audit_mnt_failed}/audit"
mkdir -p "$audit_dir"
metrics_port=""
sp_pick_port metrics_port 19287
admin_sock="$work/admin.sock"
export BP_EXTRA_YAML="metrics: {listen: \"127.0.0.1:$metrics_port\"}
admin: {socket: \"$admin_sock\", revocations_file: \"$work/revocations.json\"}
audit: {dir: \"$audit_dir\", statement_text: full}"
bp_start_segproxy segproxy "$proxy_bin"
echo "${bp_pid[segproxy]}" >"$work/proxy.pid"
pg_port="${bp_pg_port[segproxy]}"
cfg="$SEGPROXY_TEST_DIR/segproxy-segproxy.yaml"
proxy_log="$SEGPROXY_TEST_DIR/segproxy-segproxy.log"

start_proxy() {  # after a SIGKILL: the same binary and configuration
  "$proxy_bin" --config "$cfg" >>"$proxy_log" 2>&1 &
  echo $! >"$work/proxy.pid"
  sp_wait_port "$pg_port" 60 "$(cat "$work/proxy.pid")" || sp_log "segproxy did not come back"
}

sp_log "preparing: pgbench -i -s 4, sysbench oltp_read_write prepare, probe table (direct)"
bp_pgbench direct -i -q -s 4 >"$work/pgbench-init.log" 2>&1 || sp_die "pgbench -i failed"
PGPASSWORD="$(cat "$SEGPROXY_TEST_SECRETS/billing_rw.pw")" "$(sp_pg_bindir)/psql" -X -q -v ON_ERROR_STOP=1 \
  "$(bp_conninfo direct)" -c "create table if not exists pgbench_soak_probe(id bigint primary key, at timestamptz default now())" \
  >/dev/null || sp_die "probe table"
bp_sysbench direct oltp_read_write cleanup >/dev/null 2>&1 || true
bp_sysbench direct oltp_read_write prepare --table-size=10000 >"$work/sysbench-prepare.log" 2>&1 ||
  sp_die "sysbench prepare failed"

start_epoch="$(date +%s)"
end_epoch=$((start_epoch + duration))
echo "$end_epoch" >"$work/end"

# ---- load (each loop restarts its client until the end) -------------------------------
pg_loop() {  # NAME PGBENCH-ARGS...
  local name="$1" n=0 left
  shift
  while left=$((end_epoch - $(date +%s))) && ((left > 0)); do
    ((left > 10)) && left=10
    n=$((n + 1))
    bp_pgbench segproxy -n "$@" -c 4 -j 2 -T "$left" -l --log-prefix="$work/pgtx/$name.$n" \
      >>"$work/pgbench-$name.out" 2>&1 || sleep 1
  done
}
my_loop() {
  local left
  while left=$((end_epoch - $(date +%s))) && ((left > 0)); do
    ((left > 10)) && left=10
    printf 'chunk_start %s\n' "$(date +%s)" >>"$work/sysbench.out"
    bp_sysbench segproxy oltp_read_write run --table-size=10000 --threads=4 --time="$left" --percentile=99 \
      --mysql-ignore-errors=all >>"$work/sysbench.out" 2>&1 || sleep 1
    printf 'chunk_end %s\n' "$(date +%s)" >>"$work/sysbench.out"
  done
}
probe_loop() {
  local id=900000000
  while (($(date +%s) < end_epoch)); do
    id=$((id + 1))
    if "$(sp_pg_bindir)/psql" -X -q -v ON_ERROR_STOP=1 "$(bp_conninfo segproxy) connect_timeout=10" \
      -c "insert into pgbench_soak_probe(id) values ($id)" >/dev/null 2>>"$work/probe.err"; then
      echo "$id" >>"$work/probes-committed.txt"
    else
      echo "$id" >>"$work/probes-failed.txt"
    fi
    sleep 1
  done
}
admin_loop() {
  local i=0
  while (($(date +%s) < end_epoch)); do
    i=$((i + 1))
    if "$ctl_bin" reload --socket "$admin_sock" >>"$work/admin.out" 2>&1; then echo reload_ok; else echo reload_failed; fi
    if ((i % 2 == 0)); then
      local prefix="spiffe://example.org/ns/soak-victim-$i/"
      if "$ctl_bin" revoke --spiffe-prefix "$prefix" --force --ttl 10s --reason soak --socket "$admin_sock" \
        >>"$work/admin.out" 2>&1; then echo revoke_ok; else echo revoke_failed; fi
      "$ctl_bin" unrevoke --spiffe-prefix "$prefix" --socket "$admin_sock" >>"$work/admin.out" 2>&1 || true
    fi
    sleep 3
  done >>"$work/admin-results.txt"
}
sampler() {
  local pid fault
  while (($(date +%s) < end_epoch + 5)); do
    pid="$(cat "$work/proxy.pid" 2>/dev/null || echo 0)"
    fault="$(cat "$work/fault" 2>/dev/null || echo none)"
    if [[ -r "/proc/$pid/status" ]]; then
      printf '%s\t%s\t%s\t%s\t%s\n' "$(date +%s)" "$fault" "$(bp_rss_kib "$pid")" \
        "$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)" "$pid" >>"$work/samples.tsv"
    fi
    sleep 2
  done
}
echo warmup >"$work/fault"
pg_loop tpcb &
bg_pids+=($!)
pg_loop select -S &
bg_pids+=($!)
my_loop &
bg_pids+=($!)
probe_loop &
bg_pids+=($!)
admin_loop &
bg_pids+=($!)
sampler &
bg_pids+=($!)

# ---- the fault schedule -----------------------------------------------------------------
read -r -a faults <<<"${BENCH_SOAK_FAULTS:-pg_restart my_restart audit_full slow_reader flood proxy_kill quiet}"
for f in "${faults[@]}"; do
  case "$f" in
    pg_restart | my_restart | audit_full | slow_reader | flood | proxy_kill | quiet) ;;
    *) sp_die "BENCH_SOAK_FAULTS: unknown fault window '$f'" ;;
  esac
done
((${#faults[@]} > 0)) || sp_die "BENCH_SOAK_FAULTS: no fault window"
: >"$work/windows.tsv"
sleep_until() { local t="$1" now; now="$(date +%s)"; ((t > now)) && sleep $((t - now)); return 0; }
w_start="$start_epoch"
w_end=$((start_epoch + window))
sleep_until "$w_end"
printf 'warmup\t%s\t%s\n' "$w_start" "$w_end" >>"$work/windows.tsv"
i=0
while (($(date +%s) + window <= end_epoch)); do
  f="${faults[$((i % ${#faults[@]}))]}"
  i=$((i + 1))
  w_start="$(date +%s)"
  w_end=$((w_start + window))
  echo "$f" >"$work/fault"
  sp_log "window $i: $f ($window s)"
  case "$f" in
    pg_restart) testenv_pg_restart "$bench_dir" || sp_log "PostgreSQL restart failed" ;;
    my_restart) testenv_my_restart "$bench_dir" "$SEGPROXY_TEST_MYPORT" || sp_log "MariaDB restart failed" ;;
    audit_full)
      if ((audit_fill)); then
        dd if=/dev/zero of="$audit_mnt/fill" bs=1M >/dev/null 2>&1 || true
        sleep_until $((w_start + window / 2))
        rm -f "$audit_mnt/fill"
      else
        f=audit_full_skipped
      fi
      ;;
    slow_reader)
      python3 "$SEGPROXY_REPO_ROOT/bench/lib/slow_reader.py" "$pg_port" "$SEGPROXY_TEST_PKI/ca.crt" \
        "$SEGPROXY_TEST_PKI/client-spiffe.crt" "$SEGPROXY_TEST_PKI/client-spiffe.key" $((window - 1)) 1024 \
        >>"$work/slow-reader.out" 2>&1 &
      bg_pids+=($!)
      ;;
    flood)
      python3 "$SEGPROXY_REPO_ROOT/bench/lib/flood_client.py" "$pg_port" "$SEGPROXY_TEST_PKI/ca.crt" \
        "$SEGPROXY_TEST_PKI/client-spiffe.crt" "$SEGPROXY_TEST_PKI/client-spiffe.key" --rate 500 --half-open 1000 \
        --sources 16 --seconds $((window - 1)) >>"$work/flood.out" 2>&1 &
      bg_pids+=($!)
      ;;
    proxy_kill)
      kill -KILL "$(cat "$work/proxy.pid")" 2>/dev/null || true
      sleep 2
      start_proxy
      ;;
  esac
  sleep_until "$w_end"
  printf '%s\t%s\t%s\n' "$f" "$w_start" "$w_end" >>"$work/windows.tsv"
done
echo final >"$work/fault"
sleep_until "$end_epoch"
sp_log "load ends; waiting for the clients"
for p in "${bg_pids[@]}"; do wait "$p" 2>/dev/null || true; done
bg_pids=()
# (no bare `wait`: a restarted MariaDB and a restarted proxy are children of this shell)
proxy_pid="$(cat "$work/proxy.pid")"
kill -0 "$proxy_pid" 2>/dev/null && proxy_alive=yes || proxy_alive=no

# ---- report ---------------------------------------------------------------------------------
# Per window: transactions and p99 (ms) of each pgbench, from the per-transaction logs
# (columns: client tx latency_us script epoch epoch_us; failed transactions are not rows).
cat "$work"/pgtx/tpcb.* 2>/dev/null | awk '$3 ~ /^[0-9]+$/ { print $5, $3 }' | sort -n >"$work/tpcb-lat.txt" || true
cat "$work"/pgtx/select.* 2>/dev/null | awk '$3 ~ /^[0-9]+$/ { print $5, $3 }' | sort -n >"$work/select-lat.txt" || true
window_stats() {  # FILE START END -> "tx p99_ms"
  awk -v s="$2" -v e="$3" '$1 >= s && $1 < e { print $2 }' "$1" | sort -n |
    awk '{ v[NR] = $1 } END { if (NR == 0) { print "0 -"; exit } i = int(NR * 0.99); if (i < 1) i = 1; printf "%d %.1f\n", NR, v[i] / 1000 }'
}
# sysbench: the 99th percentile of each chunk, attributed to the window of its end.
awk '/^chunk_start/ { p = "-" } /99th percentile:/ { p = $3 } /^chunk_end/ { print $2, p }' "$work/sysbench.out" \
  >"$work/sysbench-p99.txt" 2>/dev/null || true
sysbench_window() {
  awk -v s="$1" -v e="$2" '$1 > s && $1 <= e && $2 != "-" { if ($2 > m) m = $2; n++ } END { if (n) printf "%.1f", m; else print "-" }' \
    "$work/sysbench-p99.txt"
}
errors_by_class() {  # normalised error lines of every client, counted
  {
    grep -hiE 'error|fatal|abort|lost connection|could not|closed' "$work"/pgbench-*.out "$work/sysbench.out" \
      "$work/probe.err" 2>/dev/null || true
  } | sed -E 's/client [0-9]+/client N/g; s/[0-9]+/N/g; s/  +/ /g' | cut -c1-140 | sort | uniq -c | sort -rn | head -n 25
}
verify_out="$("$ctl_bin" audit verify "$audit_dir" 2>&1)" && verify_rc=0 || verify_rc=$?
# (A file a run never wrote, e.g. no probe failed: 0, without the shell's redirection error.)
committed="$({ wc -l <"$work/probes-committed.txt"; } 2>/dev/null || echo 0)"
failed_probes="$({ wc -l <"$work/probes-failed.txt"; } 2>/dev/null || echo 0)"
missing=0
missing_ids=""
if [[ -s "$work/probes-committed.txt" ]]; then
  # One pass over the log (a 30-minute run writes gigabytes: a grep per probe took hours).
  grep -rhoE 'pgbench_soak_probe\(id\) values \([0-9]+\)' "$audit_dir" 2>/dev/null |
    grep -oE '[0-9]+' | sort -u >"$work/probes-audited.txt" || true
  while read -r id; do
    missing=$((missing + 1))
    missing_ids+=" $id"
  done < <(sort -u "$work/probes-committed.txt" | comm -23 - "$work/probes-audited.txt")
fi
# RSS / fds: first sample after the warm-up vs the last; max over the run.
warm_end="$(awk -F'\t' '$1 == "warmup" { print $3 }' "$work/windows.tsv")"
rss_first="$(awk -F'\t' -v w="$warm_end" '$1 >= w { print $3; exit }' "$work/samples.tsv")"
rss_last="$(tail -n1 "$work/samples.tsv" | cut -f3)"
fds_first="$(awk -F'\t' -v w="$warm_end" '$1 >= w { print $4; exit }' "$work/samples.tsv")"
fds_last="$(tail -n1 "$work/samples.tsv" | cut -f4)"
rss_max="$(cut -f3 "$work/samples.tsv" | sort -n | tail -n1)"
fds_max="$(cut -f4 "$work/samples.tsv" | sort -n | tail -n1)"
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0) printf "%+.1f%%", (b - a) * 100 / a; else print "-" }'; }

stamp="$(date -u +%Y%m%d-%H%M%S)"
report="$(
  printf '# Soak with injected faults: %s s\n\n' "$duration"
  printf -- '- date (UTC): %s; host: %s cores, load average %s; segproxy %s; windows of %s s\n' "$stamp" "$(nproc)" \
    "$(cut -d' ' -f1-3 /proc/loadavg)" "$(git describe --always --dirty 2>/dev/null || echo unknown)" "$window"
  printf -- '- load: pgbench tpcb-like -c 4 + select-only -c 4 (scale 4), sysbench oltp_read_write 4 threads, 1 probe insert/s; reload every 3 s, revoke+unrevoke every 6 s\n'
  printf -- '- proxy alive at the end: %s\n\n' "$proxy_alive"
  printf '## Per window\n\n| window | fault | pgbench tpcb tx | tpcb p99 ms | select tx | select p99 ms | sysbench p99 ms (max of chunks) |\n|---:|---|---:|---:|---:|---:|---:|\n'
  n=0
  while IFS=$'\t' read -r f s e; do
    n=$((n + 1))
    read -r t_tx t_p99 <<<"$(window_stats "$work/tpcb-lat.txt" "$s" "$e")"
    read -r s_tx s_p99 <<<"$(window_stats "$work/select-lat.txt" "$s" "$e")"
    printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$n" "$f" "$t_tx" "$t_p99" "$s_tx" "$s_p99" "$(sysbench_window "$s" "$e")"
  done <"$work/windows.tsv"
  printf '\n## Proxy RSS and open descriptors\n\n'
  printf -- '- RSS KiB: first after warm-up %s, last %s (%s), max %s\n' "$rss_first" "$rss_last" "$(pct "$rss_first" "$rss_last")" "$rss_max"
  printf -- '- open fds: first after warm-up %s, last %s (%s), max %s\n' "$fds_first" "$fds_last" "$(pct "$fds_first" "$fds_last")" "$fds_max"
  # The proxy_kill fault restarts the proxy: growth is judged per process, from its first
  # sample 60 s after start to its last, flood windows left out (1,000 half-open
  # connections hold their own buffers while they last).
  printf -- '- per proxy process (RSS KiB and fds, 60 s after start vs its last sample, flood windows left out):\n\n'
  printf '| pid | samples | RSS first | RSS last | RSS growth | fds first | fds last |\n|---:|---:|---:|---:|---:|---:|---:|\n'
  awk -F'\t' '$2 != "flood" && NF >= 5 {
      if (!($5 in t0)) { t0[$5] = $1; order[++n] = $5 }
      if ($1 - t0[$5] >= 60) { if (!($5 in r0)) { r0[$5] = $3; f0[$5] = $4 } r1[$5] = $3; f1[$5] = $4; c[$5]++ }
    } END { for (i = 1; i <= n; i++) { p = order[i]; if (!(p in r0)) continue
      printf "| %s | %d | %d | %d | %+.1f%% | %d | %d |\n", p, c[p], r0[p], r1[p], (r1[p] - r0[p]) * 100 / r0[p], f0[p], f1[p] } }' \
    "$work/samples.tsv"
  printf -- '\n- every ~30 s (epoch, fault, RSS KiB, fds, pid):\n\n```\n'
  awk -F'\t' 'NR % 15 == 1' "$work/samples.tsv"
  printf '```\n\n## Errors by class (normalised client error lines, count)\n\n```\n'
  errors_by_class
  printf '```\n\n## Admin loop\n\n```\n'
  sort "$work/admin-results.txt" 2>/dev/null | uniq -c
  printf '```\n\n## Audit\n\n'
  printf -- '- `segproxyctl audit verify`: exit %s: %s\n' "$verify_rc" "$(tail -n1 <<<"$verify_out")"
  printf -- '- probe inserts: %s committed, %s failed; committed but not in the audit log: %s%s\n' \
    "$committed" "$failed_probes" "$missing" "${missing_ids:+ (ids:$missing_ids)}"
  printf -- '- flood: %s\n- slow reader: %s\n' "$(tail -n1 "$work/flood.out" 2>/dev/null || echo -)" \
    "$(tail -n1 "$work/slow-reader.out" 2>/dev/null || echo -)"
)"
mkdir -p "$SEGPROXY_REPO_ROOT/bench/results"
out="$SEGPROXY_REPO_ROOT/bench/results/soak-$stamp.md"
printf '%s\n' "$report" | tee "$out"
tail -n 2000 "$proxy_log" >"$SEGPROXY_REPO_ROOT/bench/results/soak-$stamp.proxy-log-tail.txt" 2>/dev/null || true
sp_log "written to $out"
