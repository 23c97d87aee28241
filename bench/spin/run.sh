#!/usr/bin/env bash
# ipclab's checker against SPIN on the same credit models (issue 5, "Speed
# and memory"). For each model in bench/spin/models (see gen.sh):
#   SPIN   spin -a M.pml
#          gcc -O2 -DSAFETY -DMEMLIM=8192 -o pan pan.c       (deadlocks)
#          ./pan -c0 -mD -wW                                (whole space)
#          gcc -O2 -DNP -DNOREDUCE -DMEMLIM=8192 -o pan_np pan.c
#          ./pan_np -l -f -c1 -m1000000                     (non-progress
#                                          cycles under weak fairness)
#   ipclab the bench binary check_vs_spin (library defaults: depth-first,
#          ample-set reduction, starvation analysis) on M.ipc
# and prints one table. W is chosen per model so that SPIN's hash table
# has about one slot per stored state, and D (the DFS stack) twice the
# depth reached (at least 10000): a first run counts states and depth;
# -DCOLLAPSE, -DHC and bitstate are off: plain state storage. Each side runs
# REPEAT times (default 3); the fastest run's time is reported, and peak
# RSS comes from /usr/bin/time -v (GNU time) on one run.
#
# Usage: bench/spin/run.sh [MODEL ...]       (MODEL: e.g. direct-n3-b2)
# Env:   REPEAT=3  KEEP=1 (keep the work directory)  OUT=FILE (also write
#        the table to FILE)  JOBS=1 (ipclab's workers: 1 searches
#        depth-first, more search level by level in parallel; same states)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
repeat=${REPEAT:-3}
jobs=${JOBS:-1}

if ! command -v spin >/dev/null 2>&1; then
  echo "installing spin (Debian package)..." >&2
  sudo_=""
  [ "$(id -u)" -ne 0 ] && sudo_="sudo"
  $sudo_ apt-get install -y spin >/dev/null 2>&1 ||
    { $sudo_ apt-get update >/dev/null && $sudo_ apt-get install -y spin >/dev/null; }
fi
for tool in spin gcc cargo /usr/bin/time; do
  command -v "$tool" >/dev/null 2>&1 || { echo "run.sh: $tool is missing" >&2; exit 1; }
done

"$here/gen.sh" >/dev/null

echo "building the bench binary (cargo bench --no-run)..." >&2
bench=$(cd "$root" && cargo bench -q -p ipclab-sim --bench check_vs_spin --no-run \
          --message-format=json 2>/dev/null |
        sed -n 's/.*"executable":"\([^"]*check_vs_spin[^"]*\)".*/\1/p' | tail -1)
[ -x "$bench" ] || { echo "run.sh: could not build check_vs_spin" >&2; exit 1; }

work=$(mktemp -d /tmp/ipclab-spin.XXXXXX)
[ -n "${KEEP:-}" ] || trap 'rm -rf "$work"' EXIT

