# shellcheck shell=bash
# Real-server test environment for segproxy: a PKI, a private PostgreSQL 15 cluster
# (never the system "main" cluster) and a private MariaDB (scripts/lib/testenv-mariadb.sh,
# never the system instance), both with the demo users and data.
#
# Source it and call:
#   testenv_up DIR     create/refresh everything under DIR, start PostgreSQL, write
#                      DIR/env.sh and export its variables into the caller's shell
#   testenv_stop DIR   stop the PostgreSQL and MariaDB servers of DIR (keeps the files)
#   testenv_down DIR   testenv_stop, then remove DIR unless SEGPROXY_KEEP_TESTENV=1
# Or run it: scripts/lib/testenv.sh up|down|stop DIR
#
# Layout of DIR: pki/ (scripts/gen-certs.sh), pgdata/, pgsock/, pg.log, secrets/<role>.pw
# (0600, no trailing newline), env.sh. PostgreSQL runs as the 'postgres' OS user when
# we are root. When that user cannot reach DIR (or DIR is too long for a unix socket
# path), pgdata/, pgsock/ and pg.log live in /tmp/segproxy-pg.XXXXXX and DIR holds
# symlinks to them. Passwords are never printed.
# MariaDB: mariadb.cnf, mydata/, mysock/, mytls/, myfiles/, mariadb.log and
# secrets/<user>.my.pw; see scripts/lib/testenv-mariadb.sh.
# etcd (fleet tests, issue 16): a three-member TLS cluster in etcd/, see
# scripts/lib/testenv-etcd.sh. Started by testenv_up unless SEGPROXY_TESTENV_ETCD=0
# (it adds about 2 s on an idle machine: three members elect a leader within ~1 s).

# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# shellcheck source-path=SCRIPTDIR source=testenv-mariadb.sh
source "$(dirname "${BASH_SOURCE[0]}")/testenv-mariadb.sh"
# shellcheck source-path=SCRIPTDIR source=testenv-etcd.sh
source "$(dirname "${BASH_SOURCE[0]}")/testenv-etcd.sh"

TESTENV_ROLES=(billing_rw legacy_md5 reporting_ro segproxy_admin)

# _testenv_pg_stop PGDATA: stops a server running from PGDATA (fast, then immediate).
_testenv_pg_stop() {
  local pgdata="$1" bindir pid
  [[ -f "$pgdata/postmaster.pid" ]] || return 0
  bindir="$(sp_pg_bindir)"
  pid="$(head -n1 "$pgdata/postmaster.pid" 2>/dev/null || true)"
  if sp_as_service "$bindir/pg_ctl" -D "$pgdata" -m fast -t 30 -s stop >/dev/null 2>&1; then
    return 0
  fi
  sp_as_service "$bindir/pg_ctl" -D "$pgdata" -m immediate -t 15 -s stop >/dev/null 2>&1 && return 0
  # Stale pid file or a stuck server: make sure the postmaster is really gone.
  if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
    [[ "$(ps -o comm= -p "$pid" 2>/dev/null)" == postgres* ]]; then
    sp_stop_pid "$pid" 10
  fi
  rm -f "$pgdata/postmaster.pid"
}

# _testenv_pgroot DIR: where pgdata/pgsock/pg.log physically live.
_testenv_pgroot() {
  local dir="$1"
  if [[ -f "$dir/.pgroot" ]]; then cat "$dir/.pgroot"; else printf '%s\n' "$dir"; fi
}

# testenv_pg_restart DIR: restarts the environment's PostgreSQL on its port (fast
# shutdown: every backend connection gets FATAL 57P01). For backend-failure tests.
testenv_pg_restart() {
  local dir="${1:?testenv_pg_restart DIR}" pgroot
  pgroot="$(_testenv_pgroot "$dir")"
  sp_as_service "$(sp_pg_bindir)/pg_ctl" -D "$pgroot/pgdata" -l "$pgroot/pg.log" -m fast -w -t 60 -s restart \
    >/dev/null 2>&1
}

testenv_stop() {
  local dir="${1:?testenv_stop DIR}"
  [[ -d "$dir" ]] || return 0
  _testenv_pg_stop "$dir/pgdata"
  _testenv_my_stop "$dir"
  testenv_etcd_down "$dir"
}

testenv_down() {
  local dir="${1:?testenv_down DIR}" pgroot
  [[ -d "$dir" ]] || return 0
  testenv_stop "$dir"
  testenv_my_down "$dir"
  if [[ "${SEGPROXY_KEEP_TESTENV:-0}" == 1 ]]; then
    sp_log "keeping test environment in $dir (SEGPROXY_KEEP_TESTENV=1)"
    return 0
  fi
  pgroot="$(_testenv_pgroot "$dir")"
  if [[ "$pgroot" != "$dir" && "$pgroot" == /tmp/segproxy-pg.* && -d "$pgroot" ]]; then
    rm -rf "$pgroot"
  fi
  if [[ -f "$dir/.segproxy-testenv" ]]; then
    rm -rf "$dir"
  else
    sp_log "not removing $dir: no .segproxy-testenv marker"
  fi
}

