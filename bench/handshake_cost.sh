#!/usr/bin/env bash
# What one flood handshake costs the proxy (issue 20): CPU of the proxy per thread (from
# /proc) per handshake, for the open-loop flood (bench/lib/flood_client.py --open-loop: a
# replayed ClientHello, the server's first flight read, then close - what an attacker from
# other hosts makes the proxy do for almost no CPU of its own) against complete handshakes
# with the client certificate (the closed loop, --threads 1: one at a time). Each mode runs
# BENCH_RATE (100) connections/s for SECONDS against an otherwise idle proxy (no pgbench,
# no half-open connections), modes interleaved BENCH_ROUNDS (2) times; the flood client's
# own CPU per handshake beside it. CPU time per event is less sensitive to machine load than
# latency, but still moves with it: the report has the load average of every round.
#
# Usage: bench/handshake_cost.sh [SECONDS]   (per round and mode, default 20)
# Env: BENCH_PROXY_BIN (build/bin/segproxy), BENCH_RATE (100), BENCH_ROUNDS (2).
# Set-up: bench/lib/bench_env.sh.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/bench_env.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/bench_env.sh" handshake_cost
# shellcheck source-path=SCRIPTDIR source=lib/proc_cpu.sh
source "$SEGPROXY_REPO_ROOT/bench/lib/proc_cpu.sh"

seconds="${1:-20}"
rate="${BENCH_RATE:-100}"
rounds="${BENCH_ROUNDS:-2}"
bench_env_up handshake_cost "$seconds" "$rate" "$rounds"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
bp_start_segproxy segproxy "$proxy_bin"
pid="${bp_pid[segproxy]}"
pki="$SEGPROXY_TEST_PKI"
hz="$(getconf CLK_TCK)"

rows=()
for ((r = 1; r <= rounds; r++)); do
  for mode in open closed; do
    args=(--rate "$rate" --seconds "$seconds" --sources 16)
    if [[ "$mode" == open ]]; then args+=(--open-loop --then close); else args+=(--threads 1); fi
    load="$(cut -d' ' -f1 /proc/loadavg)"
    proc_cpu_snapshot "$bench_dir/before" "$pid"
    out="$(python3 "$SEGPROXY_REPO_ROOT/bench/lib/flood_client.py" "${bp_pg_port[segproxy]}" "$pki/ca.crt" \
      "$pki/client-spiffe.crt" "$pki/client-spiffe.key" "${args[@]}" 2>"$bench_dir/flood-$r-$mode.err")" || true
    proc_cpu_snapshot "$bench_dir/after" "$pid"
    read -r n client_us <<<"$(python3 -c 'import json, sys
d = json.loads(sys.stdin.readline() or "{}")
n = d.get("first_flights", 0) if d.get("open_loop") else d.get("handshakes_ok", 0)
print(n, round(d.get("cpu_s", 0) / n * 1e6) if n else "-")' <<<"$out")"
    split="$(proc_cpu_split "$bench_dir/before" "$bench_dir/after" 1 |
      awk -F'\t' -v n="$n" -v hz="$hz" '{ sub(/^proxy /, "", $1); sub(/ [0-9]+$/, "", $1); t[$1] += $2 * hz }
        END { for (k in t) { all += t[k]; if (t[k] > 0) printf "%s %.0f, ", k, (n > 0 ? t[k] / hz / n * 1e6 : 0) }
              printf "| %.0f", (n > 0 ? all / hz / n * 1e6 : 0) }')"
    rows+=("| $r | $mode | $load | $n | ${split%%|*} | **${split##*| }** | $client_us |")
    sp_log "round $r $mode: $n handshakes; µs of proxy CPU per handshake: ${split##*| } (${split%%|*})"
  done
done

stamp="$(date -u +%Y%m%d-%H%M%S)"
report="$(
  printf '# Proxy CPU per flood handshake: open loop (first flight only) vs complete handshakes\n\n'
  printf -- '- date (UTC): %s; host: %s cores, load average at the end %s; segproxy %s (%s)\n' "$stamp" "$(nproc)" \
    "$(cut -d' ' -f1-3 /proc/loadavg)" "$(git describe --always --dirty 2>/dev/null || echo unknown)" "$proxy_bin"
  printf -- '- %s connections/s for %s s per round and mode, 16 source addresses, no other load; open: replayed ClientHello, first flight read, close; closed: complete handshakes with the client certificate, one at a time\n\n' "$rate" "$seconds"
  printf '| round | mode | load avg | handshakes | µs of proxy CPU per handshake, by thread | µs per handshake, all threads | µs of flood client CPU per handshake |\n'
  printf '|---|---|---:|---:|---|---:|---:|\n'
  printf '%s\n' "${rows[@]}"
)"
mkdir -p "$SEGPROXY_REPO_ROOT/bench/results"
printf '%s\n' "$report" | tee "$SEGPROXY_REPO_ROOT/bench/results/handshake_cost-$stamp.md"