if [ $# -gt 0 ]; then
  models=("$@")
else
  models=()
  for f in "$here"/models/*.pml; do models+=("$(basename "$f" .pml)"); done
fi

# MB as SPIN prints them (2^20 bytes) -> bytes
mb() { awk -v m="$1" 'BEGIN { printf "%.0f", m * 1048576 }'; }
# the number after the first match of a pattern in a file
num() { grep -m1 -E "$1" "$2" | grep -oE '[0-9]+(\.[0-9]+)?(e[-+]?[0-9]+)?' | head -1; }
max_rss() { awk '/Maximum resident set size/ { print $NF * 1024 }' "$1"; }

rows=()
for m in "${models[@]}"; do
  pml="$here/models/$m.pml"
  ipc="$here/models/$m.ipc"
  [ -f "$pml" ] && [ -f "$ipc" ] || { echo "run.sh: no model $m" >&2; exit 1; }
  d="$work/$m"
  mkdir -p "$d"
  cp "$pml" "$d/model.pml"
  (
    cd "$d"
    spin -a model.pml >/dev/null
    gcc -O2 -DSAFETY -DMEMLIM=8192 -o pan pan.c
    gcc -O2 -DNP -DNOREDUCE -DMEMLIM=8192 -o pan_np pan.c
    # sizing run: how many states, then log2 of that for -w
    ./pan -c0 -m1000000 > sizing.txt 2>&1 || true
    stored=$(num 'states, stored' sizing.txt)
    w=$(awk -v s="$stored" 'BEGIN { w = 10; while (2^w < s) w++; print w }')
    depth=$(num 'depth reached' sizing.txt)
    stack=$(( depth * 2 > 10000 ? depth * 2 : 10000 ))
    best=""
    for _ in $(seq "$repeat"); do
      /usr/bin/time -v ./pan -c0 -m"$stack" -w"$w" > safety.txt 2> time.txt || true
      t=$(num 'elapsed time' safety.txt)
      if [ -z "$best" ] || awk -v a="$t" -v b="$best" 'BEGIN { exit !(a < b) }'; then
        best=$t
        cp safety.txt safety.best.txt
        cp time.txt time.best.txt
      fi
    done
    ./pan_np -l -f -c1 -m1000000 > np.txt 2>&1 || true
  )
  s="$d/safety.best.txt"
  spin_states=$(num 'states, stored' "$s")
  spin_trans=$(num 'transitions' "$s")
  spin_time=$(num 'elapsed time' "$s")
  spin_errors=$(grep -oE 'errors: [0-9]+' "$s" | grep -oE '[0-9]+')
  if [ "$spin_errors" = 0 ]; then
    spin_verdict=safe
  elif grep -q 'invalid end state' "$d/sizing.txt"; then
    spin_verdict=deadlock
  else
    spin_verdict="errors($spin_errors)"
  fi
  np_errors=$(grep -oE 'errors: [0-9]+' "$d/np.txt" | grep -oE '[0-9]+' || echo '?')
  if [ "$np_errors" = 0 ]; then np=no-np-cycle; else np=np-cycle; fi
  grep -q 'max search depth too small' "$d/np.txt" "$s" && np="$np(depth!)"
  # bytes per stored state: state storage (as stored + overhead) + hash table
  states_mb=$(grep -m1 'actual memory usage for states' "$s" | awk '{ print $1 }')
  [ -n "$states_mb" ] || states_mb=$(grep -m1 'equivalent memory usage for states' "$s" | awk '{ print $1 }')
  hash_mb=$(grep -m1 'memory used for hash table' "$s" | awk '{ print $1 }')
  total_mb=$(grep -m1 'total actual memory usage' "$s" | awk '{ print $1 }')
  spin_bps=$(awk -v a="$(mb "$states_mb")" -v b="$(mb "$hash_mb")" -v n="$spin_states" \
               'BEGIN { printf "%.0f", (a + b) / n }')
  spin_total=$(mb "$total_mb")
  spin_rss=$(max_rss "$d/time.best.txt")
  spin_rate=$(awk -v n="$spin_states" -v t="$spin_time" \
                'BEGIN { if (t > 0) printf "%.0f", n / t; else print "-" }')

  # ipclab: fastest of REPEAT runs in one process; RSS of a single run
  line=$("$bench" --tsv --repeat "$repeat" --jobs "$jobs" "$ipc")
  /usr/bin/time -v "$bench" --tsv --jobs "$jobs" "$ipc" > /dev/null 2> "$d/ipclab-time.txt"
  IFS=$'\t' read -r _ ip_verdict ip_states ip_trans ip_time ip_rate ip_bps ip_est _ <<< "$line"
  ip_rss=$(max_rss "$d/ipclab-time.txt")

  rows+=("$(printf '%s\t%s; %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s' \
    "$m" "$spin_verdict" "$np" "$ip_verdict" \
    "$spin_states" "$ip_states" "$spin_trans" "$ip_trans" \
    "$spin_time" "$ip_time" "$spin_rate" "$ip_rate" \
    "$(awk -v b="$spin_total" 'BEGIN { printf "%.1f", b / 1e6 }')" \
    "$(awk -v b="$spin_rss" 'BEGIN { printf "%.1f", b / 1e6 }')" \
    "$(awk -v b="$ip_est" 'BEGIN { printf "%.1f", b / 1e6 }')" \
    "$(awk -v b="$ip_rss" 'BEGIN { printf "%.1f", b / 1e6 }')" \
    "$spin_bps" "$ip_bps")")
done

{
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
  echo "spin: $(spin -V 2>&1 | head -1); gcc: $(gcc -dumpfullversion); ipclab: $(cd "$root" && git rev-parse --short HEAD 2>/dev/null || echo '?'), $jobs worker(s)"
  echo
  echo "| model | SPIN verdict (safety; non-progress) | ipclab verdict | states SPIN | states ipclab | transitions SPIN | transitions ipclab | time SPIN (s) | time ipclab (s) | states/s SPIN | states/s ipclab | SPIN total memory (MB) | SPIN max RSS (MB) | ipclab estimate (MB) | ipclab max RSS (MB) | B/state SPIN | B/state ipclab |"
  echo "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  for r in "${rows[@]}"; do
    echo "| ${r//$'\t'/ | } |"
  done
} | tee "${OUT:-/dev/null}"
