#!/usr/bin/env bash
# Structural rules that code review would otherwise have to remember.
# Usage: scripts/check-structure.sh [REPO_ROOT]   (default: this script's repo)
# Prints every violation and exits 1 if there is any.
#   1. protocols/ never includes Asio, Beast, openssl/ssl.h or daemon/ / proxy/ headers.
#   2. No C++ source/header in the repo (tracked or new, not ignored) over 800 lines.
#   3. docker/Dockerfile installs exactly the script package lists: it must run
#      scripts/deps.sh on scripts/packages.txt (build) and scripts/runtime-packages.txt
#      (runtime) and contain no apt-get install of its own.
#   4. scripts/packages.txt never lists libboost1.81-dev (the project pins Boost 1.74).
#   5. Scripts are executable and shellcheck-clean (when shellcheck is installed).
set -euo pipefail

root="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
cd "$root"
max_lines=800
failures=0
fail() {
  printf 'check-structure: FAIL: %s\n' "$*" >&2
  failures=$((failures + 1))
}

# --- 1. protocols/ stays free of networking and TLS --------------------------------
if [[ -d protocols ]]; then
  while IFS= read -r hit; do
    fail "forbidden include in protocols/ (no Asio/Beast/openssl/ssl.h/daemon/proxy/): $hit"
  done < <(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"](boost/asio|boost/beast|openssl/ssl\.h|daemon/|proxy/)' \
    --include='*.hpp' --include='*.h' --include='*.cpp' --include='*.cc' --include='*.ipp' protocols || true)
fi

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

# --- 4. Boost pin ---------------------------------------------------------------------
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
