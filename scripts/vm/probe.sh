#!/bin/bash
# scripts/vm/probe.sh K BIN... - a developer's probe (not a test): lvsd binaries side by side
# in one qemu guest on the 1000 x 20 bench configuration, K rounds each (tests/vm/probe.sh),
# then each binary's median time to a complete table. Binaries are put in the guest under
# their own file names; build them with scripts/build-static.sh and copy each under a name
# of its own first (e.g. lvsd-old, lvsd-new).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
K=$1; shift
BIN=$(bash "$HERE/../build-static.sh")
res=$ROOT/target/vm-results/probe
rm -rf "$res"; mkdir -p "$res"
# BIN+tun: BIN run with malloc tunables (see tests/vm/probe.sh)
names=(); bins=(); for b in "$@"; do names+=("$(basename "$b")"); [[ $b == *+tun ]] || bins+=("$b"); done
LVSD_BINS="${bins[*]} $BIN/lvsd-ipvs" VM_CPUS=${VM_CPUS:-2} VM_MEM=${VM_MEM:-2048} VM_TIMEOUT=${VM_TIMEOUT:-1800} \
    bash "$HERE/run.sh" probe.sh "$res" "${N:-1000}" "${M:-20}" "$K" "${names[@]}" >"$res/run.log" 2>&1 || {
    echo "probe VM failed; see $res/run.log" >&2; tail -20 "$res/run.log" >&2; exit 1; }
python3 - "$res/probe.txt" <<'PY'
import re, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    m = re.match(r"PROBE (\S+) round=(\d+) ms=([0-9.]+)$", line.strip())
    if m and m[2] != "0":  # round 0: the warm-up
        runs.setdefault(m[1], []).append(float(m[3]))
for b, ms in runs.items():
    print(f"PROBE-SUMMARY {b} rounds={len(ms)} median_ms={statistics.median(ms):.1f} "
          f"min_ms={min(ms):.1f} max_ms={max(ms):.1f} all={' '.join(f'{v:.0f}' for v in ms)}")
PY
