# shellcheck shell=bash
# Shared setup of bench/hot_path.sh and bench/cpu_per_tx.sh (source it after
# scripts/lib/testenv.sh, inside a testenv_up directory). Not a script of its own.
#
#   bp_start_segproxy NAME BIN   segproxy with a PostgreSQL and a MySQL listener (client
#                                mTLS, plain backends with a metadata login each, so the
#                                write-ahead audit's catalog is loaded (docs/audit.md),
#                                pgbench + sysbench tables allowed, no audit); sets bp_pid[NAME], bp_pg_port[NAME], bp_my_port[NAME];
#                                $BP_EXTRA_YAML (top-level YAML lines, e.g. metrics:, audit:)
#                                and $BP_SEGMENT_EXTRA (lines under segment billing, 4 spaces)
#                                are appended when set ($BP_SEGPROXY_EXTRA_YAML: same as
#                                $BP_EXTRA_YAML); $BP_PG_METADATA (the PostgreSQL listener's
#                                metadata: line; set it empty for none); $BP_LOG_LEVEL
#                                (default warn)
#   bp_start_pgbouncer           PgBouncer 1.18, session pool, client mTLS (auth_type=cert)
#                                as bench/pg_compare.sh sets it up; sets bp_pid[pgbouncer],
#                                bp_pg_port[pgbouncer]; max_client_conn $BP_PGB_MAX_CLIENT_CONN
#                                (400), listen_backlog $BP_PGB_LISTEN_BACKLOG (128)
#   bp_conninfo TARGET           libpq conninfo for direct | pgbouncer | a segproxy NAME
#   bp_restart_segproxy NAME     stops segproxy NAME and starts it again from the same binary
#                                and config (a fresh process: a clean heap for RSS figures)
#   bp_stop_all                  stops what the functions above started
#   bp_cpu_ticks PID             utime + stime of a process (clock ticks, /proc/PID/stat)
#   bp_rss_kib PID               VmRSS of a process in KiB

declare -A bp_pid bp_pg_port bp_my_port bp_bin
bp_pgb_pidfile=""

bp_start_segproxy() {
  local name="$1" bin="$2" pki="$SEGPROXY_TEST_PKI" cfg
  [[ -x "$bin" ]] || sp_die "$bin not found"
  sp_pick_port "bp_pg_port[$name]" 16432
  sp_pick_port "bp_my_port[$name]" 16306
  cfg="$SEGPROXY_TEST_DIR/segproxy-$name.yaml"
  local pg_metadata="      metadata: {user: reporting_ro, password_file: \"$SEGPROXY_TEST_SECRETS/reporting_ro.pw\"}"
  [[ -v BP_PG_METADATA ]] && pg_metadata="$BP_PG_METADATA"
  cat >"$cfg" <<YAML
log: {level: ${BP_LOG_LEVEL:-warn}}
listeners:
  - name: pg-main
    protocol: postgres
    listen: 127.0.0.1:${bp_pg_port[$name]}
    tls: {cert: "$pki/server.crt", key: "$pki/server.key", client_ca: "$pki/ca.crt"}
    backend:
      host: 127.0.0.1
      port: $SEGPROXY_TEST_PGPORT
      tls: {mode: disable}
$pg_metadata
  - name: my-main
    protocol: mysql
    listen: 127.0.0.1:${bp_my_port[$name]}
    tls: {cert: "$pki/server.crt", key: "$pki/server.key", client_ca: "$pki/ca.crt"}
    backend:
      host: 127.0.0.1
      port: $SEGPROXY_TEST_MYPORT
      tls: {mode: disable}
      metadata: {user: segproxy_meta, password_file: "$SEGPROXY_TEST_SECRETS/segproxy_meta.my.pw"}
identities:
  - match: {spiffe_id: "spiffe://example.org/ns/billing/*"}
    segment: billing
segments:
  billing:
    databases: [shop]
    credentials:
      pg-main: {user: billing_rw, password_file: "$SEGPROXY_TEST_SECRETS/billing_rw.pw"}
      my-main: {user: billing_rw, password_file: "$SEGPROXY_TEST_SECRETS/billing_rw.my.pw"}
    rules:
      - {id: pgbench, tables: ["public.pgbench_*"], allow: [select, insert, update]}
      - {id: sysbench, tables: ["shop.sbtest*"], allow: [all]}
      - {id: bulk, tables: ["public.bench_bulk"], allow: [select, copy_to]}
    statements: [transaction, session_safe, prepare, ddl]
${BP_SEGMENT_EXTRA:-}
${BP_SEGPROXY_EXTRA_YAML:-}
${BP_EXTRA_YAML:-}
YAML
  "$bin" --check-config "$cfg" >/dev/null
  bp_bin[$name]="$bin"
  bp_launch_segproxy "$name"
}

