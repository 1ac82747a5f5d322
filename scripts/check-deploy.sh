#!/usr/bin/env bash
# CI check of deploy/ (docs/deploy.md): the Prometheus rules (promtool check rules and
# the unit tests in segproxy-rules.test.yaml), the Grafana dashboard (valid JSON, panels
# well formed) and the Kubernetes manifests (YAML that parses, the segproxy config they
# embed passes `segproxy --check-config`). Every segproxy_* metric named in a rule or a
# dashboard query must be one the daemon registers (daemon/metrics/proxy_metrics.cpp).
# Usage: scripts/check-deploy.sh     Needs promtool (prometheus) and python3-yaml.
set -euo pipefail

export SP_LOG_TAG=check-deploy
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$SEGPROXY_REPO_ROOT"

command -v promtool >/dev/null 2>&1 || sp_die "promtool not found (package prometheus)"
python3 -c 'import yaml' 2>/dev/null || sp_die "python3 yaml module not found (package python3-yaml)"

sp_log "promtool check rules / test rules"
promtool check rules deploy/prometheus/segproxy-rules.yaml >/dev/null ||
  sp_die "promtool check rules deploy/prometheus/segproxy-rules.yaml"
(cd deploy/prometheus && promtool test rules segproxy-rules.test.yaml) ||
  sp_die "promtool test rules deploy/prometheus/segproxy-rules.test.yaml"

sp_log "metric names, Grafana dashboard, Kubernetes manifests"
python3 scripts/lib/check_deploy.py daemon/metrics/proxy_metrics.cpp deploy

bin="$(sp_build_dir)/bin/segproxy"
if [[ -z "$(find deploy/kubernetes -name '*.yaml' 2>/dev/null)" ]]; then
  :
elif [[ -x "$bin" ]]; then
  python3 scripts/lib/check_deploy.py --check-k8s-config "$bin" deploy/kubernetes
else
  sp_log "note: $bin not built; the configs embedded in deploy/kubernetes were only parsed"
fi
sp_log "deploy ok"
