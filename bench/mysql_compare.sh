#!/usr/bin/env bash
# The MySQL path's cost: sysbench oltp_point_select and oltp_read_only straight to the
# private MariaDB (over TLS) against the same workload through segproxy (mTLS client
# certificate, policy on; once with the audit log off and once with it on, durability
# group), interleaved in one run, prepared statements (--db-ps-mode=auto) and text
# (disable). Target (issue 6): segproxy with policy and audit >= 0.75x direct.
# Not part of CI.
#
# Besides TPS, each run reports the CPU time the proxy and the MariaDB server spent per
# transaction (utime + stime from /proc, µs/txn): on a machine shared with other work the
# TPS ratios move with the load, the proxy's CPU per transaction much less.
#
# Env: BENCH_SECONDS (15), BENCH_ROUNDS (2, median taken), BENCH_THREADS (16),
#      BENCH_TABLE_SIZE (100000), BENCH_SKIP_BUILD=1, SEGPROXY_BUILD_DIR,
#      BENCH_TESTS ("oltp_point_select oltp_read_only"), BENCH_PS_MODES ("auto disable"),
#      BENCH_BASELINE_BIN=/path/to/older/segproxy: adds the variant "baseline" (that
#      binary, policy on, audit off), interleaved with the others (before/after runs).
#      BENCH_RELAY (1): also run through a plain socat byte relay (the floor of any
#      extra hop on this machine; skipped when socat is missing).
set -euo pipefail

export SP_LOG_TAG=bench
# shellcheck source-path=SCRIPTDIR source=../scripts/lib/testenv.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/testenv.sh"
cd "$SEGPROXY_REPO_ROOT"

seconds="${BENCH_SECONDS:-15}"
rounds="${BENCH_ROUNDS:-2}"
threads="${BENCH_THREADS:-16}"
table_size="${BENCH_TABLE_SIZE:-100000}"
[[ "$seconds" =~ ^[0-9]+$ && "$rounds" =~ ^[0-9]+$ && "$threads" =~ ^[0-9]+$ && "$table_size" =~ ^[0-9]+$ ]] ||
  sp_die "BENCH_SECONDS, BENCH_ROUNDS, BENCH_THREADS and BENCH_TABLE_SIZE must be integers"

bench_dir=""
pids=()
declare -A proxy_pid
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

"$SEGPROXY_REPO_ROOT/scripts/deps.sh"
[[ "${BENCH_SKIP_BUILD:-0}" == 1 ]] || "$SEGPROXY_REPO_ROOT/scripts/build.sh" Release
proxy_bin="$(sp_build_dir)/bin/segproxy"
[[ -x "$proxy_bin" ]] || sp_die "$proxy_bin not found"
command -v sysbench >/dev/null || sp_die "sysbench is not installed (scripts/deps.sh)"

bench_dir="$(mktemp -d /tmp/segproxy-mybench.XXXXXX)"
chmod 0755 "$bench_dir"
# No etcd (fleet tests only): its members heartbeat every 50 ms and would skew the numbers.
SEGPROXY_TESTENV_ETCD=0 testenv_up "$bench_dir"
pki="$SEGPROXY_TEST_PKI"
my_port="$SEGPROXY_TEST_MYPORT"
password="$(cat "$SEGPROXY_TEST_SECRETS/billing_rw.my.pw")"

declare -A port
port[direct]="$my_port"
proxy_variants=(proxy audit)
[[ -n "${BENCH_BASELINE_BIN:-}" ]] && proxy_variants+=(baseline)
if [[ -n "${BENCH_BASELINE_BIN:-}" && ! -x "$BENCH_BASELINE_BIN" ]]; then sp_die "$BENCH_BASELINE_BIN not found"; fi
for variant in "${proxy_variants[@]}"; do
  case "$variant" in proxy) base=23306 ;; audit) base=24306 ;; *) base=25306 ;; esac
  sp_pick_port "port[$variant]" "$base"
  cfg="$bench_dir/segproxy-$variant.yaml"
  cat >"$cfg" <<YAML
log: {level: warn}
listeners:
  - name: my-main
    protocol: mysql
    listen: 127.0.0.1:${port[$variant]}
    tls: {cert: "$pki/server.crt", key: "$pki/server.key", client_ca: "$pki/ca.crt"}
    backend:
      host: 127.0.0.1
      port: $my_port
      metadata: {user: segproxy_meta, password_file: "$SEGPROXY_TEST_SECRETS/segproxy_meta.my.pw"}
identities:
  - match: {spiffe_id: "spiffe://example.org/ns/billing/*"}
    segment: billing
segments:
  billing:
    databases: [shop]
    credentials:
      my-main: {user: billing_rw, password_file: "$SEGPROXY_TEST_SECRETS/billing_rw.my.pw"}
    rules:
      - {id: sysbench, tables: ["shop.sbtest*"], allow: [all]}
    statements: [transaction, session_safe, prepare, ddl]
