"""Checks of deploy/ for scripts/check-deploy.sh (run it from the repository root).

  check_deploy.py METRICS_SOURCE DEPLOY_DIR
      Every segproxy_* name used in deploy/prometheus/*.yaml rules and in the queries of
      deploy/grafana/*.json is registered by the daemon (METRICS_SOURCE, where each
      family is declared once: r.counter("segproxy_..."), r.histogram(...), ...) or by a
      companion exporter in deploy/prometheus/*.sh ('# TYPE' lines); the
      dashboards are well formed; every YAML file under DEPLOY_DIR/kubernetes parses.
  check_deploy.py --check-k8s-config SEGPROXY_BIN K8S_DIR
      Every ConfigMap key named segproxy.yaml under K8S_DIR passes
      `segproxy --check-config` (with stand-in certificate and password files), and
      every example folder of K8S_DIR has one.
Exit status 0 when everything holds; 1 with one line per finding otherwise.
"""
import json
import pathlib
import re
import subprocess
import sys
import tempfile

import yaml

DECLARATION = re.compile(r'\.(counter|gauge|histogram|callback_gauge|callback_gauge_family)\(\s*"(segproxy_[a-z0-9_]+)"')
USE = re.compile(r"\bsegproxy_[a-z0-9_]+")


def exposed_names(source):
    names = set()
    for kind, name in DECLARATION.findall(pathlib.Path(source).read_text()):
        names.add(name)
        if kind == "histogram":
            names.update({name + "_bucket", name + "_sum", name + "_count"})
    return names


def rule_exprs(path):
    doc = yaml.safe_load(path.read_text())
    for group in doc.get("groups", []):
        for rule in group.get("rules", []):
            yield rule.get("alert") or rule.get("record"), rule["expr"]


def dashboard_exprs(path, findings):
    dash = json.loads(path.read_text())
    for key in ("title", "uid", "panels", "templating", "schemaVersion"):
        if key not in dash:
            findings.append(f"{path}: no '{key}'")
    ids = set()
    for panel in dash.get("panels", []):
        pid = panel.get("id")
        if pid in ids:
            findings.append(f"{path}: duplicate panel id {pid}")
        ids.add(pid)
        if "gridPos" not in panel or not panel.get("title"):
            findings.append(f"{path}: panel {pid} lacks gridPos or title")
        if panel.get("type") == "row":
            continue
        targets = panel.get("targets") or []
        if not targets:
            findings.append(f"{path}: panel '{panel.get('title')}' has no query")
        for t in targets:
            if not t.get("expr"):
                findings.append(f"{path}: panel '{panel.get('title')}' has a query without expr")
                continue
            yield panel.get("title"), t["expr"]
    for var in dash.get("templating", {}).get("list", []):
        q = var.get("query")
        if isinstance(q, dict):
            q = q.get("query", "")
        if isinstance(q, str) and "segproxy_" in q:
            yield "variable " + var.get("name", "?"), q
    for ann in dash.get("annotations", {}).get("list", []):
        if ann.get("expr"):
            yield "annotation " + ann.get("name", "?"), ann["expr"]


def check_names(source, deploy):
    findings = []
    names = exposed_names(source)
    if len(names) < 10:
        return [f"{source}: found only {len(names)} metric declarations; the pattern is stale"]
    # Companion exporters shipped beside the rules (segproxy-crl-expiry.sh) declare
    # their families with '# TYPE' lines.
    for script in sorted((deploy / "prometheus").glob("*.sh")):
        names.update(re.findall(r"# TYPE (segproxy_[a-z0-9_]+) ", script.read_text()))
    uses = []
    for path in sorted((deploy / "prometheus").glob("*.yaml")):
        if path.name.endswith(".test.yaml"):
            continue
        uses += [(path, where, expr) for where, expr in rule_exprs(path)]
    for path in sorted((deploy / "grafana").glob("*.json")):
        uses += [(path, where, expr) for where, expr in dashboard_exprs(path, findings)]
    if not uses:
        findings.append(f"{deploy}: no rules or dashboard queries found")
    for path, where, expr in uses:
        for name in USE.findall(expr):
            if name not in names:
                findings.append(f"{path}: {where}: {name} is not a metric segproxy exposes")
    for path in sorted((deploy / "kubernetes").rglob("*.yaml")):
        try:
            docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
        except yaml.YAMLError as e:
            findings.append(f"{path}: {e}")
            continue
        for d in docs:
            if not isinstance(d, dict) or not d.get("apiVersion") or not d.get("kind"):
                findings.append(f"{path}: a document without apiVersion/kind")
    return findings


