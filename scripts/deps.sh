#!/usr/bin/env bash
# Installs the Debian packages listed in scripts/packages.txt that are missing.
# Fast no-op when everything is present. Usage: scripts/deps.sh [LIST_FILE]
set -euo pipefail

export SP_LOG_TAG=deps
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

list="${1:-$SEGPROXY_REPO_ROOT/scripts/packages.txt}"
[[ -r "$list" ]] || sp_die "package list not found: $list"

mapfile -t missing < <(sp_missing_packages "$list")
if ((${#missing[@]} == 0)); then
  exit 0
fi

sudo=()
if ((EUID != 0)); then
  command -v sudo >/dev/null 2>&1 || sp_die "missing packages (${missing[*]}) and not root; run as root"
  sudo=(sudo)
fi

# Debian's postgresql-common creates (and, with an init system, starts) a system
# "main" cluster when PostgreSQL is installed. Our scripts never use it; ask
# postgresql-common not to create it on a machine where it is not installed yet.
if [[ " ${missing[*]} " == *" postgresql-"* && ! -e /etc/postgresql-common/createcluster.conf ]]; then
  "${sudo[@]}" mkdir -p /etc/postgresql-common/createcluster.d
  printf 'create_main_cluster = false\n' |
    "${sudo[@]}" tee /etc/postgresql-common/createcluster.d/segproxy-no-main.conf >/dev/null
fi

sp_log "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -q --no-install-recommends "${missing[@]}"

mapfile -t still < <(sp_missing_packages "$list")
((${#still[@]} == 0)) || sp_die "still missing after install: ${still[*]}"
