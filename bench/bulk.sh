#!/usr/bin/env bash
# Bulk transfer through the proxy vs direct TLS (issue 15: ≥ 0.8x of direct-TLS
# throughput, flat memory). A table of about BENCH_MB MiB (1024 = 1 GiB) is read out
# twice per target: `COPY bench_bulk TO STDOUT` and `SELECT * FROM bench_bulk` (one
# result set), both with psql into /dev/null. Direct: TLS to PostgreSQL (sslmode=require).
# segproxy: client mTLS to the proxy, plain backend (as bench/hot_path.sh). Reports MiB/s,
# the proxy/direct ratio, and the proxy's peak RSS growth (VmHWM of a freshly started
# proxy minus its RSS before the transfer) per transfer. Not part of CI; the full size
# needs a quiet machine. psql holds a whole result set in its own memory (about 2x the
# data), the proxy must not.
#
# Env: BENCH_MB (1024), BENCH_ROUNDS (1, interleaved; best of), BENCH_PROXY_BIN
#      (build/bin/segproxy), SEGPROXY_KEEP_TESTENV=1 (keep the temp directory).
set -euo pipefail

export SP_LOG_TAG=bulk
# shellcheck source-path=SCRIPTDIR source=../scripts/lib/testenv.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/testenv.sh"
# shellcheck source-path=SCRIPTDIR source=lib/proxies.sh
source "$SEGPROXY_REPO_ROOT/bench/lib/proxies.sh"
cd "$SEGPROXY_REPO_ROOT"

mb="${BENCH_MB:-1024}"
rounds="${BENCH_ROUNDS:-1}"
proxy_bin="${BENCH_PROXY_BIN:-$(sp_build_dir)/bin/segproxy}"
[[ "$mb" =~ ^[0-9]+$ && "$mb" -ge 1 && "$rounds" =~ ^[0-9]+$ && "$rounds" -ge 1 ]] ||
  sp_die "BENCH_MB and BENCH_ROUNDS must be positive integers"

bench_dir=""
# shellcheck disable=SC2317 # invoked by trap
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  bp_stop_all
  if [[ -n "$bench_dir" && "${SEGPROXY_KEEP_TESTENV:-0}" != 1 ]]; then testenv_down "$bench_dir" || true; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bench_dir="$(mktemp -d /tmp/segproxy-bulk.XXXXXX)"
chmod 0755 "$bench_dir"
SEGPROXY_TESTENV_ETCD=0 testenv_up "$bench_dir"
# shellcheck disable=SC1091
source "$bench_dir/env.sh"

# About 1,000 bytes per row: 31 md5 strings (992 characters) and an integer.
rows=$((mb * 1024 * 1024 / 1000))
sp_log "creating bench_bulk: $rows rows (~$mb MiB)"
psql -X -q -v ON_ERROR_STOP=1 -h "$SEGPROXY_TEST_PGSOCKDIR" -p "$SEGPROXY_TEST_PGPORT" -U postgres -d shop >/dev/null <<SQL
DROP TABLE IF EXISTS public.bench_bulk;
CREATE TABLE public.bench_bulk AS SELECT g AS id, repeat(md5(g::text), 31) AS pad FROM generate_series(1, $rows) AS g;
GRANT SELECT ON public.bench_bulk TO billing_rw;
VACUUM ANALYZE public.bench_bulk;
SQL

bp_start_segproxy segproxy "$proxy_bin"
direct_conninfo="host=127.0.0.1 port=$SEGPROXY_TEST_PGPORT user=billing_rw dbname=shop sslmode=require"

# transfer TARGET KIND: prints "seconds bytes peak_growth_kib" (peak only for segproxy,
# which the caller restarted just before: VmHWM then is this transfer's peak).
transfer() {
  local target="$1" kind="$2" sql conninfo start end bytes pid rss0 hwm
  case "$kind" in
    copy) sql="COPY public.bench_bulk TO STDOUT" ;;
    select) sql="SELECT * FROM public.bench_bulk" ;;
  esac
  rss0=0
  if [[ "$target" == segproxy ]]; then
    pid="${bp_pid[segproxy]}"
    rss0="$(bp_rss_kib "$pid")"
    conninfo="$(bp_conninfo segproxy)"
  else
    conninfo="$direct_conninfo"
  fi
  start="$(date +%s.%N)"
  bytes="$(
    unset PGPASSWORD
    [[ "$target" == direct ]] && PGPASSWORD="$(cat "$SEGPROXY_TEST_SECRETS/billing_rw.pw")" && export PGPASSWORD
    psql -X -q -A -t -v ON_ERROR_STOP=1 -c "$sql" "$conninfo" | wc -c
  )" || sp_die "$kind through $target failed"
  end="$(date +%s.%N)"
  hwm=0
  if [[ "$target" == segproxy ]]; then hwm="$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status")"; fi
  awk -v s="$start" -v e="$end" -v b="$bytes" -v h="$hwm" -v r="$rss0" \
    'BEGIN { printf "%.3f %d %d\n", e - s, b, (h > r ? h - r : 0) }'
}

results="$bench_dir/results.tsv"
: >"$results"
for ((round = 1; round <= rounds; round++)); do
  for kind in copy select; do
    for target in direct segproxy; do
      sp_log "round $round: $kind via $target"
      if [[ "$target" == segproxy ]]; then bp_restart_segproxy segproxy; fi
      read -r secs bytes peak <<<"$(transfer "$target" "$kind")"
      ((bytes > mb * 1024 * 1024 / 2)) || sp_die "$kind via $target returned only $bytes bytes"
      printf '%s\t%s\t%s\t%s\t%s\n' "$kind" "$target" "$secs" "$bytes" "$peak" >>"$results"
    done
  done
done

stamp="$(date -u +%Y%m%d-%H%M%S)"
report="$(
  printf '# Bulk transfer: segproxy vs direct TLS\n\n'
  printf -- '- date (UTC): %s; host: %s cores; segproxy %s (%s); table ~%s MiB (%s rows); %s round(s), fastest kept\n' \
    "$stamp" "$(nproc)" "$(git -C "$SEGPROXY_REPO_ROOT" describe --always --dirty 2>/dev/null || echo unknown)" \
    "$proxy_bin" "$mb" "$rows" "$rounds"
  printf -- '- psql -A -t into wc -c; direct = TLS to PostgreSQL; segproxy = client mTLS, plain backend; peak = VmHWM of a fresh proxy minus its RSS before the transfer\n\n'
  printf '| transfer | MiB | direct MiB/s | segproxy MiB/s | segproxy/direct | proxy peak RSS growth KiB |\n|---|---:|---:|---:|---:|---:|\n'
  awk -F'\t' '
    { k = $1; t = $2; mib = $4 / 1048576; rate = mib / ($3 > 0 ? $3 : 0.001)
      if (rate > best[k, t]) best[k, t] = rate
      size[k] = mib
      if (t == "segproxy" && $5 > peak[k]) peak[k] = $5 }
    END { n = split("copy select", ks, " ")
      for (i = 1; i <= n; i++) { k = ks[i]
        printf "| %s | %.0f | %.1f | %.1f | %.2f | %d |\n", (k == "copy" ? "COPY ... TO STDOUT" : "SELECT * (one result set)"),
          size[k], best[k, "direct"], best[k, "segproxy"], best[k, "segproxy"] / best[k, "direct"], peak[k] } }' "$results"
)"
mkdir -p "$SEGPROXY_REPO_ROOT/bench/results"
out="$SEGPROXY_REPO_ROOT/bench/results/bulk-$stamp.md"
printf '%s\n' "$report" | tee "$out"
sp_log "written to $out"
