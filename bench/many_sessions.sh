#!/usr/bin/env bash
# Many concurrent client sessions on one segproxy instance (issue 15: 5,000 without an
# error). Per protocol, BENCH_SESSIONS client-mTLS sessions are opened one after another
# (each runs one query) and held open together; then every one of them runs a second
# query while all are open. The run passes when every session did both, the proxy is
# still up, and its log has no error line. Reports the proxy's RSS and descriptor count
# with all sessions open. Not part of CI (a real run needs a machine to itself).
#
# The backends are configured for it: PostgreSQL max_connections (restart) and MariaDB
# max_connections (SET GLOBAL) are raised to BENCH_SESSIONS + 100; the open-files limit
# of this shell (so of the proxy and the client it starts) to 2 x BENCH_SESSIONS + 4096.
# PostgreSQL forks one backend process per session: 5,000 of them need several GiB.
#
# Env: BENCH_SESSIONS (5000), BENCH_PROTOCOLS ("mysql pg"), BENCH_PROXY_BIN
#      (build/bin/segproxy), SEGPROXY_KEEP_TESTENV=1 (keep the temp directory).
set -euo pipefail

export SP_LOG_TAG=many_sessions
# shellcheck source-path=SCRIPTDIR source=../scripts/lib/testenv.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/testenv.sh"
# shellcheck source-path=SCRIPTDIR source=lib/proxies.sh
source "$SEGPROXY_REPO_ROOT/bench/lib/proxies.sh"
cd "$SEGPROXY_REPO_ROOT"

sessions="${BENCH_SESSIONS:-5000}"
read -r -a protocols <<<"${BENCH_PROTOCOLS:-mysql pg}"
proxy_bin="${BENCH_PROXY_BIN:-$(sp_build_dir)/bin/segproxy}"
[[ "$sessions" =~ ^[0-9]+$ && "$sessions" -ge 1 ]] || sp_die "BENCH_SESSIONS must be a positive integer"
for p in "${protocols[@]}"; do
  case "$p" in mysql | pg) ;; *) sp_die "unknown protocol '$p' (mysql, pg)" ;; esac
done

nofile=$((2 * sessions + 4096))
if (($(ulimit -Hn) < nofile)); then ulimit -Hn "$nofile" || sp_die "cannot raise the open-files limit to $nofile"; fi
ulimit -n "$nofile"

bench_dir=""
holder_pid=""
# shellcheck disable=SC2317 # invoked by trap
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n "$holder_pid" ]]; then sp_stop_pid "$holder_pid" 30; fi
  bp_stop_all
  if [[ -n "$bench_dir" && "${SEGPROXY_KEEP_TESTENV:-0}" != 1 ]]; then testenv_down "$bench_dir" || true; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bench_dir="$(mktemp -d /tmp/segproxy-many.XXXXXX)"
chmod 0755 "$bench_dir"
SEGPROXY_TESTENV_ETCD=0 testenv_up "$bench_dir"
# shellcheck disable=SC1091
source "$bench_dir/env.sh"

backend_max=$((sessions + 100))
for p in "${protocols[@]}"; do
  if [[ "$p" == pg ]]; then
    sp_log "PostgreSQL: max_connections = $backend_max (restart)"
    psql -X -q -h "$SEGPROXY_TEST_PGSOCKDIR" -p "$SEGPROXY_TEST_PGPORT" -U postgres -d postgres \
      -c "ALTER SYSTEM SET max_connections = $backend_max" >/dev/null
    pgdata="$(dirname "$SEGPROXY_TEST_PGSOCKDIR")/pgdata"
    sp_as_service "$(sp_pg_bindir)/pg_ctl" -D "$pgdata" -l "$(dirname "$SEGPROXY_TEST_PGSOCKDIR")/pg.log" -w -t 120 -s restart \
      >/dev/null || sp_die "PostgreSQL did not restart with max_connections = $backend_max"
    bp_pgbench direct -i -q -s 1 >"$bench_dir/pgbench-init.log" 2>&1 || sp_die "pgbench -i failed"
  else
    sp_log "MariaDB: max_connections = $backend_max"
    mariadb --socket="$SEGPROXY_TEST_MYSOCK" -u root -e "SET GLOBAL max_connections = $backend_max" ||
      sp_die "cannot raise MariaDB's max_connections"
    bp_sysbench direct oltp_point_select cleanup >/dev/null 2>&1 || true
    bp_sysbench direct oltp_point_select prepare --table-size=100 >"$bench_dir/sysbench-prepare.log" 2>&1 ||
      sp_die "sysbench prepare failed"
  fi