YAML
  [[ "$variant" == audit ]] && printf 'audit: {dir: "%s/audit", durability: group, on_failure: fail_closed}\n' "$bench_dir" >>"$cfg"
  bin="$proxy_bin"
  [[ "$variant" == baseline ]] && bin="$BENCH_BASELINE_BIN"
  "$bin" --check-config "$cfg" >/dev/null
  "$bin" --config "$cfg" >"$bench_dir/segproxy-$variant.log" 2>&1 &
  pids+=("$!")
  proxy_pid[$variant]="$!"
  sp_wait_port "${port[$variant]}" 30 "$!" || sp_die "segproxy ($variant) did not start"
done
# The floor of any proxy on this machine: a plain byte relay (socat, one process per
# connection; TLS stays end to end, no parsing) in the same interleaved run.
relay_variants=()
if [[ "${BENCH_RELAY:-1}" == 1 ]] && command -v socat >/dev/null; then
  sp_pick_port "port[relay]" 26306
  socat "TCP-LISTEN:${port[relay]},bind=127.0.0.1,fork,reuseaddr,backlog=128,nodelay" "TCP:127.0.0.1:$my_port,nodelay" \
    >"$bench_dir/socat.log" 2>&1 &
  pids+=("$!")
  sp_wait_port "${port[relay]}" 30 "$!" || sp_die "socat relay did not start"
  relay_variants=(relay)
fi

# sysbench reads the client certificate from the working directory (libmariadb's
# mysql_ssl_set with relative names); the direct run presents it too (MariaDB ignores it).
work="$bench_dir/sysbench"
mkdir -p "$work"
ln -sf "$pki/ca.crt" "$work/cacert.pem"
ln -sf "$pki/client-spiffe.crt" "$work/client-cert.pem"
ln -sf "$pki/client-spiffe.key" "$work/client-key.pem"
printf 'mysql-password=%s\n' "$password" >"$work/sysbench.cfg"
chmod 0600 "$work/sysbench.cfg"
sb() {  # variant test command ps_mode [extra...]
  local variant="$1" test="$2" command="$3" ps="$4"
  shift 4
  (cd "$work" && sysbench "$test" --config-file="$work/sysbench.cfg" --db-driver=mysql --mysql-host=127.0.0.1 \
    --mysql-port="${port[$variant]}" --mysql-user=billing_rw --mysql-db=shop --mysql-ssl=on \
    --tables=1 --table-size="$table_size" --db-ps-mode="$ps" "$@" "$command")
}

sp_log "sysbench prepare (${table_size} rows, direct)"
sb direct oltp_read_only cleanup disable >/dev/null 2>&1 || true
sb direct oltp_read_only prepare disable >"$bench_dir/prepare.log" 2>&1 ||
  { tail -n 20 "$bench_dir/prepare.log" >&2; sp_die "sysbench prepare failed"; }
# The proxies loaded their write-ahead catalogs before sbtest1 existed, and a table the
# catalog does not know is never proven read-only (docs/audit.md): a reload loads them again.
for v in "${!proxy_pid[@]}"; do kill -HUP "${proxy_pid[$v]}"; done
sleep 5

# CPU time (clock ticks, utime + stime) of a process; 0 when unreadable.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
my_pid="$(head -n1 "$bench_dir/mysock/mariadbd.pid" 2>/dev/null || true)"
[[ "$my_pid" =~ ^[0-9]+$ ]] || my_pid=""
tick_us=$((1000000 / $(getconf CLK_TCK)))

read -r -a tests <<<"${BENCH_TESTS:-oltp_point_select oltp_read_only}"
read -r -a ps_modes <<<"${BENCH_PS_MODES:-auto disable}"
raw="$bench_dir/raw.tsv"
: >"$raw"
variants=(direct "${relay_variants[@]}" "${proxy_variants[@]}")
for ((r = 1; r <= rounds; r++)); do
  for test in "${tests[@]}"; do
    for ps in "${ps_modes[@]}"; do
      for variant in "${variants[@]}"; do
        log="$bench_dir/run-$test-$ps-$variant-r$r.log"
        sp_log "round $r/$rounds: $test --db-ps-mode=$ps, $variant, $threads threads, ${seconds}s"
        ppid="${proxy_pid[$variant]:-}"
        p0=0 m0=0
        [[ -n "$ppid" ]] && p0="$(cpu_ticks "$ppid")"
        [[ -n "$my_pid" ]] && m0="$(cpu_ticks "$my_pid")"
        if ! sb "$variant" "$test" run "$ps" --threads="$threads" --time="$seconds" --report-interval=0 >"$log" 2>&1; then
          tail -n 20 "$log" >&2
          # The socat floor is informative only: a failed relay run is left out, not fatal.
          [[ "$variant" == relay ]] || sp_die "sysbench failed"
          printf '%s\t%s\t%s\t%s\t-\t-\t-\n' "$test" "$ps" "$variant" "$r" >>"$raw"
          continue
        fi
        p1=0 m1=0
        [[ -n "$ppid" ]] && p1="$(cpu_ticks "$ppid")"
        [[ -n "$my_pid" ]] && m1="$(cpu_ticks "$my_pid")"
        tps="$(sed -n 's/^ *transactions: *[0-9]* *(\([0-9.]*\) per sec.*/\1/p' "$log" | head -n1)"
        txns="$(sed -n 's/^ *transactions: *\([0-9]*\) .*/\1/p' "$log" | head -n1)"
        errs="$(sed -n 's/^ *ignored errors: *\([0-9]*\).*/\1/p' "$log" | head -n1)"
        [[ "${errs:-0}" == 0 ]] || sp_die "sysbench reported $errs ignored errors in $log"
        pcpu="$(awk -v d=$((p1 - p0)) -v t="${txns:-0}" -v u="$tick_us" 'BEGIN { if (t > 0) printf "%.1f", d * u / t; else print "-" }')"
        mcpu="$(awk -v d=$((m1 - m0)) -v t="${txns:-0}" -v u="$tick_us" 'BEGIN { if (t > 0) printf "%.1f", d * u / t; else print "-" }')"
        [[ -n "$ppid" ]] || pcpu="-"
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$test" "$ps" "$variant" "$r" "$tps" "$pcpu" "$mcpu" >>"$raw"
      done
    done
  done
