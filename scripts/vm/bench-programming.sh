#!/bin/bash
# scripts/vm/bench-programming.sh [N] [M] [SETTLE] [all|daemons] - time to program N virtual
# servers x M real servers in the qemu guest: the raw client (64 messages per send, and 1
# per send as keepalived does; skipped with `daemons`), keepalived -C and lvsd -C, each on a
# clean kernel (SETTLE seconds after the previous flush, default 130).  Prints figures.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
N=${1:-1000} M=${2:-20} SETTLE=${3:-130} WHAT=${4:-all}
cd "$ROOT"
cargo build --release --bin lvsd --bin lvsd-ipvs >&2
RES=$ROOT/target/vm-results/bench
rm -rf "$RES"; mkdir -p "$RES"
LVSD_BINS="$ROOT/target/release/lvsd $ROOT/target/release/lvsd-ipvs" VM_MEM=${VM_MEM:-2048} \
    VM_TIMEOUT=${VM_TIMEOUT:-1800} bash "$HERE/run.sh" bench.sh "$RES" "$N" "$M" "$SETTLE" "$WHAT" >"$RES/run.log" 2>&1 || {
    echo "bench VM failed; see $RES/run.log" >&2; tail -20 "$RES/run.log" >&2; exit 1; }
cat "$RES/bench.txt"
