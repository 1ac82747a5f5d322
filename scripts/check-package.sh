#!/usr/bin/env bash
# CI check of the Debian package (docs/deploy.md): build it, inspect it with dpkg-deb,
# lintian with no errors, systemd-analyze verify of the unit, then (as root) install it
# with apt-get, run both binaries and the packaged configuration through
# `segproxy --check-config`, and purge it again so the machine is left as it was.
# Usage: scripts/check-package.sh     Env: SEGPROXY_PACKAGE_SKIP_BUILD=1 (binaries built)
set -euo pipefail

export SP_LOG_TAG=check-package
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$SEGPROXY_REPO_ROOT"

deb="$("$SEGPROXY_REPO_ROOT/scripts/package.sh")"
[[ -f "$deb" ]] || sp_die "scripts/package.sh did not produce a package"

sp_log "dpkg-deb --info / --contents"
info="$(dpkg-deb --info "$deb")"
for field in 'Package: segproxy' 'Depends: .*adduser' 'Depends: .*libssl3' 'Depends: .*libpq5' \
  'Depends: .*libyaml-cpp' 'Depends: .*libmysqlcppconn' 'Depends: .*libpg-query' ' conffiles'; do
  grep -q -- "$field" <<<"$info" || sp_die "dpkg-deb --info: no '$field'"
done
contents="$(dpkg-deb --contents "$deb" | awk '{print $1" "$2" "$6}')"
for want in '-rwxr-xr-x root/root ./usr/sbin/segproxy' '-rwxr-xr-x root/root ./usr/bin/segproxyctl' \
  ' ./lib/systemd/system/segproxy.service' ' ./etc/segproxy/segproxy.yaml' \
  ' ./usr/share/man/man8/segproxy.8.gz' ' ./usr/share/man/man8/segproxyctl.8.gz' \
  ' ./usr/share/bash-completion/completions/segproxyctl' ' ./usr/share/doc/segproxy/copyright' \
  ' ./usr/share/doc/segproxy/changelog.gz' ' ./usr/lib/tmpfiles.d/segproxy.conf' \
  ' ./usr/share/segproxy/prometheus/segproxy-rules.yaml' ' ./usr/share/segproxy/grafana/segproxy.json' \
  '-rwxr-xr-x root/root ./usr/share/segproxy/prometheus/segproxy-crl-expiry'; do
  grep -qF -- "$want" <<<"$contents" || sp_die "dpkg-deb --contents: missing '$want'"
done
if grep -v ' root/root ' <<<"$contents"; then sp_die "files not owned by root/root (above)"; fi

sp_log "lintian (errors fail; the tags it reports are listed in docs/deploy.md)"
lint_rc=0
lint="$(lintian --fail-on error "$deb" 2>&1)" || lint_rc=$?
grep -v 'running with root privileges' <<<"$lint" || true
((lint_rc == 0)) || sp_die "lintian reports errors"

sp_log "bash completion of segproxyctl"
# Completions for the last of the words given, from the packaged completion file (with
# minimal stand-ins for bash-completion's helpers when that package is not installed).
complete_words() {
  # shellcheck disable=SC2016 # expanded by the inner bash
  bash -c '
    if [[ -r /usr/share/bash-completion/bash_completion ]]; then
      source /usr/share/bash-completion/bash_completion
    else
      _init_completion() { words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD; cur="${words[cword]}"; prev="${words[cword-1]}"; }
      _filedir() { :; }
    fi
    source "$0"
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
    _segproxyctl
    printf "%s " "${COMPREPLY[@]}"' packaging/debian/segproxyctl.bash-completion "$@"
}
expect_completion() {  # expect_completion "WANTED WORDS" WORD...
  local want="$1" got
  shift
  got="$(complete_words "$@")"
  [[ "$got" == "$want " ]] || sp_die "completing '$*': got '$got', want '$want'"
}
expect_completion "revoke revocations" segproxyctl rev
expect_completion "revoke revocations reload" segproxyctl --socket /run/x.sock re
expect_completion "--identity" segproxyctl revoke --i
expect_completion "explain" segproxyctl policy ex
expect_completion "audit-checkpoint audit" segproxyctl help au

if ((EUID != 0)); then
  sp_log "not root: skipping the install test"
  exit 0
fi
if dpkg-query -W -f='${Status}' segproxy 2>/dev/null | grep -q 'ok installed'; then
  sp_die "segproxy is already installed on this machine; not touching it"
fi

# shellcheck disable=SC2317 # invoked by trap
purge() {
  DEBIAN_FRONTEND=noninteractive apt-get purge -y -q -o DPkg::Lock::Timeout=300 segproxy >/dev/null 2>&1 || true
  rm -rf /var/lib/segproxy /run/segproxy
  if getent passwd segproxy >/dev/null; then deluser --system --quiet segproxy >/dev/null 2>&1 || true; fi
  if getent group segproxy >/dev/null; then delgroup --system --quiet segproxy >/dev/null 2>&1 || true; fi
}
trap purge EXIT

sp_log "apt-get install $deb"
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=300 "$deb" \
  >/tmp/segproxy-package-install.log 2>&1 || { cat /tmp/segproxy-package-install.log >&2; sp_die "install failed"; }
[[ "$(/usr/sbin/segproxy --version)" == "segproxy "* ]] || sp_die "segproxy --version"
[[ "$(segproxyctl --version)" == "segproxyctl "* ]] || sp_die "segproxyctl --version"
getent passwd segproxy >/dev/null || sp_die "postinst did not create the segproxy user"
[[ "$(stat -c '%U:%G %a' /var/lib/segproxy)" == "segproxy:segproxy 750" ]] || sp_die "/var/lib/segproxy owner/mode"
[[ "$(stat -c '%U:%G %a' /etc/segproxy/segproxy.yaml)" == "root:segproxy 640" ]] || sp_die "segproxy.yaml owner/mode"
[[ ! -e /etc/systemd/system/multi-user.target.wants/segproxy.service ]] ||
  sp_die "the unit was enabled on a first install (the configuration is not ready yet)"
if command -v systemd-analyze >/dev/null 2>&1; then
  # Offline (no systemd as PID 1 needed); after the install, since it checks ExecStart.
  out="$(systemd-analyze verify /lib/systemd/system/segproxy.service 2>&1)" || sp_die "systemd-analyze verify: $out"
  [[ -z "$out" ]] || sp_log "systemd-analyze: $out"
fi
man -w segproxyctl >/dev/null 2>&1 || ! command -v man >/dev/null || sp_die "man page segproxyctl(8) not found"

# The packaged configuration names TLS and password files the operator provides; with
# those missing, "file not found" must be the ONLY complaint (the rest of the YAML, the
# paths under /var/lib/segproxy and /run/segproxy, all check out).
rc=0
check="$(/usr/sbin/segproxy --check-config /etc/segproxy/segproxy.yaml 2>&1)" || rc=$?
[[ "$rc" == 2 ]] || sp_die "segproxy --check-config exited $rc: $check"
unexpected="$(grep -v -e 'file not found: /etc/segproxy/' -e 'is invalid$' <<<"$check" || true)"
[[ -z "$unexpected" ]] || sp_die "packaged configuration: $unexpected"
grep -q 'file not found: /etc/segproxy/tls/server.crt' <<<"$check" || sp_die "unexpected check output: $check"

sp_log "installed, checked, purging"
purge
trap - EXIT
! dpkg-query -W -f='${Status}' segproxy 2>/dev/null | grep -q 'ok installed' || sp_die "purge failed"
sp_log "package ok: $deb"
