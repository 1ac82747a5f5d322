# shellcheck shell=bash
# CPU time from /proc, for the bench scripts that split a phase's CPU between processes
# and threads (bench/flood.sh). Source it; not a script of its own.
#
#   proc_cpu_snapshot OUT PROXY_PID [NAME=ROOT_PID...]
#       writes "KEY<TAB>PID<TAB>ticks" lines (utime + stime, clock ticks) to OUT: one per
#       thread of PROXY_PID (KEY "proxy <comm> <tid>"), one per process of ROOT_PID's tree
#       at that moment for each NAME (its live threads included; other users' processes on
#       the machine are not counted)
#   proc_cpu_tree PID   PID and its descendants, space-separated (a postmaster and its
#                       backends; a subshell, the `timeout` in it and its pgbench)
#   proc_cpu_split BEFORE AFTER SECONDS
#       prints "KEY<TAB>cores" (ticks / CLK_TCK / SECONDS, summed over the KEY's processes
#       in AFTER: one that started in between counts whole, one that ended in between is
#       left out), largest first

# utime + stime of a /proc/.../stat file, without a fork (a sample must be quick on a
# loaded machine); nothing when it is gone.
_proc_cpu_ticks() {
  local line f
  { read -r line <"$1"; } 2>/dev/null || return 0
  read -r -a f <<<"${line##*) }"  # from field 3 (state) on: utime is field 14, stime 15
  printf '%s\n' $((f[11] + f[12]))
}

proc_cpu_snapshot() {
  local out="$1" proxy="$2" task tid comm t name pid
  : >"$out"
  for task in /proc/"$proxy"/task/*; do
    tid="${task##*/}"
    { read -r comm <"$task/comm"; } 2>/dev/null || comm='?'
    t="$(_proc_cpu_ticks "$task/stat")"
    [[ -n "$t" ]] && printf 'proxy %s %s\t%s\t%s\n' "${comm// /_}" "$tid" "$tid" "$t" >>"$out"
  done
  for name in "${@:3}"; do
    for pid in $(proc_cpu_tree "${name#*=}"); do
      t="$(_proc_cpu_ticks "/proc/$pid/stat")"
      [[ -n "$t" ]] && printf '%s\t%s\t%s\n' "${name%%=*}" "$pid" "$t" >>"$out"
    done
  done
}

proc_cpu_tree() {
  local all=("$1") todo=("$1") next p
  while ((${#todo[@]} > 0)); do
    next=()
    for p in "${todo[@]}"; do mapfile -t -O "${#next[@]}" next < <(pgrep -P "$p" || true); done
    all+=("${next[@]}")
    todo=("${next[@]}")
  done
  printf '%s\n' "${all[*]}"
}

proc_cpu_split() {
  awk -F'\t' -v hz="$(getconf CLK_TCK)" -v s="$3" 'NR == FNR { before[$1 SUBSEP $2] = $3; next }
    { k = $1 SUBSEP $2; sum[$1] += (k in before) ? $3 - before[k] : $3 }
    END { for (n in sum) printf "%s\t%.3f\n", n, sum[n] / hz / s }' "$1" "$2" | sort -t$'\t' -k2 -rn
}
