#!/bin/bash
# scripts/vm/bench-checks.sh - checks under load, keepalived -C against lvsd -C in ONE qemu
# guest (tests/vm/checks-load.sh): N virtual servers x M real servers (default 50 x 20 =
# 1,000 checkers), each real server with a TCP_CHECK, then with an HTTP_GET (status and
# MD5 digest), every DELAY s (default 10), answered by a counting server in the run's own
# network namespace. Per daemon and kind: CPU (user + system of the daemon's processes,
# /proc) per check done (connections the server accepted), idle and with BUSY busy loops
# (default two per vCPU) saturating the guest; under saturation also the real servers taken
# out of IPVS at least once (`ipvsadm -S -n` polled about each second), the fewest left in
# the table at once, the "Removing service" and "timeout" lines logged, and the SYNs the
# server's full backlog dropped (listen_drops; it runs at nice -10, above the daemons).
# Prints the medians over ROUNDS rounds (alternating the daemons' order) and each lvsd's
# CPU per check over keepalived's.
#   VM_CPUS=2 (default here), WINDOW=60 (seconds per phase), ROUNDS=1, KINDS=tcp+http,
#   TO=3 (connect_timeout), BUSY=0 (two loops per vCPU), DELAY=10.
#   DAEMONS=keepalived+lvsd (default), or with LVSD_OLD=path/to/lvsd (an older static build,
#   put in the guest as lvsd-old) e.g. keepalived+lvsd-old+lvsd.
# lvsd is the static build (scripts/build-static.sh). The host's load average is printed
# before and after: the guest's figures depend on it (a TCG guest runs on host cores).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
N=${N:-50} M=${M:-20}
cd "$ROOT"
BIN=$(bash "$HERE/../build-static.sh")
BINS="$BIN/lvsd $BIN/lvsd-ipvs"
DAEMONS=${DAEMONS:-keepalived+lvsd}
if [[ $DAEMONS == *lvsd-old* ]]; then
    [ -x "${LVSD_OLD:-}" ] || { echo "DAEMONS=$DAEMONS needs LVSD_OLD=path/to/lvsd" >&2; exit 1; }
    OLD=$(mktemp -d); trap 'rm -rf "$OLD"' EXIT
    cp "$LVSD_OLD" "$OLD/lvsd-old"
    BINS="$BINS $OLD/lvsd-old"
fi
NDAEMONS=$(($(tr -cd + <<< "$DAEMONS" | wc -c) + 1))
TAG=${TAG:-$N-$M-${KINDS:-tcp+http}}
RES=$ROOT/target/vm-results/checks-$TAG
rm -rf "$RES"; mkdir -p "$RES"
echo "host load before: $(cat /proc/loadavg)" | tee "$RES/load.txt"
ROUNDS=${ROUNDS:-1} WINDOW=${WINDOW:-60} DELAY=${DELAY:-10}
KINDS=${KINDS:-tcp+http}
# per run: start, settle (2 x DELAY + 10 s), two windows, teardown
PER_RUN=$((3 * WINDOW + 2 * DELAY + 60))
LIMIT=$((ROUNDS * 2 * NDAEMONS * PER_RUN + 300))
LVSD_BINS="$BINS" VM_CPUS=${VM_CPUS:-2} VM_MEM=${VM_MEM:-2048} \
    VM_TIMEOUT=${VM_TIMEOUT:-$LIMIT} \
    bash "$HERE/run.sh" checks-load.sh "$RES" "$N" "$M" "$DELAY" "$WINDOW" "$KINDS" "$ROUNDS" \
    "${BUSY:-0}" "${TO:-3}" "$DAEMONS" \
    >"$RES/run.log" 2>&1 || { echo "checks VM failed; see $RES/run.log" >&2; tail -20 "$RES/run.log" >&2; exit 1; }
echo "host load after: $(cat /proc/loadavg)" | tee -a "$RES/load.txt"
python3 - "$RES/checks-load.txt" <<'PY'
import re, statistics, sys
lines = open(sys.argv[1]).read().splitlines()
print(lines[0])
for l in lines:
    if "failed" in l:
        print("PROBLEM", l)
runs = {}  # runs[(kind, phase)][daemon] = [dict of figures per round]
for l in lines:
    m = re.match(r"CL round=(\d+) (\S+) (\S+) (idle|busy) (.*)", l)
    if m:
        figs = {k: float(v) for k, v in re.findall(r"(\w+)=([0-9.]+)", m[5])}
        if figs.get("checks"):
            figs["us_per_check"] = 1000 * figs["cpu_ms"] / figs["checks"]
        runs.setdefault((m[2], m[4]), {}).setdefault(m[3], []).append(figs)
med = lambda xs: statistics.median(xs) if xs else float("nan")
cols = ["us_per_check", "checks", "secs", "out", "min_in", "removed", "timeouts", "listen_drops"]
print(f"{'kind':<5} {'phase':<5} {'daemon':<11} {'us/check':>9} {'checks':>8} {'secs':>5} {'out':>5} {'min_in':>7} {'removed':>8} {'timeouts':>9} {'drops':>6}")
for (kind, phase), per in runs.items():
    for d, rs in per.items():
        row = {c: med([r[c] for r in rs if c in r]) for c in cols}
        cell = lambda c, w: f"{row[c]:>{w}.0f}" if row[c] == row[c] else f"{'':>{w}}"
        print(f"{kind:<5} {phase:<5} {d:<11} {cell('us_per_check', 9)} {cell('checks', 8)} {cell('secs', 5)} "
              f"{cell('out', 5)} {cell('min_in', 7)} {cell('removed', 8)} {cell('timeouts', 9)} {cell('listen_drops', 6)}")
    k = med([r["us_per_check"] for r in per.get("keepalived", []) if "us_per_check" in r])
    for d, rs in per.items():
        v = med([r["us_per_check"] for r in rs if "us_per_check" in r])
        if d != "keepalived" and k > 0:
            print(f"{kind:<5} {phase:<5} {d + '/kad':<11} {v / k:>9.2f}")
PY
