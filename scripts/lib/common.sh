# shellcheck shell=bash
# Small helpers shared by the segproxy scripts. Source it; it defines functions only
# (plus SEGPROXY_REPO_ROOT) and never changes the caller's shell options.

if [[ -z "${SEGPROXY_REPO_ROOT:-}" ]]; then
  SEGPROXY_REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
fi

sp_log() { printf '[%s] %s\n' "${SP_LOG_TAG:-segproxy}" "$*" >&2; }
sp_die() { sp_log "error: $*"; exit 1; }

# Package names from a list file: comments and blank lines dropped.
sp_read_packages() {
  sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' "$1"
}

# Prints the packages of list file $1 that are not installed (one dpkg-query call).
sp_missing_packages() {
  local -a pkgs
  local -A ok=()
  local pkg status
  mapfile -t pkgs < <(sp_read_packages "$1")
  ((${#pkgs[@]} > 0)) || return 0
  while IFS=$'\t' read -r pkg status; do
    [[ "$status" != "install ok installed" ]] || ok["${pkg%%:*}"]=1
  done < <(dpkg-query -W -f='${Package}\t${Status}\n' "${pkgs[@]}" 2>/dev/null || true)
  for pkg in "${pkgs[@]}"; do
    [[ -n "${ok[$pkg]:-}" ]] || printf '%s\n' "$pkg"
  done
}

# Absolute build directory ($SEGPROXY_BUILD_DIR or <repo>/build).
sp_build_dir() {
  local dir="${SEGPROXY_BUILD_DIR:-$SEGPROXY_REPO_ROOT/build}"
  case "$dir" in
    /*) ;;
    *) dir="$PWD/$dir" ;;
  esac
  printf '%s\n' "$dir"
}

# Is something listening on 127.0.0.1:$1 (or any address with that port)?
sp_port_in_use() {
  local port="$1"
  if command -v ss >/dev/null 2>&1; then
    [[ -n "$(ss -Htln "sport = :$port" 2>/dev/null)" ]] && return 0
  fi
  # Fallback / second opinion: try to connect.
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
  return 1
}

# sp_pick_port VAR [BASE]: stores in VAR a free TCP port >= BASE (default: a random
# base in 20000..39999, so parallel runs rarely probe the same ports). Ports handed
# out earlier in this shell (SP_RESERVED_PORTS) are skipped, so several picks made
# before anything binds do not collide. Call it directly, not in $(...).
sp_pick_port() {
  # Locals are prefixed so they cannot shadow the caller's variable named in $1.
  local _spp_var="$1" _spp_port="${2:-$((20000 + RANDOM % 20000))}" _spp_limit
  _spp_limit=$((_spp_port + 2000))
  while ((_spp_port < _spp_limit && _spp_port < 65536)); do
    if [[ " ${SP_RESERVED_PORTS:-} " != *" $_spp_port "* ]] && ! sp_port_in_use "$_spp_port"; then
      SP_RESERVED_PORTS="${SP_RESERVED_PORTS:-} $_spp_port"
      printf -v "$_spp_var" '%s' "$_spp_port"
      return 0
    fi
    _spp_port=$((_spp_port + 1))
  done
  sp_die "no free TCP port found starting at ${2:-random base}"
}

# Waits until something listens on 127.0.0.1:$1; $2 = timeout seconds (default 30);
# $3 = optional pid of the server: give up at once when it has exited (returns 2).
# Uses `ss` (no connection is made, so the server sees no half-open probe); falls back
# to a TCP connect when ss is missing. Returns 1 on timeout.
sp_wait_port() {
  local port="$1" timeout="${2:-30}" pid="${3:-}" deadline
  deadline=$((SECONDS + timeout))
  while :; do
    if command -v ss >/dev/null 2>&1; then
      [[ -z "$(ss -Htln "( sport = :$port ) and ( src 127.0.0.1 or src 0.0.0.0 )" 2>/dev/null)" ]] || return 0
    elif (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      return 0
    fi
    if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then return 2; fi
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# Waits until process $1 has exited; $2 = timeout seconds (default 15). Returns 1 on timeout.
sp_wait_pid_gone() {
  local pid="$1" timeout="${2:-15}" deadline
  deadline=$((SECONDS + timeout))
  while kill -0 "$pid" 2>/dev/null; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

# Stops process $1: SIGTERM, wait up to $2 seconds (default 10), then SIGKILL.
sp_stop_pid() {
  local pid="$1" timeout="${2:-10}"
  [[ -n "$pid" ]] || return 0
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  if ! sp_wait_pid_gone "$pid" "$timeout"; then
    kill -KILL "$pid" 2>/dev/null || true
    sp_wait_pid_gone "$pid" 5 || true
  fi
}

# PostgreSQL server programs (initdb, pg_ctl, postgres) are not on PATH on Debian.
sp_pg_bindir() {
  local d
  for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
    if [[ -x "$d/pg_ctl" ]]; then
      printf '%s\n' "$d"
      return 0
    fi
  done
  command -v pg_ctl >/dev/null 2>&1 && { dirname "$(command -v pg_ctl)"; return 0; }
  sp_die "PostgreSQL server binaries not found (run scripts/deps.sh)"
}

# The OS user PostgreSQL and PgBouncer run as: 'postgres' when we are root (they
# refuse to run as root), else the current user.
sp_service_user() {
  if ((EUID == 0)); then printf 'postgres\n'; else id -un; fi
}

# Runs a command as the service user.
sp_as_service() {
  if ((EUID == 0)); then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}
