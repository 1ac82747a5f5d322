# shellcheck shell=bash
# Steps 1 and 2 of both demos (scripts/demo.sh, scripts/demo-fleet.sh): the Debian packages
# the demo needs, then only the two binaries it runs (compiler output goes to
# <build>/demo-build.log). Sourced after scripts/lib/common.sh; defines `step`.
# Usage: demo_build BUILD_DIR        Env: SEGPROXY_DEMO_SKIP_BUILD=1

step() { sp_log "[$1/5] $2"; }

demo_build() {
  local build_dir="$1"
  step 1 "checking the Debian packages the demo needs (scripts/demo-packages.txt)"
  "$SEGPROXY_REPO_ROOT/scripts/deps.sh" "$SEGPROXY_REPO_ROOT/scripts/demo-packages.txt"
  if [[ "${SEGPROXY_DEMO_SKIP_BUILD:-0}" == 1 ]]; then
    step 2 "using the binaries already built in $build_dir/bin"
    return 0
  fi
  mkdir -p "$build_dir"
  local log="$build_dir/demo-build.log"
  step 2 "building segproxy and segproxyctl only (compiler output: $log)"
  : >"$log"
  if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
    # A fresh tree: no test suite (scripts/build.sh turns it back on for the tests),
    # precompiled Asio headers (a third less CPU for the daemon core's cold build) and -O1
    # (the demo is for trying it out; scripts/build.sh builds the -O2 binaries that
    # bench/ measures). Both keep the first run within 6 minutes on 2 cores.
    cmake -S "$SEGPROXY_REPO_ROOT" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DSEGPROXY_BUILD_TESTS=OFF -DSEGPROXY_PCH=ON \
      -DSEGPROXY_RELEASE_OPT=-O1 \
      >>"$log" 2>&1 || sp_die "configuring failed; the end of $log:"$'\n'"$(tail -n 20 "$log")"
  fi
  cmake --build "$build_dir" -j"$(nproc)" --target segproxy segproxyctl >>"$log" 2>&1 ||
    sp_die "building failed; the end of $log:"$'\n'"$(tail -n 30 "$log")"
}
