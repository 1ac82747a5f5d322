#!/usr/bin/env bash
# Audit log volume per statement (issue 14: <= 1.2 records and <= 400 bytes per statement
# on average for pgbench -S): one segproxy with the demo policy and the audit log, a
# pgbench -S -M extended run through it, then every record the run added (decisions,
# folded results, session open/close, checkpoints: all of it) divided by the statements
# pgbench completed. Bytes and records are exact; no timing is involved. Not part of CI.
#
# Env: BENCH_SECONDS (10), BENCH_CLIENTS (4), BENCH_SCALE (1), BENCH_MODE (extended),
#      BENCH_SKIP_BUILD=1, SEGPROXY_BUILD_DIR, BENCH_STATEMENT_TEXT (normalized).
set -euo pipefail

export SP_LOG_TAG=bench
# shellcheck source-path=SCRIPTDIR source=../scripts/lib/testenv.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/testenv.sh"
cd "$SEGPROXY_REPO_ROOT"

seconds="${BENCH_SECONDS:-10}"
clients="${BENCH_CLIENTS:-4}"
scale="${BENCH_SCALE:-1}"
mode="${BENCH_MODE:-extended}"
text="${BENCH_STATEMENT_TEXT:-normalized}"
[[ "$seconds" =~ ^[0-9]+$ && "$clients" =~ ^[0-9]+$ && "$scale" =~ ^[0-9]+$ ]] ||
  sp_die "BENCH_SECONDS, BENCH_CLIENTS and BENCH_SCALE must be integers"

bench_dir=""
pids=()
# shellcheck disable=SC2317 # invoked by trap
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  for p in "${pids[@]}"; do sp_stop_pid "$p" 10; done
  if [[ -n "$bench_dir" ]]; then testenv_down "$bench_dir" || true; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[[ "${BENCH_SKIP_BUILD:-0}" == 1 ]] || "$SEGPROXY_REPO_ROOT/scripts/build.sh" Release
proxy_bin="$(sp_build_dir)/bin/segproxy"
[[ -x "$proxy_bin" ]] || sp_die "$proxy_bin not found"
pgbench_bin="$(sp_pg_bindir)/pgbench"
[[ -x "$pgbench_bin" ]] || pgbench_bin="$(command -v pgbench)"

bench_dir="$(mktemp -d /tmp/segproxy-auditvol.XXXXXX)"
chmod 0755 "$bench_dir"
SEGPROXY_TESTENV_ETCD=0 testenv_up "$bench_dir"
pki="$SEGPROXY_TEST_PKI"
declare -A port
myproxy_port=""
for variant in off audit; do
  base=21432
  [[ "$variant" == audit ]] && base=22432
  sp_pick_port "port[$variant]" "$base"
  sp_pick_port myproxy_port $((base - 126))
  cfg="$bench_dir/segproxy-$variant.yaml"
  sed -e "s/@PROXY_PORT@/${port[$variant]}/g" -e "s/@PG_PORT@/$SEGPROXY_TEST_PGPORT/g" \
    -e "s/@MYPROXY_PORT@/$myproxy_port/g" -e "s/@MY_PORT@/$SEGPROXY_TEST_MYPORT/g" \
    -e 's/^\([[:space:]]*\)tls: {mode: verify-full[^}]*}.*$/\1tls: {mode: disable}/' \
    -e '/^admin:/d' -e '/^metrics:/d' \
    "$SEGPROXY_REPO_ROOT/config/examples/demo.yaml" >"$cfg"
  if [[ "$variant" == audit ]]; then
    sed -i "s|^audit:.*|audit: {dir: $bench_dir/audit, statement_text: $text, instance: proxy-a}|" "$cfg"
  else
    sed -i '/^audit:/d' "$cfg"
  fi
  printf 'log:\n  level: warn\n' >>"$cfg"
  flags=()
  [[ "$variant" == off ]] && flags=(--bench-policy-off)
  "$proxy_bin" --config "$cfg" "${flags[@]}" >"$bench_dir/segproxy-$variant.log" 2>&1 &
  pids+=("$!")
  sp_wait_port "${port[$variant]}" 30 "$!" || sp_die "segproxy ($variant) did not start"
done
conninfo() {
  printf 'host=localhost port=%s user=billing dbname=shop sslmode=verify-full sslrootcert=%s sslcert=%s sslkey=%s' \
    "${port[$1]}" "$pki/ca.crt" "$pki/client-spiffe.crt" "$pki/client-spiffe.key"
}
timeout 600 "$pgbench_bin" -i -q -s "$scale" "$(conninfo off)" >"$bench_dir/init.log" 2>&1 ||
  { tail -n 20 "$bench_dir/init.log" >&2; sp_die "pgbench -i failed"; }

count() { cat "$bench_dir"/audit/audit-*.jsonl | tr -d '\0' | wc "$1"; }  # without the preallocated zeros
records0="$(count -l)"
bytes0="$(count -c)"
log="$bench_dir/run.log"
timeout $((seconds + 120)) "$pgbench_bin" -n -S -M "$mode" -c "$clients" -j 2 -T "$seconds" "$(conninfo audit)" >"$log" 2>&1 ||
  { tail -n 20 "$log" >&2; sp_die "pgbench failed"; }
statements="$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$log")"
[[ -n "$statements" && "$statements" -gt 0 ]] || sp_die "no transactions in $log"
sp_stop_pid "${pids[1]}" 20  # clean shutdown: results folded at session end, final checkpoint
pids=("${pids[0]}")
records="$(( $(count -l) - records0 ))"
bytes="$(( $(count -c) - bytes0 ))"
"$(sp_build_dir)/bin/segproxyctl" audit verify "$bench_dir/audit" | tail -n 1
printf 'pgbench -S -M %s, %s clients, %s s, statement_text %s: %s statements, %s records, %s bytes\n' \
  "$mode" "$clients" "$seconds" "$text" "$statements" "$records" "$bytes"
awk -v s="$statements" -v r="$records" -v b="$bytes" \
  'BEGIN { printf "per statement: %.3f records, %.1f bytes\n", r / s, b / s }'
# A full decision, a de-duplicated one and a folded result record, as written.
{ grep -a -h '"event":"statement.decision".*pgbench_accounts' "$bench_dir"/audit/audit-*.jsonl | head -n 1
  grep -a -h '"same_as":' "$bench_dir"/audit/audit-*.jsonl | head -n 1
  grep -a -h '"event":"statement.result"' "$bench_dir"/audit/audit-*.jsonl | head -n 1 | cut -c1-400; } || true