# _testenv_init_pg DIR PGROOT: fresh cluster in PGROOT/pgdata, configured, not started.
_testenv_init_pg() {
  local dir="$1" pgroot="$2" bindir user
  bindir="$(sp_pg_bindir)"
  user="$(sp_service_user)"
  rm -rf "$pgroot/pgdata" "$pgroot/pgsock"
  mkdir -p "$pgroot/pgdata" "$pgroot/pgsock"
  : >"$pgroot/pg.log"
  chown "$user" "$pgroot/pgdata" "$pgroot/pgsock" "$pgroot/pg.log"
  chmod 0700 "$pgroot/pgdata"
  chmod 0755 "$pgroot/pgsock"
  sp_as_service "$bindir/initdb" -D "$pgroot/pgdata" -U postgres -E UTF8 --locale=C \
    --auth-local=trust --auth-host=md5 --no-sync >"$pgroot/initdb.log" 2>&1 || {
    cat "$pgroot/initdb.log" >&2
    return 1
  }

  # PostgreSQL's own TLS material: readable by the server user only.
  mkdir -p "$pgroot/pgdata/tls"
  cp "$dir/pki/pg-server.crt" "$dir/pki/pg-server.key" "$dir/pki/ca.crt" "$pgroot/pgdata/tls/"
  chown -R "$user" "$pgroot/pgdata/tls"
  chmod 0700 "$pgroot/pgdata/tls"
  chmod 0600 "$pgroot/pgdata/tls/"*

  cat >"$pgroot/pgdata/pg_hba.conf" <<'HBA'
# segproxy test environment
# TYPE  DATABASE USER     ADDRESS        METHOD
local   all      all                     trust
host    all      postgres 127.0.0.1/32   trust
hostssl all      +cleartext_login 127.0.0.1/32 password
host    all      +cleartext_login 127.0.0.1/32 reject
hostssl all      all      127.0.0.1/32   md5
host    all      all      127.0.0.1/32   md5
HBA
  cat >>"$pgroot/pgdata/postgresql.conf" <<CONF

# ---- segproxy test environment ----
listen_addresses = '127.0.0.1'
unix_socket_directories = '$pgroot/pgsock'
max_connections = 1200  # the revoke test holds 1,000 sessions
shared_buffers = 128MB
fsync = off
synchronous_commit = off
full_page_writes = off
ssl = on
ssl_cert_file = 'tls/pg-server.crt'
ssl_key_file = 'tls/pg-server.key'
ssl_ca_file = 'tls/ca.crt'
password_encryption = 'scram-sha-256'
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d '
log_connections = on
log_disconnections = off
include_if_exists = 'port.conf'
CONF
  chown "$user" "$pgroot/pgdata/pg_hba.conf" "$pgroot/pgdata/postgresql.conf"
}

# _testenv_start_pg PGROOT VAR: picks a free port and starts; retries when the port
# was taken between probe and bind. Stores the port in VAR.
_testenv_start_pg() {
  local _tsp_root="$1" _tsp_var="$2" _tsp_bindir _tsp_user _tsp_port _tsp_try
  _tsp_bindir="$(sp_pg_bindir)"
  _tsp_user="$(sp_service_user)"
  for _tsp_try in 1 2 3 4 5; do
    sp_pick_port _tsp_port
    printf 'port = %s\n' "$_tsp_port" >"$_tsp_root/pgdata/port.conf"
    chown "$_tsp_user" "$_tsp_root/pgdata/port.conf"
    if sp_as_service "$_tsp_bindir/pg_ctl" -D "$_tsp_root/pgdata" -l "$_tsp_root/pg.log" -w -t 60 -s start >/dev/null 2>&1; then
      printf -v "$_tsp_var" '%s' "$_tsp_port"
      return 0
    fi
    sp_log "PostgreSQL did not start on port $_tsp_port (attempt $_tsp_try); log tail:"
    tail -n 5 "$_tsp_root/pg.log" >&2 || true
    _testenv_pg_stop "$_tsp_root/pgdata"
  done
  return 1
}

# _testenv_sql DIR PORT: runs scripts/lib/bootstrap.sql as postgres over the unix
# socket. psql reads the passwords from DIR/secrets itself: no argv, no output.
_testenv_sql() {
  local dir="$1" port="$2" sockdir
  sockdir="$(_testenv_pgroot "$dir")/pgsock"
  if ! psql -X -q -v ON_ERROR_STOP=1 -v secrets_dir="$dir/secrets" \
    -h "$sockdir" -p "$port" -U postgres -d postgres \
    -f "$SEGPROXY_REPO_ROOT/scripts/lib/bootstrap.sql" >"$dir/bootstrap.log" 2>&1; then
    sp_log "bootstrap SQL failed (see $dir/bootstrap.log and $dir/pg.log)"
    return 1
  fi
}

