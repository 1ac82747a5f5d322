#!/usr/bin/env bash
# Sanitizer runs (issue 20), nightly-style: not part of .ci/run (docs/testing.md has the
# time budget and the last run's result).
#   scripts/sanitize.sh [address|thread|all] [extra ctest args]     (default: all)
#   address  build-asan/: daemon, segproxyctl and the integration tests built with
#            -fsanitize=address,undefined; runs ctest -L integration
#   thread   build-tsan/: the same with -fsanitize=thread; runs ctest -L sanitize_thread
#            (concurrent sessions, registries, revoke, reload, dynamic credentials)
# Every sanitizer report is a failure: the runtimes halt on the first one and write it
# to <build dir>/sanitizer-reports/, which must be empty at the end (the reports are
# printed). Suppressions, for third-party libraries only: tests/sanitizers/*.supp.
# SEGPROXY_SANITIZE_QUICK=1: Release flags, and the pure libraries (json, protocols,
# config, tls, SQL classifiers, write-ahead classes) uninstrumented (SEGPROXY_SANITIZE_SKIP,
# cmake/Sanitize.cmake): their objects come from the Release build's ccache, the build
# takes about half as long; the daemon, audit and authz code stays instrumented. For
# address, the integration test binaries are uninstrumented too (test code; the ASan
# runtime and LeakSanitizer still run in them).
# SEGPROXY_SANITIZE_QUICK=2 (address only): as 1, and the daemon's session code
# (segproxy_core) and segproxyctl uninstrumented as well: audit, authz, etcd, fleet and
# the daemon's main stay instrumented; the rest gets the ASan runtime only (heap
# redzones checked by the intercepted libc calls, double and mismatched frees, leaks).
# A build of minutes from ccache instead of an hour on a loaded 2-core machine.
# Env: SEGPROXY_SANITIZE_JOBS (ctest -j, default 2), SEGPROXY_SANITIZE_BUILD_JOBS
# (default nproc), SEGPROXY_KEEP_TESTENV=1, and an environment already up (its env.sh
# sourced: SEGPROXY_TEST_PGPORT set) is used instead of a fresh one.
set -euo pipefail

export SP_LOG_TAG=sanitize
# shellcheck source-path=SCRIPTDIR source=lib/testenv.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/testenv.sh"
cd "$SEGPROXY_REPO_ROOT"

which="${1:-all}"
[[ $# -eq 0 ]] || shift
case "$which" in
  address | thread) kinds=("$which") ;;
  all) kinds=(address thread) ;;
  *) sp_die "usage: scripts/sanitize.sh [address|thread|all] [extra ctest args]" ;;
esac
supp="$SEGPROXY_REPO_ROOT/tests/sanitizers"

launcher=()
if command -v ccache >/dev/null 2>&1; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
fi

# build KIND DIR: configures and builds the daemon, segproxyctl and the tests of KIND's label.
build() {
  local kind="$1" dir="$2" flags label
  if [[ "$kind" == address ]]; then
    flags=address,undefined
    label=integration
  else
    flags=thread
    label=sanitize_thread
  fi
  local -a mode=(-DCMAKE_BUILD_TYPE=Debug -DSEGPROXY_SANITIZE_SKIP=)
  local quick="${SEGPROXY_SANITIZE_QUICK:-0}" skip
  case "$quick" in
    0) ;;
    1 | 2)
      skip="segproxy_json;segproxy_protocols;segproxy_config;segproxy_tls;segproxy_sql;segproxy_wal"
      [[ "$kind" != address ]] || skip+=";@integration"
      if [[ "$quick" == 2 ]]; then
        [[ "$kind" == address ]] || sp_die "SEGPROXY_SANITIZE_QUICK=2 is for address only (TSan needs the session code instrumented)"
        skip+=";segproxy_core;segproxy_ctl;segproxyctl"
      fi
      mode=(-DCMAKE_BUILD_TYPE=Release "-DSEGPROXY_SANITIZE_SKIP=$skip")
      ;;
    *) sp_die "SEGPROXY_SANITIZE_QUICK must be 0, 1 or 2, not '$quick'" ;;
  esac
  sp_log "configuring $dir (-fsanitize=$flags ${mode[*]})"
  cmake -S "$SEGPROXY_REPO_ROOT" -B "$dir" -DSEGPROXY_BUILD_TESTS=ON -DSEGPROXY_SANITIZE="$flags" \
    "${mode[@]}" "${launcher[@]}" >/dev/null
  local -a targets
  mapfile -t targets < <(grep -v '^$' "$dir/test-targets-$label.txt")
  sp_log "building segproxy segproxyctl ${targets[*]}"
  cmake --build "$dir" -j"${SEGPROXY_SANITIZE_BUILD_JOBS:-$(nproc)}" --target segproxy segproxyctl "${targets[@]}"
}

# run KIND DIR [ctest args]: runs KIND's tests with the runtime options; 0 only when
# ctest passed AND no report was written.
run() {
  local kind="$1" dir="$2"
  shift 2
  local reports="$dir/sanitizer-reports" label rc=0 started elapsed
  rm -rf "$reports"
  mkdir -p "$reports"
  if [[ "$kind" == address ]]; then
    label=integration
    # halt_on_error: the first report ends the process (the test then fails as well);
    # log_path: reports go to files, never into output a test parses (segproxyctl's).
    export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:log_path=$reports/asan:print_suppressions=0"
    export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
    export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$reports/ubsan:suppressions=$supp/ubsan.supp"
    unset TSAN_OPTIONS
  else
    label=sanitize_thread
    export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:log_path=$reports/tsan:suppressions=$supp/tsan.supp:print_suppressions=0"
    unset ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS
  fi
  export SEGPROXY_BIN="$dir/bin/segproxy" SEGPROXYCTL_BIN="$dir/bin/segproxyctl"
  sp_log "ctest -L $label ($kind)"
  started=$SECONDS
  ctest --test-dir "$dir" -L "$label" --output-on-failure -j"${SEGPROXY_SANITIZE_JOBS:-2}" \
    --timeout 900 "$@" || rc=$?
  elapsed=$((SECONDS - started))
  local -a found
  mapfile -t found < <(find "$reports" -type f | sort)
  for f in "${found[@]}"; do
    printf '=== %s ===\n' "$f"
    cat "$f"
  done
  sp_log "$kind: ctest exit $rc, ${#found[@]} sanitizer report file(s), ${elapsed}s"
  ((rc == 0 && ${#found[@]} == 0))
}

test_dir=""
# shellcheck disable=SC2317 # invoked by trap
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n "$test_dir" ]]; then testenv_down "$test_dir" || true; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

declare -A dirs=([address]="$SEGPROXY_REPO_ROOT/build-asan" [thread]="$SEGPROXY_REPO_ROOT/build-tsan")
for kind in "${kinds[@]}"; do
  started=$SECONDS
  build "$kind" "${dirs[$kind]}"
  sp_log "$kind build: $((SECONDS - started))s"
done

if [[ -z "${SEGPROXY_TEST_PGPORT:-}" ]]; then
  test_dir="$(mktemp -d /tmp/segproxy-sanitize.XXXXXX)"
  chmod 0755 "$test_dir"
  testenv_up "$test_dir"
fi

status=0
for kind in "${kinds[@]}"; do
  run "$kind" "${dirs[$kind]}" "$@" || status=1
done
exit "$status"
