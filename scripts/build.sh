#!/usr/bin/env bash
# Configures and builds segproxy. Usage: scripts/build.sh [Release|Debug|RelWithDebInfo]
# Build directory: $SEGPROXY_BUILD_DIR (default <repo>/build). Extra CMake cache
# options can be passed in $SEGPROXY_CMAKE_ARGS (word-split).
set -euo pipefail

export SP_LOG_TAG=build
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

build_type="${1:-${SEGPROXY_BUILD_TYPE:-Release}}"
case "$build_type" in
  Release | Debug | RelWithDebInfo | MinSizeRel) ;;
  *) sp_die "unknown build type '$build_type' (Release|Debug|RelWithDebInfo|MinSizeRel)" ;;
esac

build_dir="$(sp_build_dir)"
# shellcheck disable=SC2206 # intentional word splitting of user-supplied options
extra=(${SEGPROXY_CMAKE_ARGS:-})

sp_log "configuring $build_type in $build_dir"
# Tests on explicitly: scripts/demo.sh configures a fresh tree without them.
cmake -S "$SEGPROXY_REPO_ROOT" -B "$build_dir" -DCMAKE_BUILD_TYPE="$build_type" -DSEGPROXY_BUILD_TESTS=ON "${extra[@]}"
sp_log "building with $(nproc) jobs"
cmake --build "$build_dir" -j"$(nproc)"
