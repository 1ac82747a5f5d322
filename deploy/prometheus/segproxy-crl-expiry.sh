#!/usr/bin/env bash
# CRL files on disk for Prometheus (optional; docs/deploy.md "Alerts"). The daemon itself
# exports segproxy_crl_next_update_seconds{listener} for the CRL each listener loaded, and
# the shipped alerts use that; this script looks at the files instead (e.g. that the
# freshly published CRL is readable and newer before you reload). It writes
# segproxy_crl_next_update_timestamp_seconds{crl="PATH"} (the CRL's
# nextUpdate, seconds since the epoch; the earliest when a file holds several CRLs) in the
# text format, atomically, for node_exporter's textfile collector. Run it from cron or a
# systemd timer, e.g. every 10 minutes:
#   segproxy-crl-expiry.sh /var/lib/node_exporter/textfile/segproxy_crl.prom /etc/segproxy/tls/ca.crl
# Usage: segproxy-crl-expiry.sh OUT.prom CRL.pem...   A file it cannot read is reported as
# segproxy_crl_next_update_timestamp_seconds 0 (not a silent gap).
set -euo pipefail

out="${1:?usage: segproxy-crl-expiry.sh OUT.prom CRL.pem...}"
shift
(($# > 0)) || { echo "segproxy-crl-expiry.sh: no CRL file given" >&2; exit 64; }

tmp="$(mktemp "$out.XXXXXX")"
parts="$(mktemp -d)"
trap 'rm -rf "$tmp" "$parts"' EXIT
{
  echo '# HELP segproxy_crl_next_update_timestamp_seconds nextUpdate of the CRL file (earliest of its CRLs), seconds since the epoch; 0 when unreadable.'
  echo '# TYPE segproxy_crl_next_update_timestamp_seconds gauge'
  for crl in "$@"; do
    earliest=0
    rm -f "$parts"/*
    # Every CRL of the PEM file into its own part, then each part's nextUpdate.
    awk -v d="$parts" '/-----BEGIN X509 CRL-----/{n++} n{print > (d "/" n ".pem")}' "$crl" 2>/dev/null || true
    for part in "$parts"/*.pem; do
      [[ -e "$part" ]] || continue
      when="$(openssl crl -in "$part" -noout -nextupdate 2>/dev/null | sed -n 's/^nextUpdate=//p')"
      [[ -n "$when" ]] || continue
      t="$(date -d "$when" +%s 2>/dev/null)" || continue
      if ((earliest == 0 || t < earliest)); then earliest="$t"; fi
    done
    label="${crl//\\/\\\\}"
    label="${label//\"/\\\"}"
    printf 'segproxy_crl_next_update_timestamp_seconds{crl="%s"} %s\n' "$label" "$earliest"
  done
} >"$tmp"
chmod 0644 "$tmp"
mv "$tmp" "$out"
rm -rf "$parts"
trap - EXIT
