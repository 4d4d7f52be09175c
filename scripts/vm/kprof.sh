#!/bin/bash
# scripts/vm/kprof.sh [BIN [VAR=VALUE]] - a developer's probe (not a test): profiles the IPVS
# test guest (2 vCPUs) with perf while lvsd -C programs the 1000 x 20 bench configuration
# (tests/vm/kprof.sh), then prints, for the window from the daemon's start to the complete
# table, the CPU by command and binary, and each thread's samples per 25 ms (a timeline).
# BIN: an lvsd binary (default: a static build of this tree). Needs perf on the host (it is
# copied into the guest with its libraries). Results in target/vm-results/kprof/kprof;
# further reports on the host, e.g.:
#   perf report -i perf.data --kallsyms=kallsyms --symfs=symfs --time $(cat window.txt) ...
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
command -v perf >/dev/null || { echo "kprof: perf is not installed on the host" >&2; exit 1; }
BIN=$(bash "$HERE/../build-static.sh")
LVSD=${1:-$BIN/lvsd}
res=$ROOT/target/vm-results/kprof
rm -rf "$res"; mkdir -p "$res"
LVSD_BINS="$LVSD $BIN/lvsd-ipvs $(command -v perf)" VM_CPUS=${VM_CPUS:-2} VM_MEM=${VM_MEM:-2048} \
    VM_TIMEOUT=${VM_TIMEOUT:-900} bash "$HERE/run.sh" kprof.sh "$res" "${N:-1000}" "${M:-20}" \
    "$(basename "$LVSD")" "${2:-}" >"$res/run.log" 2>&1 || {
    echo "kprof VM failed; see $res/run.log" >&2; tail -20 "$res/run.log" >&2; exit 1; }
out=$res/kprof
mkdir -p "$out/symfs/usr/local/bin"
cp "$LVSD" "$BIN/lvsd-ipvs" "$out/symfs/usr/local/bin/"
T=$(cat "$out/window.txt")
grep -h "ms=\|BENCH-NOTE cpu" "$out"/run-*.txt
cat "$out/comm-dso.txt"
echo "samples per 25 ms (2 kHz: 50 = one CPU busy) by command-tid:"
perf script -i "$out/perf.data" --kallsyms="$out/kallsyms" --symfs="$out/symfs" --time "$T" \
    -F comm,tid,time 2>/dev/null | awk -v s="${T%,*}" '
    { t = $3; sub(":", "", t); b = int((t - s) * 1000 / 25); k = $1 "-" $2
      c[b "," k]++; n[k]++; if (b > mb) mb = b }
    END { printf "%8s", ""; for (k in n) if (n[k] >= 10) printf " %14s", substr(k, 1, 14); print ""
          for (i = 0; i <= mb; i++) { printf "%5d ms:", i * 25
              for (k in n) if (n[k] >= 10) printf " %14d", c[i "," k] + 0; print "" } }'
