#!/usr/bin/env bash
# The project's test command (also what CI runs via .ci/run):
#   deps -> build -> structure check -> package and deploy checks -> private PostgreSQL
#   -> ctest -> teardown.
# Usage: scripts/test.sh [extra ctest args, e.g. -R unit]
# Env: SEGPROXY_BUILD_TYPE (default Release), SEGPROXY_BUILD_DIR (default build/),
#      SEGPROXY_KEEP_TESTENV=1 keeps the temp test directory for inspection,
#      SEGPROXY_SKIP_DEPLOY_CHECKS=1 skips the Debian package and deploy/ checks.
set -euo pipefail

export SP_LOG_TAG=test
# shellcheck source-path=SCRIPTDIR source=lib/testenv.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/testenv.sh"
cd "$SEGPROXY_REPO_ROOT"

"$SEGPROXY_REPO_ROOT/scripts/deps.sh"
"$SEGPROXY_REPO_ROOT/scripts/build.sh" "${SEGPROXY_BUILD_TYPE:-Release}"
"$SEGPROXY_REPO_ROOT/scripts/check-structure.sh" "$SEGPROXY_REPO_ROOT"
if [[ "${SEGPROXY_SKIP_DEPLOY_CHECKS:-0}" != 1 ]]; then
  # docs/deploy.md: the .deb (dpkg-deb, lintian, install, purge).
  SEGPROXY_PACKAGE_SKIP_BUILD=1 "$SEGPROXY_REPO_ROOT/scripts/check-package.sh"
  # deploy/: Prometheus rules (promtool check + test), Grafana dashboard, Kubernetes.
  "$SEGPROXY_REPO_ROOT/scripts/check-deploy.sh"
fi

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

test_dir="$(mktemp -d /tmp/segproxy-test.XXXXXX)"
chmod 0755 "$test_dir"
testenv_up "$test_dir"

rc=0
ctest --test-dir "$(sp_build_dir)" --output-on-failure -j2 --timeout 600 "$@" || rc=$?
exit "$rc"
