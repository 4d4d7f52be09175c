#!/bin/bash
# scripts/vm/bench-lifecycle.sh [N] [M] - the whole lifecycle of two daemons on one
# keepalived.conf of N virtual servers x M real servers (default 1000 x 20), each real server
# with a TCP_CHECK that succeeds, in ONE qemu guest (tests/vm/lifecycle.sh): config test
# (-t), cold start (process start until the kernel table is complete), reloads (no-op, 10
# weights, +-100 real servers, +-10 virtual servers; from SIGHUP until the daemon logs the
# reload done and the table is as the file says), a broken file (until the daemon logs the
# refusal and the table is unchanged), RSS of the daemon's processes after the start and
# after the reloads, teardown (SIGTERM until the table is empty and the process gone).
# ROUNDS rounds (default 3, after a warm-up), alternating which daemon goes first, each run
# in a network namespace of its own. Prints each phase's median per daemon, the median of
# the rounds' ratios (second daemon / first) and the rounds' spread around each median.
#   DAEMONS=keepalived+lvsd (default) or lvsd-old+lvsd with LVSD_OLD=path/to/lvsd (an older
#   static build, put in the guest as lvsd-old); DELAY=300 (delay_loop); PHASES=all|paired|
#   start (paired: the no-op and +-100 real server reloads only); CHECKS=tcp|none (none: no
#   checker, as scripts/vm/bench-programming.sh; Debian's keepalived 2.2.7 needs 7.5 min
#   for a no-op reload of 1,000 x 20 with a TCP_CHECK each in the guest); LVSD_FLAGS: extra
#   flags for lvsd (not lvsd-old), without spaces (e.g. --ipvs-heal-interval=0).
#   LVSD_NEW=path/to/lvsd: run that build as lvsd instead of HEAD's (with LVSD_OLD: two
#   builds of given commits against each other); LVSD_IPVS=path/to/lvsd-ipvs: the guest's
#   helper (listener, waits, RSS) instead of HEAD's. With both set nothing is built.
#   KEEPALIVED=path/to/keepalived: put that build in the guest as keepalived (with the
#   shared libraries it links) instead of Debian's 2.2.7, e.g. an upstream build.
#   NICE=-5: the qemu process's niceness (run.sh), so that compiles on the host stretch the
#   guest less.
# lvsd is the static build (scripts/build-static.sh). The host's load average is printed
# before and after: the guest's figures depend on it.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
N=${1:-1000} M=${2:-20}
DAEMONS=${DAEMONS:-keepalived+lvsd}
cd "$ROOT"
if [ -n "${LVSD_NEW:-}" ] && [ -n "${LVSD_IPVS:-}" ]; then
    BIN=
else
    BIN=$(bash "$HERE/../build-static.sh")
fi
LVSD=${LVSD_NEW:-$BIN/lvsd} LVSD_IPVS=${LVSD_IPVS:-$BIN/lvsd-ipvs}
[ -x "$LVSD" ] && [ -x "$LVSD_IPVS" ] || { echo "no lvsd at $LVSD or no lvsd-ipvs at $LVSD_IPVS" >&2; exit 1; }
STAGE=$(mktemp -d); trap 'rm -rf "$STAGE"' EXIT
# the guest finds the binaries by their names
cp "$LVSD" "$STAGE/lvsd"; cp "$LVSD_IPVS" "$STAGE/lvsd-ipvs"
BINS="$STAGE/lvsd $STAGE/lvsd-ipvs"
if [[ $DAEMONS == *lvsd-old* ]]; then
    [ -x "${LVSD_OLD:-}" ] || { echo "DAEMONS=$DAEMONS needs LVSD_OLD=path/to/lvsd" >&2; exit 1; }
    cp "$LVSD_OLD" "$STAGE/lvsd-old"
    BINS="$BINS $STAGE/lvsd-old"
fi
TAG=${TAG:-$N-$M-${DAEMONS//+/-}${KEEPALIVED:+-other-keepalived}}
RES=$ROOT/target/vm-results/lifecycle-$TAG
rm -rf "$RES"; mkdir -p "$RES"
KA=${KEEPALIVED:-/usr/sbin/keepalived}
{
    echo "lvsd: $LVSD ($(cksum < "$LVSD" | cut -d' ' -f1))"
    [ -n "${LVSD_OLD:-}" ] && echo "lvsd-old: $LVSD_OLD ($(cksum < "$LVSD_OLD" | cut -d' ' -f1))"
    echo "keepalived: $KA ($("$KA" -v 2>&1 | head -1))"
} | tee "$RES/binaries.txt"
echo "host load before: $(cat /proc/loadavg)" | tee "$RES/load.txt"
VM_KEEPALIVED=$KA LVSD_BINS="$BINS" VM_MEM=${VM_MEM:-3072} VM_TIMEOUT=${VM_TIMEOUT:-7200} \
    bash "$HERE/run.sh" lifecycle.sh "$RES" "$N" "$M" "${ROUNDS:-3}" "$DAEMONS" "${DELAY:-300}" "${PHASES:-all}" "${CHECKS:-tcp}" "${LVSD_FLAGS:--}" \
    >"$RES/run.log" 2>&1 || { echo "lifecycle VM failed; see $RES/run.log" >&2; tail -20 "$RES/run.log" >&2; exit 1; }
echo "host load after: $(cat /proc/loadavg)" | tee -a "$RES/load.txt"
python3 - "$RES/lifecycle.txt" <<'PY'
import re, statistics, sys
lines = open(sys.argv[1]).read().splitlines()
print(lines[0])
for l in lines:
    if " failed=" in l or re.search(r" left entries=[1-9]", l):
        print("PROBLEM", l)
order = re.search(r"daemons=(\S+)", lines[0])[1].split("+")
runs = {}  # runs[phase][daemon][round] = figure
for l in lines:
    m = re.match(r"LC round=(\d+) (\S+) (\S+) (?:ms=([0-9.]+)|rss_kb=(\d+))", l)
    if not m or m[1] == "0":
        continue
    d = m[2]
    v = float(m[4]) if m[4] else int(m[5]) / 1024
    runs.setdefault(m[3], {}).setdefault(d, {})[int(m[1])] = v
if len(order) != 2:
    sys.exit(f"expected two daemons, have {order}")
a, b = order
print(f"{'phase':<13} {a+' median':>18} {b+' median':>18} {b+'/'+a:>14}  rounds  spread(max |x/median-1|) {a} / {b}")
for phase, per in runs.items():
    ra, rb = per.get(a, {}), per.get(b, {})
    both = sorted(set(ra) & set(rb))
    if not both:
        continue
    unit = "MB" if phase.startswith("rss") else "ms"
    ma, mb = statistics.median(ra.values()), statistics.median(rb.values())
    ratios = [rb[r] / ra[r] for r in both if ra[r] > 0]
    spread = lambda xs, med: max(abs(x / med - 1) for x in xs) * 100 if med else 0
    print(f"{phase:<13} {ma:>15.1f} {unit} {mb:>15.1f} {unit} {statistics.median(ratios):>14.3f}  {len(both):>6}  "
          f"{spread(ra.values(), ma):.0f} % / {spread(rb.values(), mb):.0f} %")
PY
