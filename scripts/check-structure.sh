#!/usr/bin/env bash
# Structural rules that code review would otherwise have to remember.
# Usage: scripts/check-structure.sh [REPO_ROOT]   (default: this script's repo)
# Prints every violation and exits 1 if there is any.
#   1. Layers (docs/architecture.md; each rule is named in its message):
#      protocols-pure   protocols/ never includes Asio, Beast, openssl/ssl.h, nor any
#                       folder above it (only protocols/ and json/ headers of the project);
#      json-pure        json/ never includes Asio, Beast, openssl/ssl.h nor any other
#                       project folder;
#      ctl-not-daemon   ctl/ (segproxyctl) never includes the daemon (DAEMON_DIRS), and
#                       ctl/CMakeLists.txt links no daemon library (segproxy_core,
#                       segproxy_mysql_driver): segproxyctl never links the daemon;
#      tls-plain        tls/ (TLS material read with libcrypto, used by ctl/) never
#                       includes Asio, Beast, openssl/ssl.h nor the daemon;
#      authz-not-admin-wire  authz/ never includes protocols/admin (the wire protocol).
#   2. No C++ source/header in the repo (tracked or new, not ignored) over 600 lines.
#   3. docker/Dockerfile installs exactly the script package lists: it must run
#      scripts/deps.sh on scripts/packages.txt (build) and scripts/runtime-packages.txt
#      (runtime) and contain no apt-get install of its own.
#   4. scripts/packages.txt never lists libboost1.81-dev (the project pins Boost 1.74).
#   5. Scripts are executable and shellcheck-clean (when shellcheck is installed).
set -euo pipefail

root="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
cd "$root"
max_lines=600
failures=0
fail() {
  printf 'check-structure: FAIL: %s\n' "$*" >&2
  failures=$((failures + 1))
}

# --- 1. layers ------------------------------------------------------------------------
# The daemon's folders: ctl/ may include none of them.
DAEMON_DIRS=(daemon)
# Every top-level folder of project headers (what a quoted "folder/..." include names).
PROJECT_DIRS=(json protocols config tls audit etcd fleet authz ctl "${DAEMON_DIRS[@]}")

# forbid RULE DIR EXTENDED-REGEX-OF-INCLUDED-PATH MESSAGE
forbid() {
  local rule="$1" dir="$2" what="$3" message="$4" hit
  [[ -d "$dir" ]] || return 0
  while IFS= read -r hit; do
    fail "[$rule] $message: $hit"
  done < <(grep -rnE "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]($what)" \
    --include='*.hpp' --include='*.h' --include='*.cpp' --include='*.cc' --include='*.ipp' "$dir" || true)
}
join_by() {
  local IFS="$1"
  shift
  printf '%s' "$*"
}
net_tls='boost/asio|boost/beast|openssl/ssl\.h'
above_protocols=()
for d in "${PROJECT_DIRS[@]}"; do
  [[ "$d" == protocols || "$d" == json ]] || above_protocols+=("$d/")
done
above_json=()
for d in "${PROJECT_DIRS[@]}"; do
  [[ "$d" == json ]] || above_json+=("$d/")
done
forbid protocols-pure protocols "$net_tls|$(join_by '|' "${above_protocols[@]}")" \
  "protocols/ includes only protocols/ and json/ (no Asio/Beast/openssl/ssl.h, nothing above it)"
forbid json-pure json "$net_tls|$(join_by '|' "${above_json[@]}")" \
  "json/ includes only json/ and the standard library"
daemon_re=()
for d in "${DAEMON_DIRS[@]}"; do daemon_re+=("$d/"); done
forbid ctl-not-daemon ctl "$(join_by '|' "${daemon_re[@]}")" \
  "ctl/ (segproxyctl) never includes the daemon (${DAEMON_DIRS[*]})"
forbid tls-plain tls "$net_tls|$(join_by '|' "${daemon_re[@]}")" \
  "tls/ reads TLS material with libcrypto only (no Asio/Beast/openssl/ssl.h, no daemon)"
if [[ -f ctl/CMakeLists.txt ]]; then
  while IFS= read -r hit; do
    fail "[ctl-not-daemon] segproxyctl never links the daemon: ctl/CMakeLists.txt:$hit"
  done < <(grep -nE '(^|[[:space:](])segproxy_(core|mysql_driver)([[:space:])]|$)' ctl/CMakeLists.txt || true)
