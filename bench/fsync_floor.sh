#!/usr/bin/env bash
# The disk's floor for audit durability `group`: how long one durable append takes
# (write + sync of one audit-record-sized block, dd with O_DSYNC), for a growing file
# (what the audit log does today) and for an overwritten, preallocated one. A statement
# waits for at least one such sync before it is forwarded, so with L = the statement's
# latency without audit, audit/off <= L / (L + sync) even with zero CPU cost.
# Usage: bench/fsync_floor.sh [DIR (default: a temp dir under /tmp)] [COUNT (5000)]
set -euo pipefail
dir="${1:-}"
count="${2:-5000}"
[[ "$count" =~ ^[0-9]+$ ]] || { echo "COUNT must be an integer" >&2; exit 2; }
own=0
if [[ -z "$dir" ]]; then
  dir="$(mktemp -d /tmp/segproxy-fsync.XXXXXX)"
  own=1
fi
f="$dir/fsync-floor.dat"
cleanup() {
  rm -f "$f"
  if ((own)); then rmdir "$dir"; fi
}
trap cleanup EXIT
per_op_us() {  # dd stderr -> microseconds per block
  awk -v n="$count" '/copied/ { for (i = 1; i <= NF; i++) if ($i == "s,") print int($(i - 1) * 1e6 / n) }'
}
rm -f "$f"
grow="$(dd if=/dev/zero of="$f" bs=600 count="$count" oflag=dsync 2>&1 | per_op_us)"
over="$(dd if=/dev/zero of="$f" bs=600 count="$count" oflag=dsync conv=notrunc 2>&1 | per_op_us)"
printf 'durable 600-byte append, growing file: %s us\n' "$grow"
printf 'durable 600-byte write, preallocated file: %s us\n' "$over"
printf 'ceiling of audit/off for a statement latency of 1.33 ms (16 clients at 12k TPS): %s (growing), %s (preallocated)\n' \
  "$(awk -v s="$grow" 'BEGIN { printf "%.2f", 1330 / (1330 + s) }')" \
  "$(awk -v s="$over" 'BEGIN { printf "%.2f", 1330 / (1330 + s) }')"
