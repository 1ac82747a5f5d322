#!/usr/bin/env bash
# Cost of the policy and of the audit log: segproxy with its policy enforced (demo.yaml's
# rules: libpg_query classification + decision cache + PolicyEngine) against the same
# binary started with --bench-policy-off (statements forwarded unclassified), and policy
# + audit log (durability group: every decision is on disk before its statement is
# forwarded) — interleaved in one run, for pgbench select-only and tpcb-like in
# -M simple and -M extended. Not part of CI.
#
# Env: BENCH_SECONDS (15), BENCH_ROUNDS (2, median taken), BENCH_CLIENTS (16),
#      BENCH_SCALE (10), BENCH_SKIP_BUILD=1, SEGPROXY_BUILD_DIR,
#      BENCH_WORKLOADS ("select-only tpcb-like"), BENCH_MODES ("simple extended"),
#      BENCH_AUDIT_DURABILITY (group), BENCH_AUDIT_DIR (where the audit logs go; default
#      the bench directory; a tmpfs such as /dev/shm shows the cost without the disk's),
#      BENCH_BASELINE_BIN (another segproxy binary: adds its policy + audit run as
#      "audit (baseline)", interleaved with the others, for before/after comparisons).
# audit/on is also given as the median of the per-round ratios (robust against the
# machine's load changing between rounds).
set -euo pipefail

export SP_LOG_TAG=bench
# shellcheck source-path=SCRIPTDIR source=../scripts/lib/testenv.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/testenv.sh"
cd "$SEGPROXY_REPO_ROOT"

seconds="${BENCH_SECONDS:-15}"
rounds="${BENCH_ROUNDS:-2}"
clients="${BENCH_CLIENTS:-16}"
scale="${BENCH_SCALE:-10}"
read -r -a workloads <<<"${BENCH_WORKLOADS:-select-only tpcb-like}"
read -r -a modes <<<"${BENCH_MODES:-simple extended}"
durability="${BENCH_AUDIT_DURABILITY:-group}"
baseline_bin="${BENCH_BASELINE_BIN:-}"
audit_parent="${BENCH_AUDIT_DIR:-}"
audit_base=""
audit_tmp=""  # created by this run under BENCH_AUDIT_DIR, removed at exit
[[ "$durability" =~ ^(group|fsync_each|interval)$ ]] || sp_die "BENCH_AUDIT_DURABILITY: group, fsync_each or interval"
[[ -z "$baseline_bin" || -x "$baseline_bin" ]] || sp_die "BENCH_BASELINE_BIN $baseline_bin is not executable"
[[ "$seconds" =~ ^[0-9]+$ && "$rounds" =~ ^[0-9]+$ && "$clients" =~ ^[0-9]+$ && "$scale" =~ ^[0-9]+$ ]] ||
  sp_die "BENCH_SECONDS, BENCH_ROUNDS, BENCH_CLIENTS and BENCH_SCALE must be integers"

bench_dir=""
pids=()
# shellcheck disable=SC2317 # invoked by trap
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  for p in "${pids[@]}"; do sp_stop_pid "$p" 10; done
  if [[ -n "$bench_dir" ]]; then testenv_down "$bench_dir" || true; fi
  if [[ -n "$audit_tmp" ]]; then rm -rf "$audit_tmp"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$SEGPROXY_REPO_ROOT/scripts/deps.sh"
[[ "${BENCH_SKIP_BUILD:-0}" == 1 ]] || "$SEGPROXY_REPO_ROOT/scripts/build.sh" Release
proxy_bin="$(sp_build_dir)/bin/segproxy"
[[ -x "$proxy_bin" ]] || sp_die "$proxy_bin not found"
pgbench_bin="$(sp_pg_bindir)/pgbench"
[[ -x "$pgbench_bin" ]] || pgbench_bin="$(command -v pgbench)"

bench_dir="$(mktemp -d /tmp/segproxy-polbench.XXXXXX)"
chmod 0755 "$bench_dir"
if [[ -n "$audit_parent" ]]; then
  audit_tmp="$(mktemp -d "$audit_parent/segproxy-polbench-audit.XXXXXX")"
  audit_base="$audit_tmp"
else
  audit_base="$bench_dir"