def check_k8s_configs(binary, k8s):
    findings = []
    configs = []
    for path in sorted(k8s.rglob("*.yaml")):
        for d in yaml.safe_load_all(path.read_text()):
            if isinstance(d, dict) and d.get("kind") == "ConfigMap" and "segproxy.yaml" in d.get("data", {}):
                configs.append((path, d["metadata"]["name"], d["data"]["segproxy.yaml"]))
    # Every example (a folder of K8S_DIR) embeds a configuration that gets checked.
    for example in sorted(d for d in k8s.iterdir() if d.is_dir()):
        if not any(example in path.parents for path, _, _ in configs):
            findings.append(f"{example}: no ConfigMap with a segproxy.yaml key")
    for path, name, text in configs:
        with tempfile.TemporaryDirectory(prefix="segproxy-k8s-") as tmp:
            root = pathlib.Path(tmp)
            # The manifests mount files at absolute paths; check the config with those
            # paths moved under a scratch root holding stand-in files.
            text = re.sub(r"(?<=[\s:\[])(/(?:etc|var|run)/segproxy[^\s,\]]*)", lambda m: str(root) + m.group(1), text)
            cfg = root / "segproxy.yaml"
            cfg.write_text(text)
            make_standins(binary, root, yaml.safe_load(text))
            r = subprocess.run([binary, "--check-config", str(cfg)], capture_output=True, text=True, timeout=60)
            if r.returncode != 0:
                findings.append(f"{path}: ConfigMap {name}: segproxy --check-config failed:\n{r.stderr}")
    return findings


def make_standins(binary, root, cfg):
    """Test PKI (scripts/gen-certs.sh) and password files where the config names them."""
    pki = root / "pki"
    subprocess.run(["scripts/gen-certs.sh", str(pki)], check=True, capture_output=True, timeout=120)
    wanted = {}
    for listener in cfg.get("listeners", []):
        tls = listener.get("tls", {})
        wanted[tls.get("cert")] = pki / "server.crt"
        wanted[tls.get("key")] = pki / "server.key"
        wanted[tls.get("client_ca")] = pki / "ca.crt"
        btls = listener.get("backend", {}).get("tls", {})
        if btls.get("ca"):
            wanted[btls["ca"]] = pki / "ca.crt"
    for segment in cfg.get("segments", {}).values():
        for cred in segment.get("credentials", {}).values():
            if isinstance(cred, dict) and cred.get("password_file"):
                wanted[cred["password_file"]] = None
    for target, source in wanted.items():
        if not target:
            continue
        t = pathlib.Path(target)
        t.parent.mkdir(parents=True, exist_ok=True)
        t.write_bytes(source.read_bytes() if source else b"stand-in-password\n")
        t.chmod(0o600)
    for key in ("audit", "admin"):
        section = cfg.get(key) or {}
        for k in ("dir", "socket", "revocations_file"):
            if section.get(k):
                p = pathlib.Path(section[k])
                (p if k == "dir" else p.parent).mkdir(parents=True, exist_ok=True)


def main(argv):
    if len(argv) == 4 and argv[1] == "--check-k8s-config":
        findings = check_k8s_configs(argv[2], pathlib.Path(argv[3]))
    elif len(argv) == 3:
        findings = check_names(argv[1], pathlib.Path(argv[2]))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    for f in findings:
        print(f, file=sys.stderr)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
