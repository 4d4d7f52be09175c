#!/bin/bash
# scripts/vm/bench-programming.sh [N] [M] [SETTLE] [all|daemons|client|client-ack-each|fresh] - time to program N
# virtual servers x M real servers in the qemu guest: the raw client (256 and 1 messages per
# send; skipped with `daemons` and `fresh`), keepalived -C and lvsd -C. all/daemons run in
# one guest, SETTLE seconds after each flush (default 130); `fresh` boots a guest per daemon
# (ROUNDS=N times, alternating which goes first), so each starts on a kernel that never
# had the table.  LVSD_FLAGS=-D adds lvsd's debug lines to its log (target/vm-results/).
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
if [ "$WHAT" = fresh ]; then
    # each daemon in a guest of its own, ROUNDS times, alternating which goes first
    for r in $(seq 1 "${ROUNDS:-1}"); do
        if [ $((r % 2)) = 1 ]; then order="keepalived lvsd"; else order="lvsd keepalived"; fi
        for w in $order; do run_guest "$w-$r" "$w" 0 | grep -E "^BENCH(-PARSE)? $w"; done
    done
else
    run_guest all "$WHAT" "$SETTLE"
fi
