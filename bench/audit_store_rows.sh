#!/usr/bin/env bash
# What one shipped audit record costs the central store's PostgreSQL backend, per schema
# version (issue 17, docs/audit.md "Central store"), without the proxy or TLS in the way:
#
#   1. BENCH_SECONDS of pgbench -S -M extended through an audited segproxy (no shipping):
#      a log of real canonical lines.
#   2. Those lines as COPY (FORMAT binary) files of BENCH_BATCH rows, in the shipper's
#      column layout of each schema version (version 1 with the hash column), the seqs
#      shifted per repetition so that every round loads BENCH_REPEAT x the log.
#   3. Per round and version, interleaved: a fresh store database made by this build's
#      `segproxyctl audit store init --schema-version N` (the real schema and migrations;
#      version 2 = version 1 migrated), then every file through psql \copy (COPY FROM STDIN,
#      unix socket); the backend's CPU (/proc/PID/schedstat) and WAL (pg_current_wal_lsn)
#      per row, and the table's size on disk per row.
#
# bench/audit_ship_cost.sh measures the whole path (shipper thread + store backend, TLS);
# this one isolates the store's share, which is what the schema decides. Not part of CI.
# Env: BENCH_SECONDS (15), BENCH_CLIENTS (16), BENCH_SCALE (10), BENCH_BATCH (5000),
#      BENCH_REPEAT (4), BENCH_ROUNDS (3), BENCH_VERSIONS ("1 2"). Set-up: bench/lib/bench_env.sh.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/bench_env.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/bench_env.sh" audit_store_rows psql

seconds="${BENCH_SECONDS:-15}"
clients="${BENCH_CLIENTS:-16}"
scale="${BENCH_SCALE:-10}"
batch="${BENCH_BATCH:-5000}"
repeat="${BENCH_REPEAT:-4}"
rounds="${BENCH_ROUNDS:-3}"
read -r -a versions <<<"${BENCH_VERSIONS:-1 2}"
ctl_bin="$(sp_build_dir)/bin/segproxyctl"
[[ -x "$ctl_bin" ]] || sp_die "build segproxyctl first"

bench_env_up store_rows "$seconds" "$clients" "$scale" "$batch" "$repeat" "$rounds"
su_conn() {
  printf 'host=%s port=%s user=postgres dbname=%s sslmode=disable' "$SEGPROXY_TEST_PGSOCKDIR" "$SEGPROXY_TEST_PGPORT" "$1"
}
sql() { psql -X -q -At -v ON_ERROR_STOP=1 "$(su_conn "$1")" -c "$2"; }

# 1. The log.
bench_pgbench_init "$scale"
BP_EXTRA_YAML="audit:
  dir: \"$bench_dir/audit\"
  instance: bench
  durability: group" bp_start_segproxy audited "$proxy_bin"
sp_log "pgbench -S -M extended -c $clients through the audited proxy, ${seconds}s"
bp_pgbench audited -n -S -M extended -c "$clients" -j 2 -T "$seconds" >"$bench_dir/pgbench.log" 2>&1 ||
  { tail -n 20 "$bench_dir/pgbench.log" >&2; sp_die "pgbench failed (its log above)"; }
bp_stop_all

# 2. The COPY files (written by the server: a directory it may write to).
files="$bench_dir/copy"
mkdir -p "$files"
chmod 0777 "$files"
sql postgres "CREATE DATABASE rows_src" >/dev/null
sql rows_src "CREATE TABLE staging (line text)"
for f in "$bench_dir"/audit/audit-*.jsonl; do
  # Lines as they are: no quote or delimiter character occurs in a canonical line.
  psql -X -q -v ON_ERROR_STOP=1 "$(su_conn rows_src)" \
    -c "\\copy staging FROM '$f' (FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02')"
done
sql rows_src "CREATE TABLE src AS SELECT (j->>'seq')::bigint AS seq, (j->>'ts')::timestamptz AS ts,
  j->>'event' AS event, j->>'session_id' AS session_id, coalesce(j->>'identity', j->>'spiffe_id', j->>'cn') AS identity,
  j->>'cert_sha256' AS cert_sha256, j->>'segment' AS segment, j->>'decision' AS decision,
  j->>'fingerprint' AS fingerprint, j->>'hash' AS hash, line FROM (SELECT line, line::json AS j FROM staging) s"
read -r lines avg_bytes < <(sql rows_src "SELECT count(*), round(avg(octet_length(line))) FROM src" | tr '|' ' ')
((lines > 0)) || sp_die "no audit lines"
chunks=$(((lines + batch - 1) / batch))
sp_log "$lines lines ($avg_bytes bytes on average): $chunks files of up to $batch rows per version, $repeat repetitions"
for v in "${versions[@]}"; do
  hash_col=""
  [[ "$v" == 1 ]] && hash_col="hash, "
  for ((k = 0; k < repeat; k++)); do
    for ((c = 0; c < chunks; c++)); do
      sql rows_src "COPY (SELECT 'bench'::text, seq + $((k * (lines + 1))), ts, event, session_id, identity, cert_sha256,
        segment, decision, fingerprint, ${hash_col}line FROM src WHERE seq > $((c * batch)) AND seq <= $(((c + 1) * batch))
        ORDER BY seq) TO '$files/v$v-$k-$c.bin' (FORMAT binary)"
    done
  done
