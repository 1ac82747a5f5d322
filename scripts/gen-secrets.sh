#!/usr/bin/env bash
# Random role passwords: DIR/<role>.pw, 0600, hex, no trailing newline.
# Usage: scripts/gen-secrets.sh [--force] DIR ROLE...
# Existing files are kept unless --force. GEN_SECRETS_OWNER=uid:gid,
# GEN_SECRETS_MODE (default 0600) and GEN_SECRETS_DIR_MODE (default 0700) adjust
# ownership/modes (e.g. 0640/0750 to share with a group in containers).
# Never prints a password.
set -euo pipefail

export SP_LOG_TAG=gen-secrets
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

force=0
if [[ "${1:-}" == --force ]]; then
  force=1
  shift
fi
(($# >= 2)) || sp_die "usage: $0 [--force] DIR ROLE..."
dir="$1"
shift
mode="${GEN_SECRETS_MODE:-0600}"

mkdir -p "$dir"
chmod "${GEN_SECRETS_DIR_MODE:-0700}" "$dir"
[[ -z "${GEN_SECRETS_OWNER:-}" ]] || chown "$GEN_SECRETS_OWNER" "$dir"
for role in "$@"; do
  [[ "$role" =~ ^[a-z_][a-z0-9_]*$ ]] || sp_die "bad role name '$role'"
  file="$dir/$role.pw"
  if ((force == 1)) || [[ ! -s "$file" ]]; then
    (umask 077 && openssl rand -hex 24 | tr -d '\n' >"$file.tmp")
    mv -f "$file.tmp" "$file"
  fi
  chmod "$mode" "$file"
  [[ -z "${GEN_SECRETS_OWNER:-}" ]] || chown "$GEN_SECRETS_OWNER" "$file"
done
