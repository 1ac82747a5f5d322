#!/usr/bin/env bash
# Builds the Debian package dist/segproxy_<version>_<arch>.deb from a staged tree with
# dpkg-deb (docs/deploy.md "Debian package" says why not CPack or debhelper).
# Builds only the two binaries (targets segproxy segproxyctl) in $SEGPROXY_BUILD_DIR.
# Usage: scripts/package.sh            Env: SEGPROXY_BUILD_DIR, SEGPROXY_PACKAGE_SKIP_BUILD=1
# Prints the path of the .deb on stdout.
set -euo pipefail

export SP_LOG_TAG=package
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$SEGPROXY_REPO_ROOT"

for tool in dpkg-deb dpkg-shlibdeps strip gzip md5sum; do
  command -v "$tool" >/dev/null 2>&1 || sp_die "$tool not found (scripts/deps.sh installs it)"
done

version="$(sed -n 's/^project(segproxy VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || sp_die "cannot read the version from CMakeLists.txt"
changelog_version="$(sed -n '1s/^segproxy (\([^)]*\)).*/\1/p' packaging/debian/changelog)"
[[ "$changelog_version" == "$version" ]] ||
  sp_die "packaging/debian/changelog is at $changelog_version, CMakeLists.txt at $version: add a changelog entry"
arch="$(dpkg --print-architecture)"

build_dir="$(sp_build_dir)"
if [[ "${SEGPROXY_PACKAGE_SKIP_BUILD:-0}" != 1 ]]; then
  log="$build_dir/package-build.log"
  mkdir -p "$build_dir"
  sp_log "building segproxy and segproxyctl (Release; compiler output in $log)"
  if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
    cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release >"$log" 2>&1 || sp_die "configure failed; see $log"
  fi
  cmake --build "$build_dir" -j"$(nproc)" --target segproxy segproxyctl >>"$log" 2>&1 ||
    sp_die "build failed; see $log"
fi
for b in segproxy segproxyctl; do
  [[ -x "$build_dir/bin/$b" ]] || sp_die "$build_dir/bin/$b not found"
done

work="$(mktemp -d /tmp/segproxy-package.XXXXXX)"
trap 'rm -rf "$work"' EXIT
root="$work/root"
pkg=packaging/debian

sp_log "staging the tree"
install -d -m 0755 "$root/DEBIAN" "$root/usr/sbin" "$root/usr/bin" "$root/etc/segproxy" \
  "$root/lib/systemd/system" "$root/usr/share/man/man8" "$root/usr/share/doc/segproxy" \
  "$root/usr/share/bash-completion/completions" "$root/usr/lib/tmpfiles.d" \
  "$root/usr/share/segproxy/prometheus" "$root/usr/share/segproxy/grafana"
# Debian policy: a daemon in /usr/sbin, the operator tool in /usr/bin.
install -m 0755 "$build_dir/bin/segproxy" "$root/usr/sbin/segproxy"
install -m 0755 "$build_dir/bin/segproxyctl" "$root/usr/bin/segproxyctl"
strip --remove-section=.comment --remove-section=.note --strip-unneeded \
  "$root/usr/sbin/segproxy" "$root/usr/bin/segproxyctl"

install -m 0644 "$pkg/segproxy.service" "$root/lib/systemd/system/segproxy.service"
install -m 0644 "$pkg/segproxy.tmpfiles" "$root/usr/lib/tmpfiles.d/segproxy.conf"
install -m 0644 "$pkg/segproxyctl.bash-completion" "$root/usr/share/bash-completion/completions/segproxyctl"
for page in segproxy segproxyctl; do
  gzip -9n <"docs/man/$page.8" >"$root/usr/share/man/man8/$page.8.gz"