fi
# No etcd (fleet tests only): its members heartbeat every 50 ms and would skew the numbers.
SEGPROXY_TESTENV_ETCD=0 testenv_up "$bench_dir"
pki="$SEGPROXY_TEST_PKI"
pg_port="$SEGPROXY_TEST_PGPORT"

variants=(on off audit)
[[ -n "$baseline_bin" ]] && variants+=(audit0)
declare -A port
for variant in "${variants[@]}"; do
  case "$variant" in on) base=17432 ;; off) base=18432 ;; audit) base=19432 ;; *) base=20432 ;; esac
  sp_pick_port "port[$variant]" "$base"
  # The demo's MySQL listener stays (idle) in front of the environment's MariaDB.
  myproxy_port=""
  sp_pick_port myproxy_port $((base - 1126))
  cfg="$bench_dir/segproxy-$variant.yaml"
  sed -e "s/@PROXY_PORT@/${port[$variant]}/g" -e "s/@PG_PORT@/$pg_port/g" \
    -e "s/@MYPROXY_PORT@/$myproxy_port/g" -e "s/@MY_PORT@/$SEGPROXY_TEST_MYPORT/g" \
    -e 's/^\([[:space:]]*\)tls: {mode: verify-full[^}]*}.*$/\1tls: {mode: disable}/' \
    -e '/^admin:/d' -e '/^metrics:/d' \
    "$SEGPROXY_REPO_ROOT/config/examples/demo.yaml" >"$cfg"
  # The demo's audit: section stays only in the audit variant (its log under bench_dir).
  if [[ "$variant" == audit* ]]; then
    sed -i "s|^audit:.*|audit: {dir: $audit_base/$variant, durability: $durability, on_failure: fail_closed}|" "$cfg"
  else
    sed -i '/^audit:/d' "$cfg"
  fi
  printf 'log:\n  level: warn\n' >>"$cfg"
  "$proxy_bin" --check-config "$cfg" >/dev/null
  flags=()
  [[ "$variant" == off ]] && flags=(--bench-policy-off)
  bin="$proxy_bin"
  [[ "$variant" == audit0 ]] && bin="$baseline_bin"
  "$bin" --config "$cfg" "${flags[@]}" >"$bench_dir/segproxy-$variant.log" 2>&1 &
  pids+=("$!")
  sp_wait_port "${port[$variant]}" 30 "$!" || sp_die "segproxy ($variant) did not start"
done

conninfo() {
  printf 'host=localhost port=%s user=billing dbname=shop sslmode=verify-full sslrootcert=%s sslcert=%s sslkey=%s' \
    "${port[$1]}" "$pki/ca.crt" "$pki/client-spiffe.crt" "$pki/client-spiffe.key"
}

sp_log "pgbench -i -s $scale (through segproxy --bench-policy-off: the demo policy grants no DDL)"
timeout 600 "$pgbench_bin" -i -q -s "$scale" "$(conninfo off)" >"$bench_dir/init.log" 2>&1 ||
  { tail -n 20 "$bench_dir/init.log" >&2; sp_die "pgbench -i failed"; }
# The proxies loaded their write-ahead catalogs (demo.yaml's backend.metadata) before the
# pgbench tables existed, and a table the catalog does not know is never proven read-only
# (docs/audit.md): a reload loads them again.
for p in "${pids[@]}"; do kill -HUP "$p"; done
sleep 5

raw="$bench_dir/raw.tsv"
: >"$raw"
j=$((clients < 2 ? clients : 2))
for ((r = 1; r <= rounds; r++)); do
  for workload in "${workloads[@]}"; do
    for mode in "${modes[@]}"; do
      for variant in "${variants[@]}"; do
        wflag=()
        [[ "$workload" == select-only ]] && wflag=(-S)
        log="$bench_dir/run-$workload-$mode-$variant-r$r.log"
        sp_log "round $r/$rounds: $workload -M $mode, policy $variant, $clients clients, ${seconds}s"
        timeout $((seconds + 120)) "$pgbench_bin" -n "${wflag[@]}" -M "$mode" -c "$clients" -j "$j" -T "$seconds" \
          "$(conninfo "$variant")" >"$log" 2>&1 || { tail -n 20 "$log" >&2; sp_die "pgbench failed"; }
        grep -q 'number of failed transactions: 0 ' "$log" || sp_die "failed transactions in $log"
        tps="$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$log" | head -n1)"
        [[ -n "$tps" ]] || { tail -n 20 "$log" >&2; sp_die "no tps in $log (run aborted?)"; }
        printf '%s\t%s\t%s\t%s\t%s\n' "$workload" "$mode" "$variant" "$r" "$tps" >>"$raw"
      done
    done
  done