done

# 3. The rounds.
raw="$bench_dir/raw.tsv"
: >"$raw"
for ((r = 1; r <= rounds; r++)); do
  for v in "${versions[@]}"; do
    db="rows_v$v"
    sql postgres "DROP DATABASE IF EXISTS $db" >/dev/null
    sql postgres "CREATE DATABASE $db" >/dev/null
    "$ctl_bin" audit store init --postgres "$(su_conn "$db")" --shipper-role bench_rows --schema-version "$v" >/dev/null
    sql "$db" "CHECKPOINT"
    cols="instance, seq, ts, event, session_id, identity, cert_sha256, segment, decision, fingerprint, "
    [[ "$v" == 1 ]] && cols+="hash, "
    cols+="line"
    {
      echo "SELECT pg_backend_pid() AS pid, pg_current_wal_lsn() AS l0 \\gset"
      echo "\\setenv BPID :pid"
      echo "\\! awk '{ print \"cpu0\", \$1 }' /proc/\$BPID/schedstat >$bench_dir/cpu.txt"
      for ((k = 0; k < repeat; k++)); do
        for ((c = 0; c < chunks; c++)); do
          echo "\\copy segproxy_audit.records ($cols) FROM '$files/v$v-$k-$c.bin' (FORMAT binary)"
        done
      done
      echo "\\! awk '{ print \"cpu1\", \$1 }' /proc/\$BPID/schedstat >>$bench_dir/cpu.txt"
      echo "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), :'l0') AS wal, count(*) AS n,"
      echo "  pg_total_relation_size('segproxy_audit.records') AS sz FROM segproxy_audit.records \\gset"
      echo "\\setenv W :wal"
      echo "\\setenv N :n"
      echo "\\setenv SZ :sz"
      echo "\\! echo wal \$W \$N \$SZ >>$bench_dir/cpu.txt"
    } | psql -X -q -v ON_ERROR_STOP=1 "$(su_conn "$db")" >/dev/null
    awk -v v="$v" -v r="$r" '$1 == "cpu0" { a = $2 } $1 == "cpu1" { b = $2 } $1 == "wal" { w = $2; n = $3; sz = $4 }
      END { printf "%s\t%d\t%d\t%.2f\t%.0f\t%.0f\n", v, r, n, (b - a) / 1000 / n, w / n, sz / n }' "$bench_dir/cpu.txt" >>"$raw"
    sp_log "round $r/$rounds, version $v: $(tail -n 1 "$raw" | cut -f4) µs per row"
  done
done

median() {  # VERSION COLUMN
  awk -F'\t' -v v="$1" -v c="$2" '$1 == v { print $c }' "$raw" | sort -g |
    awk '{ x[NR] = $1 } END { if (NR % 2) printf "%.2f\n", x[(NR + 1) / 2]; else printf "%.2f\n", (x[NR / 2] + x[NR / 2 + 1]) / 2 }'
}
stamp="$(date -u +%Y%m%d-%H%M%S)"
report="$(
  printf '# The central store backend per shipped record, by schema version\n\n'
  printf -- '- date (UTC): %s; host: %s cores, load average %s; segproxyctl %s\n' "$stamp" "$(nproc)" \
    "$(cut -d' ' -f1-3 /proc/loadavg)" "$(git -C "$SEGPROXY_REPO_ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
  printf -- '- %s lines (%s bytes on average) from %s s of pgbench -S -M extended -c %s through an audited proxy;\n' \
    "$lines" "$avg_bytes" "$seconds" "$clients"
  printf -- '  COPY (FORMAT binary) files of %s rows, %s repetitions per round, %s interleaved rounds, median\n\n' \
    "$batch" "$repeat" "$rounds"
  printf '| schema version | rows per round | backend µs/row | WAL bytes/row | table + indexes bytes/row |\n'
  printf '|---|---:|---:|---:|---:|\n'
  for v in "${versions[@]}"; do
    printf '| %s | %s | %s | %s | %s |\n' "$v" "$(median "$v" 3)" "$(median "$v" 4)" "$(median "$v" 5)" "$(median "$v" 6)"
  done
  printf '\n<details><summary>raw (version, round, rows, µs/row, WAL bytes/row, bytes/row)</summary>\n\n```\n'
  cat "$raw"
  printf '```\n</details>\n'
)"
mkdir -p "$SEGPROXY_REPO_ROOT/bench/results"
out="$SEGPROXY_REPO_ROOT/bench/results/audit_store_rows-$stamp.md"
printf '%s\n' "$report" | tee "$out"
sp_log "written to $out"