done
sb direct oltp_read_only cleanup disable >/dev/null 2>&1 || true

median() {  # test ps-mode variant [column: 5 tps, 6 proxy µs/txn, 7 server µs/txn]
  awk -F'\t' -v t="$1" -v m="$2" -v v="$3" -v c="${4:-5}" '$1 == t && $2 == m && $3 == v && $c != "-" { print $c }' "$raw" |
    sort -g | awk '{ x[NR] = $1 } END { if (NR == 0) { print "-"; exit }
      if (NR % 2) printf "%.1f\n", x[(NR + 1) / 2]; else printf "%.1f\n", (x[NR / 2] + x[NR / 2 + 1]) / 2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0 || a == "-" || b == "-") print "-"; else printf "%.3f", a / b }'; }
stamp="$(date -u +%Y%m%d-%H%M%S)"
report="$(
  printf '# segproxy MySQL path vs direct MariaDB, sysbench, %s threads\n\n' "$threads"
  printf -- '- date (UTC): %s; host: %s cores; %s rows; %s s per run; %s interleaved rounds, median\n\n' \
    "$stamp" "$(nproc)" "$table_size" "$seconds" "$rounds"
  printf '| test | ps-mode | direct TPS | byte relay (socat) TPS | segproxy (policy) TPS | segproxy (policy+audit) TPS | relay/direct | policy/direct | audit/direct |\n'
  printf '|---|---|---:|---:|---:|---:|---:|---:|---:|\n'
  for test in "${tests[@]}"; do
    for ps in "${ps_modes[@]}"; do
      d="$(median "$test" "$ps" direct)" p="$(median "$test" "$ps" proxy)" a="$(median "$test" "$ps" audit)"
      x="$(median "$test" "$ps" relay)"
      printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$test" "$ps" "$d" "$x" "$p" "$a" "$(ratio "$x" "$d")" \
        "$(ratio "$p" "$d")" "$(ratio "$a" "$d")"
    done
  done
  printf '\nCPU per transaction (µs, median): the proxy process; the MariaDB server in parentheses.\n\n'
  printf '| test | ps-mode | direct | segproxy (policy) | segproxy (policy+audit) |'
  [[ -n "${BENCH_BASELINE_BIN:-}" ]] && printf ' baseline (policy) | baseline TPS | policy/baseline TPS |'
  printf '\n|---|---|---:|---:|---:|'
  [[ -n "${BENCH_BASELINE_BIN:-}" ]] && printf -- '---:|---:|---:|'
  printf '\n'
  for test in "${tests[@]}"; do
    for ps in "${ps_modes[@]}"; do
      printf '| %s | %s | (%s) | %s (%s) | %s (%s) |' "$test" "$ps" "$(median "$test" "$ps" direct 7)" \
        "$(median "$test" "$ps" proxy 6)" "$(median "$test" "$ps" proxy 7)" \
        "$(median "$test" "$ps" audit 6)" "$(median "$test" "$ps" audit 7)"
      if [[ -n "${BENCH_BASELINE_BIN:-}" ]]; then
        b="$(median "$test" "$ps" baseline)"
        printf ' %s (%s) | %s | %s |' "$(median "$test" "$ps" baseline 6)" "$(median "$test" "$ps" baseline 7)" "$b" \
          "$(ratio "$(median "$test" "$ps" proxy)" "$b")"
      fi
      printf '\n'
    done
  done
  printf '\n<details><summary>raw (test, ps-mode, variant, round, tps, proxy µs/txn, server µs/txn)</summary>\n\n```\n'
  cat "$raw"
  printf '```\n</details>\n'
)"
mkdir -p "$SEGPROXY_REPO_ROOT/bench/results"
out="$SEGPROXY_REPO_ROOT/bench/results/mysql_compare-$stamp.md"
printf '%s\n' "$report" | tee "$out"
sp_log "written to $out"
