#!/bin/sh
# Guest (a developer's probe, not a test): lvsd -C on the bench configuration (N virtual
# servers x M real servers), K rounds, for each lvsd binary named (in /usr/local/bin), the
# binaries' order alternating from round to round, each run in a fresh network namespace
# on a quiet guest, after one warm-up run of each: time to a complete table, where the CPU
# went (the machine, lvsd's threads) and lvsd's -D timeline; and each binary's `-t -D`
# phases. Figures in /mnt/probe.txt; scripts/vm/probe.sh runs it.
N=${1:-1000}; M=${2:-20}; K=${3:-5}; shift 3
BINS=$*
OUT=/mnt/probe.txt; : > $OUT
say() { echo "$*"; echo "$*" >> $OUT; }
. /tests/benchlib.sh
C=/tmp/bench.conf
bench_conf $C $N $M
want=$((N * M + N)); LAST=$(bench_last $N)
modprobe ip_vs_wlc
# A name BIN+tun runs BIN with glibc malloc tunables that keep freed memory and grow the
# heap in large steps.
TUN=glibc.malloc.mmap_threshold=4194304:glibc.malloc.top_pad=8388608:glibc.malloc.trim_threshold=67108864
run() {  # run NAME ROUND
    b=$1 r=$2 ns=p-$1-$2
    bin=${b%+tun}; envs=""
    [ "$bin" != "$b" ] && envs="GLIBC_TUNABLES=$TUN"
    say "PROBE $b round=$r: $(quiet)"
    /usr/sbin/ip netns add $ns && /usr/sbin/ip -n $ns link set lo up
    res=$(env $envs /usr/sbin/ip netns exec $ns lvsd-ipvs time-to-table "$LAST" "$M" "$want" /tmp/$ns.log -- $bin -C -n -l -D -f $C -p /tmp/$ns.pid -c /tmp/$ns-c.pid)
    ms=$(echo "$res" | sed -n 's/^ms=\([0-9.]*\) .*/\1/p')
    say "PROBE $b round=$r ms=${ms:-failed}"
    echo "$res" | grep '^BENCH-NOTE' | sed "s/^BENCH-NOTE/PROBE $b round=$r:/" | while read -r l; do say "$l"; done
    grep -E "Configuration read|full pass|early|state built" /tmp/$ns.log | sed 's/^[^ ]* *DEBUG //' | while read -r l; do say "PROBE $b round=$r: $l"; done
    /usr/sbin/ip netns del $ns; sleep 4
}
for r in $(seq 0 $K); do
    if [ $((r % 2)) = 1 ]; then order=$BINS; else order=$(echo $BINS | tr ' ' '\n' | sed -n '1!G;h;$p'); fi
    for b in $order; do
        run $b $r
        bin=${b%+tun}
        env $([ "$bin" != "$b" ] && echo "GLIBC_TUNABLES=$TUN") $bin -t -D -f $C 2>&1 | grep CPU | sed "s/^/PROBE $b round=$r: -t /" | while read -r l; do say "$l"; done
    done
done
exit 0
