#!/bin/sh
# Guest (a developer's probe, not a test): where the guest's CPU goes while lvsd -C programs
# the N x M bench configuration. Two unprofiled runs (time to table, the guest's TLB,
# function-call, rescheduling and timer interrupts around each), then one under
# `perf record -a -g` (cpu-clock, 2 kHz, monotonic timestamps) whose reports cover only
# the window from the daemon's start to the complete table. Everything lands in
# /mnt/kprof: the reports, perf.data, the guest's kallsyms and modules (for perf report on
# the host: scripts/vm/kprof.sh). Args: N M BIN [VAR=VALUE for the daemon's environment].
N=${1:-1000}; M=${2:-20}; BIN=${3:-lvsd}
[ -n "${4:-}" ] && export "$4"
OUT=/mnt/kprof; mkdir -p $OUT; rm -f $OUT/*
irq() { awk '/TLB:|CAL:|RES:|LOC:/ {s=0; for (i=2;i<=NF;i++) if ($i ~ /^[0-9]+$/) s+=$i; printf "%s%d ", $1, s}' /proc/interrupts; }
. /tests/benchlib.sh
C=/tmp/bench.conf
bench_conf $C $N $M
want=$((N * M + N)); LAST=$(bench_last $N)
modprobe ip_vs_wlc
echo 0 > /proc/sys/kernel/kptr_restrict
echo -1 > /proc/sys/kernel/perf_event_paranoid
daemon() {  # daemon NS: the command line time-to-table starts
    echo "$BIN -C -n -l -f $C -p /tmp/$1.pid -c /tmp/$1-c.pid"
}
for r in 1 2; do
    ns=k$r
    /usr/sbin/ip netns add $ns && /usr/sbin/ip -n $ns link set lo up
    echo "irq before: $(irq)" >> $OUT/run-$r.txt
    # shellcheck disable=SC2046
    /usr/sbin/ip netns exec $ns lvsd-ipvs time-to-table "$LAST" "$M" "$want" /tmp/$ns.log -- $(daemon $ns) >> $OUT/run-$r.txt
    echo "irq after: $(irq)" >> $OUT/run-$r.txt
    /usr/sbin/ip netns del $ns; sleep 4; quiet >> $OUT/run-$r.txt
done
ns=kp
/usr/sbin/ip netns add $ns && /usr/sbin/ip -n $ns link set lo up
# shellcheck disable=SC2046
perf record -k CLOCK_MONOTONIC -a -g -F 2000 -o /tmp/perf.data -- /usr/sbin/ip netns exec $ns \
    lvsd-ipvs time-to-table "$LAST" "$M" "$want" /tmp/$ns.log -- $(daemon $ns) > $OUT/run-perf.txt 2>&1
T=$(sed -n 's/.*monotonic start=\([0-9.]*\) complete=\([0-9.]*\).*/\1,\2/p' $OUT/run-perf.txt)
echo "$T" > $OUT/window.txt
R="perf report -i /tmp/perf.data --stdio --time $T"
$R --no-children --sort comm,dso -g none 2>/dev/null | grep -E '^ +[0-9]' > $OUT/comm-dso.txt
$R --no-children --sort comm,dso,sym -g none 2>/dev/null | grep -E '^ +[0-9]' | head -150 > $OUT/flat.txt
$R --children --sort sym -g none 2>/dev/null | grep -E '^ +[0-9]' | head -200 > $OUT/children.txt
cp /tmp/perf.data $OUT/perf.data; cat /proc/kallsyms > $OUT/kallsyms; cp /proc/modules $OUT/modules
exit 0
