#!/usr/bin/env bash
# libFuzzer campaign: scripts/fuzz.sh SECONDS [TARGET ...]
# Builds every fuzz target (tests/fuzz/<target>_fuzz.cpp) with clang, libFuzzer, ASan and
# UBSan in $SEGPROXY_FUZZ_BUILD_DIR (default <repo>/build-fuzz), runs each for SECONDS
# from its seed corpus tests/fuzz/corpus/<target>, merges the new inputs that add
# coverage into <build>/fuzz-work/<target>/corpus (seeds + every new input with new
# features), and copies only the few that add the most coverage edges back into the seed
# corpus (tests/fuzz/pick_corpus.py: at most FUZZ_PICK_MAX=10, each adding at least
# FUZZ_PICK_MIN_EDGES=5 edges), so the committed corpus and the replay tests stay lean.
# Prints one summary line per target (seconds run, runs, coverage, corpus sizes,
# crashes). Crash, timeout, leak and OOM inputs are kept under <build>/fuzz-work/<target>/
# and make the script exit 1. Not part of CI (ctest replays the corpora under the
# sanitizers instead); run it before a release, e.g. 600 s a target.
set -euo pipefail

export SP_LOG_TAG=fuzz
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

seconds="${1:?usage: scripts/fuzz.sh SECONDS [TARGET ...]}"
[[ "$seconds" =~ ^[0-9]+$ ]] || sp_die "SECONDS must be a number: $seconds"
shift
root="$SEGPROXY_REPO_ROOT"
"$root/scripts/deps.sh" "$root/scripts/packages.txt"
"$root/scripts/deps.sh" "$root/scripts/fuzz-packages.txt"

targets=("$@")
if ((${#targets[@]} == 0)); then
  for f in "$root"/tests/fuzz/*_fuzz.cpp; do
    n="$(basename "$f" _fuzz.cpp)"
    targets+=("$n")
  done
fi

build="${SEGPROXY_FUZZ_BUILD_DIR:-$root/build-fuzz}"
mkdir -p "$build"
sp_log "configuring clang build in $build"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSEGPROXY_BUILD_TESTS=ON \
  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 >"$build/configure.log" 2>&1 ||
  { tail -n 20 "$build/configure.log" >&2; sp_die "cmake configure failed"; }
build_targets=()
for t in "${targets[@]}"; do build_targets+=("fuzz_$t"); done
sp_log "building ${build_targets[*]}"
cmake --build "$build" -j"$(nproc)" --target "${build_targets[@]}" >"$build/build.log" 2>&1 ||
  { tail -n 30 "$build/build.log" >&2; sp_die "build failed (log: $build/build.log)"; }

failed=0
summary="$build/fuzz-summary.txt"
: >"$summary"
for t in "${targets[@]}"; do
  bin="$(find "$build/tests/fuzz" -maxdepth 1 -type f -name "fuzz_$t" | head -n1)"
  [[ -x "$bin" ]] || sp_die "no fuzzer binary for $t"
  work="$build/fuzz-work/$t"
  corpus="$root/tests/fuzz/corpus/$t"
  rm -rf "$work"
  mkdir -p "$work/new" "$work/corpus" "$corpus"
  sp_log "$t: fuzzing for ${seconds}s"
  rc=0
  started=$SECONDS
  "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/" "$work/new" "$corpus" >"$work/fuzz.log" 2>&1 || rc=$?
  ran=$((SECONDS - started))
  before=$(find "$corpus" -type f | wc -l)
  cp -pR "$corpus"/. "$work/corpus/"
  "$bin" -merge=1 -merge_control_file="$work/merge.ctl" "$work/corpus" "$work/new" >"$work/merge.log" 2>&1 || true
  merged=$(find "$work/corpus" -type f | wc -l)
  picked=0
  if [[ -s "$work/merge.ctl" ]]; then
    python3 "$root/tests/fuzz/pick_corpus.py" "$work/merge.ctl" "${FUZZ_PICK_MAX:-10}" \
      "${FUZZ_PICK_MIN_EDGES:-5}" >"$work/picked.txt" 2>"$work/pick.log" || true
    while read -r _gain path; do
      cp -p "$path" "$corpus/" && picked=$((picked + 1))
    done <"$work/picked.txt"
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/fuzz.log" | grep -o '[0-9]*$' | tail -n1)
  cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$work/fuzz.log" | tail -n1)
  crashes=$(find "$work" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' \) | wc -l)
  line="$t: ${ran}s of ${seconds}s, ${runs:-?} runs, ${cov:-cov ?}, corpus $before seeds -> $merged merged,"
  line+=" $picked picked ($(cat "$work/pick.log" 2>/dev/null)), crashes $crashes (exit $rc)"
  printf '%s\n' "$line" | tee -a "$summary"
  if ((crashes > 0 || rc != 0)); then
    failed=1
    sp_log "$t: see $work/fuzz.log and the inputs in $work/"
  fi
done
sp_log "summary in $summary"
exit "$failed"