fi
forbid authz-not-admin-wire authz 'protocols/admin/' \
  "authz/ never includes the admin wire protocol (map daemon-side, daemon/control/admin_mapping)"

# --- 1b. the etcd codec and the fleet records stay pure too (docs/fleet.md) ----------
for pure in etcd/codec.hpp etcd/codec.cpp fleet; do
  [[ -e "$pure" ]] || continue
  while IFS= read -r hit; do
    fail "forbidden include in a pure fleet/etcd codec file (no Asio/Beast/openssl/ssl.h/daemon/proxy/): $hit"
  done < <(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"](boost/asio|boost/beast|openssl/ssl\.h|daemon/|proxy/)' \
    --include='*.hpp' --include='*.cpp' "$pure" || true)
done

# --- 2. file size -------------------------------------------------------------------
list_sources() {
  if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git -C "$root" ls-files --cached --others --exclude-standard -- \
      '*.cpp' '*.hpp' '*.cc' '*.h'
  else
    find . -path './build*' -prune -o -path './.git' -prune -o -path './.demo' -prune -o \
      -type f \( -name '*.cpp' -o -name '*.hpp' -o -name '*.cc' -o -name '*.h' \) -print |
      sed 's|^\./||'
  fi
}
while IFS= read -r f; do
  [[ -f "$f" ]] || continue
  n="$(wc -l <"$f")"
  if ((n > max_lines)); then
    fail "$f has $n lines (limit $max_lines): split it"
  fi
done < <(list_sources)

# --- 3. Dockerfile uses the one package list ----------------------------------------
dockerfile=docker/Dockerfile
if [[ ! -f "$dockerfile" ]]; then
  fail "$dockerfile is missing"
else
  for list in scripts/packages.txt scripts/runtime-packages.txt; do
    [[ -f "$list" ]] || fail "$list is missing"
    grep -Ev '^[[:space:]]*(COPY|ADD)[[:space:]]' "$dockerfile" |
      grep -Eq "deps\.sh[[:space:]]+(\./)?$list([[:space:]]|$)" ||
      fail "$dockerfile must install packages with 'scripts/deps.sh $list'"
    grep -Eq "^[[:space:]]*COPY[[:space:]].*$list" "$dockerfile" ||
      fail "$dockerfile must COPY $list"
  done
  if grep -nE 'apt-get[[:space:]]+(-[^[:space:]]+[[:space:]]+)*install|apt[[:space:]]+install' "$dockerfile" >/dev/null; then
    fail "$dockerfile runs apt-get install itself; install only through scripts/deps.sh and the package lists"
  fi
fi

# --- 4. Boost pin; the demo's package list is a subset of the full one ----------------
if [[ -f scripts/demo-packages.txt ]]; then
  while IFS= read -r pkg; do
    sed 's/#.*//' scripts/packages.txt | grep -qxE "[[:space:]]*${pkg}[[:space:]]*" ||
      fail "scripts/demo-packages.txt lists $pkg, which scripts/packages.txt does not"
  done < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' scripts/demo-packages.txt)
fi
if [[ -f scripts/packages.txt ]] && sed 's/#.*//' scripts/packages.txt | grep -qE '(^|[[:space:]])libboost1\.81'; then
  fail "scripts/packages.txt lists libboost1.81-*; the project uses bookworm's Boost 1.74 (libboost-dev)"
fi

# --- 5. scripts ---------------------------------------------------------------------
scripts=()
while IFS= read -r f; do scripts+=("$f"); done < <(
  find scripts bench docker .ci -type f \( -name '*.sh' -o -path '.ci/run' \) 2>/dev/null | sort
)
for f in "${scripts[@]}"; do
  case "$f" in
    scripts/lib/*) ;; # sourced libraries need no x bit
    *) [[ -x "$f" ]] || fail "$f is not executable (chmod +x)" ;;
  esac
done
if command -v shellcheck >/dev/null 2>&1; then
  if ((${#scripts[@]} > 0)) && ! out="$(shellcheck -x "${scripts[@]}" 2>&1)"; then
    fail "shellcheck:"$'\n'"$out"
  fi
else
  printf 'check-structure: note: shellcheck not installed; script lint skipped\n' >&2
fi

if ((failures > 0)); then
  printf 'check-structure: %d problem(s)\n' "$failures" >&2
  exit 1
fi
printf 'check-structure: OK\n'