done

bp_start_segproxy segproxy "$proxy_bin"
pid="${bp_pid[segproxy]}"
results="$bench_dir/results.tsv"
: >"$results"
timeout_s=$((120 + sessions / 5))  # generous: about 5 handshakes a second on a loaded machine
for p in "${protocols[@]}"; do
  if [[ "$p" == pg ]]; then port="${bp_pg_port[segproxy]}"; else port="${bp_my_port[segproxy]}"; fi
  sp_log "$p: $sessions concurrent sessions through segproxy (timeout ${timeout_s}s)"
  rss_before="$(bp_rss_kib "$pid")"
  fifo="$bench_dir/hold-$p.in"
  outf="$bench_dir/hold-$p.out"
  errf="$bench_dir/hold-$p.err"
  mkfifo "$fifo"
  started=$SECONDS
  IDLE_SESSIONS_RECHECK=1 BP_MYSQL_PASSWORD="$(cat "$SEGPROXY_TEST_SECRETS/billing_rw.my.pw")" \
    /usr/bin/python3 "$SEGPROXY_REPO_ROOT/bench/lib/idle_sessions.py" "$p" 127.0.0.1 "$port" "$sessions" \
    "$SEGPROXY_TEST_PKI" client-spiffe <"$fifo" >"$outf" 2>"$errf" &
  holder_pid=$!
  exec 7>"$fifo"
  while ((SECONDS - started < timeout_s)); do
    grep -q "^rechecked $sessions$" "$outf" && break
    kill -0 "$holder_pid" 2>/dev/null || break
    sleep 2
  done
  ok=1
  grep -q "^rechecked $sessions$" "$outf" || ok=0
  opened="$(awk '/^ready / { print $2 }' "$outf")"
  rss_after="$(bp_rss_kib "$pid")"
  fds="$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)"
  exec 7>&-
  wait "$holder_pid" || ok=0
  holder_pid=""
  kill -0 "$pid" 2>/dev/null || { ok=0; sp_log "segproxy exited"; }
  if ((!ok)); then tail -n 20 "$errf" >&2 || true; fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$p" "$sessions" "${opened:-0}" "$((SECONDS - started))" \
    "$((rss_after - rss_before))" "$fds" "$([[ $ok == 1 ]] && echo pass || echo FAIL)" >>"$results"
  rm -f "$fifo"
done
errors="$(grep -cE '"level":"error"|^[^ ]+ error ' "$SEGPROXY_TEST_DIR/segproxy-segproxy.log" || true)"

stamp="$(date -u +%Y%m%d-%H%M%S)"
report="$(
  printf '# Many concurrent sessions on one segproxy instance\n\n'
  printf -- '- date (UTC): %s; host: %s cores; segproxy %s (%s); open-files limit %s\n' "$stamp" "$(nproc)" \
    "$(git -C "$SEGPROXY_REPO_ROOT" describe --always --dirty 2>/dev/null || echo unknown)" "$proxy_bin" "$nofile"
  printf -- '- client mTLS sessions opened one after another, one query each, all held open, then a second query on each\n'
  printf -- '- error lines in the proxy log: %s\n\n' "${errors:-0}"
  printf '| protocol | sessions asked | opened | seconds | RSS growth KiB (all open) | proxy descriptors | result |\n'
  printf '|---|---:|---:|---:|---:|---:|---|\n'
  awk -F'\t' '{ printf "| %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7 }' "$results"
)"
mkdir -p "$SEGPROXY_REPO_ROOT/bench/results"
out="$SEGPROXY_REPO_ROOT/bench/results/many_sessions-$stamp.md"
printf '%s\n' "$report" | tee "$out"
sp_log "written to $out"
if grep -q FAIL "$results" || [[ "${errors:-0}" != 0 ]]; then sp_die "not every session succeeded (see above)"; fi