done

median() {
  awk -F'\t' -v w="$1" -v m="$2" -v v="$3" '$1 == w && $2 == m && $3 == v { print $5 }' "$raw" |
    sort -g | awk '{ x[NR] = $1 } END { if (NR == 0) { print "-"; exit }
      if (NR % 2) printf "%.1f\n", x[(NR + 1) / 2]; else printf "%.1f\n", (x[NR / 2] + x[NR / 2 + 1]) / 2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0 || a == "-" || b == "-") print "-"; else printf "%.3f", a / b }'; }
# Median over rounds of (variant $3 / variant $4) measured in the same round.
round_ratio() {
  awk -F'\t' -v w="$1" -v m="$2" -v a="$3" -v b="$4" '$1 == w && $2 == m { t[$3, $4] = $5; r[$4] = 1 }
    END { n = 0; for (k in r) if (t[b, k] > 0 && t[a, k] != "") q[++n] = t[a, k] / t[b, k]
      if (n == 0) { print "-"; exit }
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (q[j] < q[i]) { x = q[i]; q[i] = q[j]; q[j] = x }
      if (n % 2) printf "%.3f\n", q[(n + 1) / 2]; else printf "%.3f\n", (q[n / 2] + q[n / 2 + 1]) / 2 }' "$raw"
}
stamp="$(date -u +%Y%m%d-%H%M%S)"
report="$(
  printf '# segproxy: policy on vs off (--bench-policy-off) vs policy + audit log, %s clients\n\n' "$clients"
  printf -- '- date (UTC): %s; host: %s cores; scale %s; %s s per run; %s interleaved rounds, median; audit durability %s, log in %s\n\n' \
    "$stamp" "$(nproc)" "$scale" "$seconds" "$rounds" "$durability" "$audit_base"
  if [[ -n "$baseline_bin" ]]; then
    printf -- '- audit (baseline): %s\n\n' "$baseline_bin"
    printf '| workload | mode | policy off TPS | policy on TPS | policy+audit TPS | audit (baseline) TPS | on/off | audit/on | baseline audit/on |\n'
    printf '|---|---|---:|---:|---:|---:|---:|---:|---:|\n'
  else
    printf '| workload | mode | policy off TPS | policy on TPS | policy+audit TPS | on/off | audit/on |\n'
    printf '|---|---|---:|---:|---:|---:|---:|\n'
  fi
  for workload in "${workloads[@]}"; do
    for mode in "${modes[@]}"; do
      on="$(median "$workload" "$mode" on)" off="$(median "$workload" "$mode" off)"
      au="$(median "$workload" "$mode" audit)"
      if [[ -n "$baseline_bin" ]]; then
        printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$workload" "$mode" "$off" "$on" "$au" \
          "$(median "$workload" "$mode" audit0)" "$(round_ratio "$workload" "$mode" on off)" \
          "$(round_ratio "$workload" "$mode" audit on)" "$(round_ratio "$workload" "$mode" audit0 on)"
      else
        printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$workload" "$mode" "$off" "$on" "$au" \
          "$(round_ratio "$workload" "$mode" on off)" "$(round_ratio "$workload" "$mode" audit on)"
      fi
    done
  done
  printf '\nRatios: median over rounds of the ratio measured within one round.\n'
  printf '\n<details><summary>raw (workload, mode, policy, round, tps)</summary>\n\n```\n'
  cat "$raw"
  printf '```\n</details>\n'
)"
mkdir -p "$SEGPROXY_REPO_ROOT/bench/results"
out="$SEGPROXY_REPO_ROOT/bench/results/pg_policy_compare-$stamp.md"
printf '%s\n' "$report" | tee "$out"
sp_log "written to $out"
