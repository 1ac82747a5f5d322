# shellcheck shell=bash
# The set-up the bench scripts that start their own servers share (bench/hot_path.sh,
# cpu_per_tx.sh, flood.sh, wal_syscalls.sh, mysql_wal_syscalls.sh). Source it first,
# with the script's log tag; not a script of its own:
#
#   # shellcheck source-path=SCRIPTDIR source=lib/bench_env.sh
#   source "$(dirname "${BASH_SOURCE[0]}")/lib/bench_env.sh" TAG [TOOL...]
#
# It exports SP_LOG_TAG=TAG, dies unless every TOOL (e.g. strace) is installed, sources
# scripts/lib/testenv.sh and bench/lib/proxies.sh, changes to the repository root and
# sets proxy_bin ($BENCH_PROXY_BIN, default build/bin/segproxy).
#
#   bench_env_up NAME [NUMBER...]  sp_die unless every NUMBER (the script's settings) is a
#                               whole number; then a fresh test environment (PostgreSQL
#                               and MariaDB, no etcd) in bench_dir=/tmp/segproxy-NAME.XXXXXX,
#                               torn down at exit: the script's bench_cleanup_extra (when
#                               it defines one), then bp_stop_all, then testenv_down. INT /
#                               TERM exit 130 / 143 through the same cleanup.
#   bench_start_targets FIRST|LAST  segproxy "segproxy" from $proxy_bin, "baseline" from
#                               $BENCH_BASELINE_BIN when set (config: $BP_EXTRA_YAML, or
#                               $BENCH_BASELINE_EXTRA_YAML with @BENCH_DIR@ = bench_dir when
#                               that is set), PgBouncer unless
#                               BENCH_SKIP_PGBOUNCER=1 (FIRST or LAST in pg_targets); sets
#                               targets (the segproxy names) and pg_targets
#   bench_pgbench_init SCALE    pgbench -i -q -s SCALE, directly (log in bench_dir)
#   bench_sysbench_prepare ROWS the sysbench table shop.sbtest1 with ROWS rows, directly
#                               (an old one is dropped first)
#   bench_sysbench_cleanup      drops it
#   bench_prepare_data SCALE ROWS  bench_pgbench_init SCALE, and bench_sysbench_prepare
#                               ROWS unless BENCH_SKIP_MYSQL=1; mysql_on: 1 when prepared;
#                               then SIGHUP to every segproxy (reloads the write-ahead catalog)
#   bench_strace_run PID OUT COMMAND...  COMMAND's run under `strace -c -f -p PID` (the
#                               summary in OUT); returns COMMAND's status
#   bench_syscalls OUT N TOP    from a summary: "TOTAL<TAB>name x, name y, ..." - system
#                               calls per transaction (N transactions) and the TOP most
#                               frequent calls per transaction

export SP_LOG_TAG="${1:?bench_env.sh needs the log tag of the script}"
for _bench_tool in "${@:2}"; do
  command -v "$_bench_tool" >/dev/null || { printf '[%s] error: %s is not installed\n' "$SP_LOG_TAG" "$_bench_tool" >&2; exit 1; }
done
# (shellcheck: SCRIPTDIR is the checked script's folder, bench/ or bench/lib/)
# shellcheck source-path=SCRIPTDIR source-path=SCRIPTDIR/lib source=../../scripts/lib/testenv.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/testenv.sh"
# shellcheck source-path=SCRIPTDIR source-path=SCRIPTDIR/lib source=proxies.sh
source "$SEGPROXY_REPO_ROOT/bench/lib/proxies.sh"
cd "$SEGPROXY_REPO_ROOT" || exit 1

proxy_bin="${BENCH_PROXY_BIN:-$(sp_build_dir)/bin/segproxy}"
bench_dir=""
# shellcheck disable=SC2034 # set by bench_start_targets for the scripts that source this
targets=()
# shellcheck disable=SC2034
pg_targets=()
# shellcheck disable=SC2034 # set by bench_prepare_data
mysql_on=0

