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

sp_log "segproxy-crl-expiry.sh on a real CRL"
shellcheck_out=""
if command -v shellcheck >/dev/null 2>&1; then
  shellcheck_out="$(shellcheck deploy/prometheus/*.sh 2>&1)" || sp_die "shellcheck deploy/prometheus: $shellcheck_out"
fi
crl_dir="$(mktemp -d /tmp/segproxy-crl.XXXXXX)"
trap 'rm -rf "$crl_dir"' EXIT
(
  cd "$crl_dir"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.crt \
    -subj /CN=crl-test-ca -days 30 2>/dev/null
  : >index.txt
  echo 1000 >crlnumber
  printf '[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\ncrlnumber = crlnumber\ndefault_md = sha256\n' >ca.cnf
  openssl ca -batch -config ca.cnf -keyfile ca.key -cert ca.crt -gencrl -crldays 3 -out a.crl 2>/dev/null
  openssl ca -batch -config ca.cnf -keyfile ca.key -cert ca.crt -gencrl -crldays 1 -out b.crl 2>/dev/null
  cat a.crl b.crl >both.crl
) || sp_die "making test CRLs failed"
deploy/prometheus/segproxy-crl-expiry.sh "$crl_dir/out.prom" "$crl_dir/a.crl" "$crl_dir/both.crl" "$crl_dir/missing.crl"
want_a="$(date -d "$(openssl crl -in "$crl_dir/a.crl" -noout -nextupdate | cut -d= -f2)" +%s)"
want_b="$(date -d "$(openssl crl -in "$crl_dir/b.crl" -noout -nextupdate | cut -d= -f2)" +%s)"
for want in "{crl=\"$crl_dir/a.crl\"} $want_a" "{crl=\"$crl_dir/both.crl\"} $want_b" "{crl=\"$crl_dir/missing.crl\"} 0"; do
  grep -qxF "segproxy_crl_next_update_timestamp_seconds$want" "$crl_dir/out.prom" ||
    sp_die "segproxy-crl-expiry.sh: no line '$want' in:"$'\n'"$(cat "$crl_dir/out.prom")"
done
lint="$(promtool check metrics <"$crl_dir/out.prom" 2>&1)" || sp_die "promtool check metrics: $lint"

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