bp_launch_segproxy() {
  local name="$1" bin="${bp_bin[$1]}" cfg="$SEGPROXY_TEST_DIR/segproxy-$1.yaml"
  "$bin" --config "$cfg" >>"$SEGPROXY_TEST_DIR/segproxy-$name.log" 2>&1 &
  bp_pid[$name]=$!
  sp_wait_port "${bp_pg_port[$name]}" 30 "${bp_pid[$name]}" || sp_die "segproxy $name did not start"
  sp_wait_port "${bp_my_port[$name]}" 30 "${bp_pid[$name]}" || sp_die "segproxy $name did not start"
  sp_log "segproxy $name ($bin): postgres 127.0.0.1:${bp_pg_port[$name]}, mysql 127.0.0.1:${bp_my_port[$name]}"
}

bp_restart_segproxy() {
  sp_stop_pid "${bp_pid[$1]}" 10
  bp_launch_segproxy "$1"
}

bp_start_pgbouncer() {
  local pki="$SEGPROXY_TEST_PKI" pgb="$SEGPROXY_TEST_DIR/pgbouncer" svc_user
  svc_user="$(sp_service_user)"
  "$SEGPROXY_REPO_ROOT/scripts/gen-certs.sh" --client client-pgbouncer billing_rw "$pki" >/dev/null
  mkdir -p "$pgb"
  cp "$pki/server.crt" "$pki/server.key" "$pki/ca.crt" "$pgb/"
  (umask 077 && printf '"billing_rw" "%s"\n' "$(cat "$SEGPROXY_TEST_SECRETS/billing_rw.pw")" >"$pgb/userlist.txt")
  sp_pick_port "bp_pg_port[pgbouncer]" 26432
  cat >"$pgb/pgbouncer.ini" <<INI
[databases]
shop = host=127.0.0.1 port=$SEGPROXY_TEST_PGPORT dbname=shop

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${bp_pg_port[pgbouncer]}
unix_socket_dir =
logfile = $pgb/pgbouncer.log
pidfile = $pgb/pgbouncer.pid
pool_mode = session
max_client_conn = ${BP_PGB_MAX_CLIENT_CONN:-400}
listen_backlog = ${BP_PGB_LISTEN_BACKLOG:-128}
default_pool_size = 300
auth_type = cert
auth_file = $pgb/userlist.txt
client_tls_sslmode = verify-full
client_tls_ca_file = $pgb/ca.crt
client_tls_cert_file = $pgb/server.crt
client_tls_key_file = $pgb/server.key
server_tls_sslmode = disable
ignore_startup_parameters = extra_float_digits
INI
  chown -R "$svc_user" "$pgb"
  chmod 0700 "$pgb"
  chmod 0600 "$pgb"/*
  bp_pgb_pidfile="$pgb/pgbouncer.pid"
  # runuser's PAM session sets the soft open-files limit to 1,024: raised to the hard limit
  # (as the bench scripts raise their own, which segproxy inherits), or a flood's half-open
  # connections use up PgBouncer's descriptors and it stops accepting.
  # shellcheck disable=SC2016 # $1 is expanded by that shell
  sp_as_service sh -c 'ulimit -n "$(ulimit -Hn)"; exec pgbouncer -q -d "$1"' sh "$pgb/pgbouncer.ini"
  sp_wait_port "${bp_pg_port[pgbouncer]}" 30 || sp_die "PgBouncer did not start (see $pgb/pgbouncer.log)"
  bp_pid[pgbouncer]="$(cat "$bp_pgb_pidfile")"
  sp_log "PgBouncer on 127.0.0.1:${bp_pg_port[pgbouncer]} (pid ${bp_pid[pgbouncer]})"
}

bp_conninfo() {
  local pki="$SEGPROXY_TEST_PKI"
  case "$1" in
    direct) printf 'host=127.0.0.1 port=%s user=billing_rw dbname=shop sslmode=disable' "$SEGPROXY_TEST_PGPORT" ;;
    pgbouncer) printf 'host=localhost port=%s user=billing_rw dbname=shop sslmode=verify-full sslrootcert=%s sslcert=%s sslkey=%s' \
      "${bp_pg_port[pgbouncer]}" "$pki/ca.crt" "$pki/client-pgbouncer.crt" "$pki/client-pgbouncer.key" ;;
    *) printf 'host=localhost port=%s user=billing dbname=shop sslmode=verify-full sslrootcert=%s sslcert=%s sslkey=%s' \
      "${bp_pg_port[$1]}" "$pki/ca.crt" "$pki/client-spiffe.crt" "$pki/client-spiffe.key" ;;
  esac
}

# pgbench TARGET ARGS...: the password only in the environment, and only for direct.
bp_pgbench() {
  local target="$1"
  shift
  (
    unset PGPASSWORD
    if [[ "$target" == direct ]]; then
      PGPASSWORD="$(cat "$SEGPROXY_TEST_SECRETS/billing_rw.pw")"
      export PGPASSWORD
    fi
    exec timeout --kill-after=10 600 "$(sp_pg_bindir)/pgbench" "$@" "$(bp_conninfo "$target")"
  )
}

# sysbench against a segproxy NAME (or "direct"): TEST COMMAND ARGS...
bp_sysbench() {
  local target="$1" test="$2" command="$3" port work="$SEGPROXY_TEST_DIR/sysbench"
  shift 3
  port="${bp_my_port[$target]:-$SEGPROXY_TEST_MYPORT}"
  mkdir -p "$work"
  ln -sf "$SEGPROXY_TEST_PKI/ca.crt" "$work/cacert.pem"
  ln -sf "$SEGPROXY_TEST_PKI/client-spiffe.crt" "$work/client-cert.pem"
  ln -sf "$SEGPROXY_TEST_PKI/client-spiffe.key" "$work/client-key.pem"
  (umask 077 && printf 'mysql-password=%s\n' "$(cat "$SEGPROXY_TEST_SECRETS/billing_rw.my.pw")" >"$work/sysbench.cfg")
  (cd "$work" && timeout --kill-after=10 600 sysbench "$test" --config-file="$work/sysbench.cfg" --db-driver=mysql \
    --mysql-host=127.0.0.1 --mysql-port="$port" --mysql-user=billing_rw --mysql-db=shop --mysql-ssl=on \
    --tables=1 "$@" "$command")
}

bp_stop_all() {
  local name
  for name in "${!bp_pid[@]}"; do
    [[ "$name" == pgbouncer ]] && continue
    sp_stop_pid "${bp_pid[$name]}" 10
  done
  if [[ -n "$bp_pgb_pidfile" && -s "$bp_pgb_pidfile" ]]; then sp_stop_pid "$(cat "$bp_pgb_pidfile")" 10; fi
}

bp_cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
bp_rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
