#!/usr/bin/env bash
# Demo / test PKI for segproxy (EC P-256 keys, SHA-256 signatures).
#
#   scripts/gen-certs.sh [--force] DIR
#       Creates in DIR (kept as is when complete and valid, unless --force):
#       ca.crt/key              demo CA, 10 years
#       server.crt/key          CN=segproxy, SAN DNS:localhost IP:127.0.0.1, serverAuth
#       client-spiffe.crt/key   CN=billing-api, URI spiffe://example.org/ns/billing/sa/api
#       client-cn.crt/key       CN=reporting-job, OU=analytics, no SAN
#       client-unknown.crt/key  CN=stranger, URI spiffe://example.org/ns/other/sa/x
#       other-ca.crt/key        a second, unrelated CA
#       client-otherca.crt/key  issued by other-ca, same SPIFFE id as client-spiffe
#       pg-server.crt/key       PostgreSQL's own TLS: CN=localhost, DNS:localhost IP:127.0.0.1
#
#   scripts/gen-certs.sh --client NAME CN DIR
#       Issues DIR/NAME.crt/key (clientAuth, subject CN=CN, no SAN) from DIR/ca.*.
#
# Keys are 0600, certificates 0644. GEN_CERTS_OWNER=uid:gid chowns the results
# (e.g. for a container user). Never prints key material.
set -euo pipefail

export SP_LOG_TAG=gen-certs
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

usage() { sp_die "usage: $0 [--force] DIR | $0 --client NAME CN DIR"; }

command -v openssl >/dev/null 2>&1 || sp_die "openssl not found (run scripts/deps.sh)"

CA_DAYS=3650
LEAF_DAYS=3650
SPIFFE_BILLING="spiffe://example.org/ns/billing/sa/api"
SPIFFE_OTHER="spiffe://example.org/ns/other/sa/x"
ALL_CERTS=(ca server client-spiffe client-cn client-unknown other-ca client-otherca pg-server)

# new_key OUT.key
new_key() {
  (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null)
}

# make_ca DIR NAME SUBJECT
make_ca() {
  local dir="$1" name="$2" subject="$3"
  new_key "$dir/$name.key"
  openssl req -new -x509 -sha256 -days "$CA_DAYS" -key "$dir/$name.key" \
    -subj "$subject" -out "$dir/$name.crt" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" 2>/dev/null
}

# issue DIR NAME SIGNER SUBJECT EKU [SAN]
issue() {
  local dir="$1" name="$2" signer="$3" subject="$4" eku="$5" san="${6:-}" ext
  ext="$dir/$name.ext"
  {
    printf 'basicConstraints=critical,CA:FALSE\n'
    printf 'keyUsage=critical,digitalSignature,keyAgreement\n'
    printf 'extendedKeyUsage=%s\n' "$eku"
    printf 'subjectKeyIdentifier=hash\n'
    printf 'authorityKeyIdentifier=keyid\n'
    [[ -z "$san" ]] || printf 'subjectAltName=%s\n' "$san"
  } >"$ext"
  new_key "$dir/$name.key"
  openssl req -new -sha256 -key "$dir/$name.key" -subj "$subject" -out "$dir/$name.csr" 2>/dev/null
  openssl x509 -req -sha256 -days "$LEAF_DAYS" -in "$dir/$name.csr" \
    -CA "$dir/$signer.crt" -CAkey "$dir/$signer.key" \
    -set_serial "0x$(openssl rand -hex 16)" -extfile "$ext" -out "$dir/$name.crt" 2>/dev/null
  rm -f "$dir/$name.csr" "$ext"
}

finish_perms() {
  local dir="$1"
  shift
  local n
  for n in "$@"; do
    chmod 0600 "$dir/$n.key"
    chmod 0644 "$dir/$n.crt"
    if [[ -n "${GEN_CERTS_OWNER:-}" ]]; then chown "$GEN_CERTS_OWNER" "$dir/$n.key" "$dir/$n.crt"; fi
  done
}

# Is the PKI in $1 complete, consistent and not expiring within a day?
pki_ok() {
  local dir="$1" n ca
  for n in "${ALL_CERTS[@]}"; do
    [[ -s "$dir/$n.crt" && -s "$dir/$n.key" ]] || return 1
    openssl x509 -checkend 86400 -noout -in "$dir/$n.crt" >/dev/null 2>&1 || return 1
  done
  for n in server client-spiffe client-cn client-unknown pg-server client-otherca; do
    ca=ca
    [[ "$n" != client-otherca ]] || ca=other-ca
    openssl verify -CAfile "$dir/$ca.crt" "$dir/$n.crt" >/dev/null 2>&1 || return 1
  done
}

gen_all() {
  local dir="$1" tmp n
  mkdir -p "$dir"
  chmod 0755 "$dir"
  tmp="$(mktemp -d "$dir/.gen.XXXXXX")"
  make_ca "$tmp" ca "/O=segproxy demo/CN=segproxy demo CA"
  make_ca "$tmp" other-ca "/O=somebody else/CN=other CA"
  issue "$tmp" server ca "/O=segproxy demo/CN=segproxy" serverAuth "DNS:localhost,IP:127.0.0.1"
  issue "$tmp" client-spiffe ca "/O=segproxy demo/CN=billing-api" clientAuth "URI:$SPIFFE_BILLING"
  issue "$tmp" client-cn ca "/O=segproxy demo/OU=analytics/CN=reporting-job" clientAuth
  issue "$tmp" client-unknown ca "/O=segproxy demo/CN=stranger" clientAuth "URI:$SPIFFE_OTHER"
  issue "$tmp" client-otherca other-ca "/O=somebody else/CN=billing-api" clientAuth "URI:$SPIFFE_BILLING"
  issue "$tmp" pg-server ca "/O=segproxy demo/CN=localhost" serverAuth "DNS:localhost,IP:127.0.0.1"
  finish_perms "$tmp" "${ALL_CERTS[@]}"
  for n in "${ALL_CERTS[@]}"; do
    mv -f "$tmp/$n.key" "$tmp/$n.crt" "$dir/"
  done
  rm -rf "$tmp"
}

gen_client() {
  local name="$1" cn="$2" dir="$3"
  [[ "$name" =~ ^[A-Za-z0-9._-]+$ ]] || sp_die "bad certificate name '$name'"
  [[ -s "$dir/ca.crt" && -s "$dir/ca.key" ]] || sp_die "no CA in $dir (run $0 $dir first)"
  if [[ -s "$dir/$name.crt" && -s "$dir/$name.key" ]] &&
    openssl verify -CAfile "$dir/ca.crt" "$dir/$name.crt" >/dev/null 2>&1 &&
    [[ "$(openssl x509 -noout -subject -nameopt multiline -in "$dir/$name.crt" |
      sed -n 's/^ *commonName *= *//p')" == "$cn" ]]; then
    return 0
  fi
  issue "$dir" "$name" ca "/O=segproxy demo/CN=$cn" clientAuth
  finish_perms "$dir" "$name"
}

force=0
case "${1:-}" in
  --client)
    (($# == 4)) || usage
    gen_client "$2" "$3" "$4"
    exit 0
    ;;
  --force)
    force=1
    shift
    ;;
  -h | --help | "") usage ;;
esac
(($# == 1)) || usage
dir="$1"

if ((force == 0)) && pki_ok "$dir"; then
  exit 0
fi
gen_all "$dir"
pki_ok "$dir" || sp_die "generated PKI in $dir does not verify"
sp_log "PKI written to $dir"