# shellcheck disable=SC2317 # invoked by trap
_bench_cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if declare -F bench_cleanup_extra >/dev/null; then bench_cleanup_extra || true; fi
  bp_stop_all
  if [[ -n "$bench_dir" ]]; then testenv_down "$bench_dir" || true; fi
  exit "$rc"
}

bench_env_up() {
  local v
  for v in "${@:2}"; do
    [[ "$v" =~ ^[0-9]+$ ]] || sp_die "the settings must be whole numbers: $v"
  done
  trap _bench_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  bench_dir="$(mktemp -d "/tmp/segproxy-$1.XXXXXX")"
  chmod 0755 "$bench_dir"
  SEGPROXY_TESTENV_ETCD=0 testenv_up "$bench_dir"
}

bench_start_targets() {
  targets=(segproxy)
  bp_start_segproxy segproxy "$proxy_bin"
  if [[ -n "${BENCH_BASELINE_BIN:-}" ]]; then
    # BENCH_BASELINE_EXTRA_YAML (when set) replaces $BP_EXTRA_YAML for the baseline only,
    # @BENCH_DIR@ standing for bench_dir: the same binary with the audit on, for example.
    if [[ -v BENCH_BASELINE_EXTRA_YAML ]]; then
      BP_EXTRA_YAML="${BENCH_BASELINE_EXTRA_YAML//@BENCH_DIR@/$bench_dir}" bp_start_segproxy baseline "$BENCH_BASELINE_BIN"
    else
      bp_start_segproxy baseline "$BENCH_BASELINE_BIN"
    fi
    targets+=(baseline)
  fi
  pg_targets=("${targets[@]}")
  if [[ "${BENCH_SKIP_PGBOUNCER:-0}" != 1 ]]; then
    bp_start_pgbouncer
    if [[ "$1" == FIRST ]]; then pg_targets=(pgbouncer "${pg_targets[@]}"); else pg_targets+=(pgbouncer); fi
  fi
}

bench_pgbench_init() {
  sp_log "pgbench -i -s $1 (direct)"
  bp_pgbench direct -i -q -s "$1" >"$bench_dir/pgbench-init.log" 2>&1 || sp_die "pgbench -i failed"
}

bench_sysbench_cleanup() { bp_sysbench direct oltp_point_select cleanup >/dev/null 2>&1 || true; }

bench_sysbench_prepare() {
  bench_sysbench_cleanup
  bp_sysbench direct oltp_point_select prepare --table-size="$1" >"$bench_dir/sysbench-prepare.log" 2>&1 ||
    sp_die "sysbench prepare failed"
}

# shellcheck disable=SC2034 # mysql_on: for the scripts that source this
bench_prepare_data() {
  bench_pgbench_init "$1"
  mysql_on=0
  if [[ "${BENCH_SKIP_MYSQL:-0}" != 1 ]]; then
    mysql_on=1
    bench_sysbench_prepare "$2"
  fi
  # The write-ahead catalog (docs/audit.md) loads the tables that existed when the proxy
  # started; tables it does not know make every statement escaping: reload them.
  local name
  for name in "${!bp_pid[@]}"; do kill -HUP "${bp_pid[$name]}" 2>/dev/null || true; done
  sleep 2
}

bench_strace_run() {
  local pid="$1" out="$2" st rc=0
  shift 2
  strace -c -f -p "$pid" -o "$out" 2>/dev/null &
  st=$!
  sleep 1 # strace attaches to every thread before the load starts
  "$@" || rc=$?
  kill -INT "$st"
  wait "$st" || true
  return "$rc"
}

bench_syscalls() {
  local rows
  rows="$(awk '/^------/ { sep++; next } sep == 1 && NF >= 5 && $4 ~ /^[0-9]+$/ { print $4, $NF }' "$1")"
  awk -v n="$2" '{ t += $1 } END { printf "%.2f\t", t / n }' <<<"$rows"
  sort -rn <<<"$rows" | head -n "$3" | awk -v n="$2" '{ printf "%s %.2f, ", $2, $1 / n } END { printf "\n" }'
}
