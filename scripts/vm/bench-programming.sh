#!/bin/bash
# scripts/vm/bench-programming.sh [N] [M] [SETTLE] [netns|fresh|all|daemons|client|client-ack-each]
# - time to program N virtual servers x M real servers in the qemu guest: keepalived -C and
# lvsd -C (and the raw client with all/client). `netns`: one guest, ROUNDS=N rounds (default
# 5) alternating which daemon goes first, each run in a network namespace of its own (its own
# IPVS table, never used before), then each daemon's median and the median of the rounds'
# ratios; `fresh` boots a guest per daemon and round instead; all/daemons run in one guest,
# SETTLE seconds after each flush (default 130).  LVSD_FLAGS=-D adds lvsd's debug lines to
# its log (target/vm-results/).  lvsd is the static build (scripts/build-static.sh).
# Prints figures.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
N=${1:-1000} M=${2:-20} SETTLE=${3:-130} WHAT=${4:-all}
cd "$ROOT"
BIN=$(bash "$HERE/../build-static.sh")
run_guest() {  # run_guest TAG WHAT SETTLE
    local res=$ROOT/target/vm-results/bench-$1
    rm -rf "$res"; mkdir -p "$res"
    LVSD_BINS="$BIN/lvsd $BIN/lvsd-ipvs" VM_MEM=${VM_MEM:-2048} \
        VM_TIMEOUT=${VM_TIMEOUT:-1800} bash "$HERE/run.sh" bench.sh "$res" "$N" "$M" "$3" "$2" ${LVSD_FLAGS:-} \
        >"$res/run.log" 2>&1 || {
        echo "bench VM failed; see $res/run.log" >&2; tail -20 "$res/run.log" >&2; exit 1; }
    cat "$res/bench.txt"
}
if [ "$WHAT" = netns ]; then
    run_guest netns netns "${ROUNDS:-5}" | tee "$ROOT/target/vm-results/bench-netns.txt" | grep -E "^BENCH-NETNS|^BENCH [a-z]+ round"
    python3 - "$ROOT/target/vm-results/bench-netns.txt" <<'PY'
import re, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    m = re.match(r"BENCH-NETNS round=(\d+) (\w+) entries=\d+ ms=([0-9.]+)", line)
    if m:
        runs.setdefault(int(m[1]), {})[m[2]] = float(m[3])
rounds = [r for r in runs.values() if "keepalived" in r and "lvsd" in r]
if not rounds:
    sys.exit("no complete round")
ka = [r["keepalived"] for r in rounds]
lv = [r["lvsd"] for r in rounds]
ratios = sorted(r["keepalived"] / r["lvsd"] for r in rounds)
print(f"BENCH-SUMMARY rounds={len(rounds)} keepalived_median_ms={statistics.median(ka):.0f} "
      f"lvsd_median_ms={statistics.median(lv):.1f} ratio_median={statistics.median(ratios):.2f} "
      f"ratio_min={ratios[0]:.2f} ratio_max={ratios[-1]:.2f}")
PY
elif [ "$WHAT" = fresh ]; then
    # each daemon in a guest of its own, ROUNDS times, alternating which goes first
    for r in $(seq 1 "${ROUNDS:-1}"); do
        if [ $((r % 2)) = 1 ]; then order="keepalived lvsd"; else order="lvsd keepalived"; fi
        for w in $order; do run_guest "$w-$r" "$w" 0 | grep -E "^BENCH(-PARSE)? $w"; done
    done
else
    run_guest all "$WHAT" "$SETTLE"
fi