done
# Monitoring: the alert rules, the dashboard and the CRL expiry exporter (docs/deploy.md).
install -m 0644 deploy/prometheus/segproxy-rules.yaml "$root/usr/share/segproxy/prometheus/"
install -m 0755 deploy/prometheus/segproxy-crl-expiry.sh "$root/usr/share/segproxy/prometheus/segproxy-crl-expiry"
install -m 0644 deploy/grafana/segproxy.json "$root/usr/share/segproxy/grafana/"
install -m 0644 "$pkg/copyright" "$root/usr/share/doc/segproxy/copyright"
gzip -9n <"$pkg/changelog" >"$root/usr/share/doc/segproxy/changelog.gz"
chmod 0644 "$root/usr/share/man/man8/"*.gz "$root/usr/share/doc/segproxy/changelog.gz"

# The conffile: the documented example with the package's paths (one source).
{
  printf '# /etc/segproxy/segproxy.yaml: installed by the segproxy package (a conffile: your\n'
  printf '# edits survive upgrades). Derived from config/examples/segproxy.yaml; put TLS files\n'
  printf '# in /etc/segproxy/tls/ and password files in /etc/segproxy/secrets/ (readable by the\n'
  printf '# segproxy group only). Apply edits with: systemctl reload segproxy\n#\n'
  sed -e 's#certs/#/etc/segproxy/tls/#g' \
    -e 's#secrets/#/etc/segproxy/secrets/#g' \
    -e "s#^  dir: audit #  dir: /var/lib/segproxy/audit #" \
    -e 's#^\(  socket:\) run/admin.sock#\1 /run/segproxy/admin.sock#' \
    -e 's#^\(  revocations_file:\) revocations.json#\1 /var/lib/segproxy/revocations.json#' \
    -e 's#\(signing_key:\) audit-signing.pem#\1 /etc/segproxy/audit-signing.pem#' \
    -e 's#--out audit-signing.pem#--out /etc/segproxy/audit-signing.pem#' \
    config/examples/segproxy.yaml
} >"$root/etc/segproxy/segproxy.yaml"
chmod 0644 "$root/etc/segproxy/segproxy.yaml"
for want in '/var/lib/segproxy/audit' '/run/segproxy/admin.sock' '/var/lib/segproxy/revocations.json'; do
  grep -q -- "$want" "$root/etc/segproxy/segproxy.yaml" ||
    sp_die "config/examples/segproxy.yaml changed shape: $want not substituted (update scripts/package.sh)"
done
if grep -nE '^[^#]*: *(certs|secrets|run)/' "$root/etc/segproxy/segproxy.yaml"; then
  sp_die "a relative path is left in the packaged configuration (above)"
fi

install -m 0644 "$pkg/conffiles" "$root/DEBIAN/conffiles"
for script in postinst prerm postrm; do
  install -m 0755 "$pkg/$script" "$root/DEBIAN/$script"
done

# Depends: the shared libraries the binaries link (dpkg-shlibdeps, from the installed
# -dev packages' shlibs/symbols), plus adduser for postinst.
sp_log "computing Depends with dpkg-shlibdeps"
mkdir -p "$work/shlibs/debian"
printf 'Source: segproxy\n\nPackage: segproxy\nArchitecture: any\n' >"$work/shlibs/debian/control"
(cd "$work/shlibs" && dpkg-shlibdeps -O "$root/usr/sbin/segproxy" "$root/usr/bin/segproxyctl") \
  >"$work/substvars" 2>"$work/shlibdeps.err" || {
  cat "$work/shlibdeps.err" >&2
  sp_die "dpkg-shlibdeps failed"
}
shlibs="$(sed -n 's/^shlibs:Depends=//p' "$work/substvars")"
[[ -n "$shlibs" ]] || sp_die "dpkg-shlibdeps found no dependencies"
depends="adduser, $shlibs"

size="$(du -sk --exclude=DEBIAN "$root" | cut -f1)"
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" -e "s/@DEPENDS@/$depends/" \
  "$pkg/control.in" >"$root/DEBIAN/control"
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\n' | LC_ALL=C sort |
  xargs md5sum) >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums"

mkdir -p dist
out="dist/segproxy_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$out" >/dev/null
sp_log "built $out (Depends: $depends)"
printf '%s\n' "$SEGPROXY_REPO_ROOT/$out"