# _testenv_write_env DIR PORT MYPORT
_testenv_write_env() {
  local dir="$1" port="$2" myport="$3" build sockdir
  build="$(sp_build_dir)"
  sockdir="$(_testenv_pgroot "$dir")/pgsock"
  {
    printf '# generated by scripts/lib/testenv.sh; source it\n'
    printf 'export SEGPROXY_TEST_DIR=%q\n' "$dir"
    printf 'export SEGPROXY_TEST_PGHOST=127.0.0.1\n'
    printf 'export SEGPROXY_TEST_PGPORT=%q\n' "$port"
    printf 'export SEGPROXY_TEST_PGSOCKDIR=%q\n' "$sockdir"
    printf 'export SEGPROXY_TEST_PGSUPERUSER=postgres\n'
    printf 'export SEGPROXY_TEST_PKI=%q\n' "$dir/pki"
    printf 'export SEGPROXY_TEST_SECRETS=%q\n' "$dir/secrets"
    printf 'export SEGPROXY_TEST_DB=shop\n'
    printf 'export SEGPROXY_TEST_PGBINDIR=%q\n' "$(sp_pg_bindir)"
    printf 'export SEGPROXY_BIN=%q\n' "$build/bin/segproxy"
    printf 'export SEGPROXYCTL_BIN=%q\n' "$build/bin/segproxyctl"
    testenv_my_env "$dir" "$myport"
    testenv_etcd_env "$dir"
    printf 'export SEGPROXY_REQUIRE_INTEGRATION=1\n'
  } >"$dir/env.sh"
  chmod 0644 "$dir/env.sh"
}

testenv_up() {
  local dir="${1:?testenv_up DIR}" pgroot port myport user
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  user="$(sp_service_user)"
  if [[ -n "$(ls -A "$dir" 2>/dev/null)" && ! -f "$dir/.segproxy-testenv" ]]; then
    sp_log "refusing to use non-empty $dir that is not a test environment"
    return 1
  fi
  : >"$dir/.segproxy-testenv"
  chmod 0755 "$dir"

  # A server left running from an earlier run of this DIR: stop it first.
  if [[ -e "$dir/pgdata/postmaster.pid" ]]; then
    sp_log "stopping the PostgreSQL server left running in $dir"
    _testenv_pg_stop "$dir/pgdata"
  fi
  pgroot="$(_testenv_pgroot "$dir")"
  if [[ "$pgroot" != "$dir" ]]; then
    [[ "$pgroot" != /tmp/segproxy-pg.* ]] || rm -rf "$pgroot"
    rm -f "$dir/.pgroot" "$dir/pgdata" "$dir/pgsock" "$dir/pg.log"
    pgroot="$dir"
  fi
  # Can the server user reach DIR, and does the socket path fit in sun_path?
  if ! sp_as_service test -x "$dir" || ((${#dir} + 24 > 100)); then
    pgroot="$(mktemp -d /tmp/segproxy-pg.XXXXXX)"
    chmod 0755 "$pgroot"
    printf '%s\n' "$pgroot" >"$dir/.pgroot"
    rm -rf "$dir/pgdata" "$dir/pgsock" "$dir/pg.log"
    ln -s "$pgroot/pgdata" "$dir/pgdata"
    ln -s "$pgroot/pgsock" "$dir/pgsock"
    ln -s "$pgroot/pg.log" "$dir/pg.log"
  fi

  "$SEGPROXY_REPO_ROOT/scripts/gen-certs.sh" "$dir/pki" || return 1

  "$SEGPROXY_REPO_ROOT/scripts/gen-secrets.sh" --force "$dir/secrets" "${TESTENV_ROLES[@]}" || return 1

  _testenv_init_pg "$dir" "$pgroot" || return 1
  _testenv_start_pg "$pgroot" port || {
    sp_log "PostgreSQL failed to start; see $pgroot/pg.log"
    return 1
  }
  _testenv_sql "$dir" "$port" || return 1
  testenv_my_up "$dir" myport || return 1
  if [[ "${SEGPROXY_TESTENV_ETCD:-1}" != 0 ]]; then
    testenv_etcd_up "$dir" || {
      sp_log "etcd cluster failed to start; see $dir/etcd/m*.log"
      return 1
    }
  else
    testenv_etcd_down "$dir"
    rm -rf "${dir:?}/etcd"
  fi
  _testenv_write_env "$dir" "$port" "$myport"
  # shellcheck source=/dev/null
  source "$dir/env.sh"
  sp_log "PostgreSQL 15 ready on 127.0.0.1:$port (data $pgroot/pgdata, user $user)"
  sp_log "MariaDB ready on 127.0.0.1:$myport (data $(_testenv_myroot "$dir")/mydata, user $(_testenv_my_user))"
  if [[ -f "$dir/etcd/endpoints" ]]; then
    sp_log "etcd 3.4 (3 members, TLS + client certs) ready on $(cat "$dir/etcd/endpoints")"
  fi
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  case "${1:-}" in
    up) testenv_up "${2:?DIR}" ;;
    stop) testenv_stop "${2:?DIR}" ;;
    down) testenv_down "${2:?DIR}" ;;
    *) sp_die "usage: $0 up|stop|down DIR" ;;
  esac
fi
