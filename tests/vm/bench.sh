#!/bin/sh
# Guest: time to program N virtual servers x M real servers: the raw client (batched and
# one message per ack), keepalived -C, and lvsd -C when it can.  Figures on stdout and in
# /mnt/bench.txt.
N=${1:-1000}; M=${2:-20}
# deleted dests sit in the kernel's trash list for ~2 min and slow later adds down: wait
# that long after each flush so every measurement starts from a clean kernel
SETTLE=${3:-130}
# WHAT: netns (each daemon ROUNDS times in this one guest, each time in a network namespace
# of its own, so on an IPVS table of its own; SETTLE is then ROUNDS), all (default),
# daemons (keepalived and lvsd only, not the raw client), client or
# client-ack-each (the raw client only, acks for each batch's last request or for every
# one), or one of
# keepalived / lvsd alone (a fresh guest for each: no trash of deleted dests from the
# previous measurement, which makes later adds slower)
WHAT=${4:-all}
# extra lvsd flags, e.g. -D for its per-phase debug lines (in /mnt/lvsd.log)
LVSD_EXTRA=${5:-}
clean() { ipvsadm -C; sleep $SETTLE; }
OUT=/mnt/bench.txt; : > $OUT
ms() { awk '{printf "%d\n", $1*1000}' /proc/uptime; }
say() { echo "$*"; echo "$*" >> $OUT; }
say "BENCH-CONFIG services=$N dests_per_service=$M entries=$((N*M))"
if [ "$WHAT" = all ]; then
    for b in 256 1; do
        lvsd-ipvs bench $N $M $b | tee -a $OUT
        clean
    done
fi
if [ "$WHAT" = client ] || [ "$WHAT" = client-ack-each ]; then
    # the raw client only (one run per guest: a second run on the same kernel would meet
    # the first one's deleted destinations), each batch's last request acked or every one
    lvsd-ipvs bench $N $M 256 $( [ "$WHAT" = client ] || echo ack-each) | tee -a $OUT
    exit 0
fi
# the same table as keepalived.conf, no checkers (all real servers up)
. /tests/benchlib.sh
C=/tmp/bench.conf
bench_conf $C $N $M
want=$((N * M + N))
# `lvsd-ipvs time-to-table` starts the daemon, asks the kernel for the configuration's last
# service (bench_last) every 5 ms on a netlink socket it opened beforehand, then confirms with
# a count of the whole table, and stops the daemon. (Until session 4 this was a shell loop:
# `ipvsadm -Ln -t LAST` and `sleep 0.05` per round, two processes that cost ~100 ms a round
# under TCG and added about that much to either daemon's figure.)
LAST=$(bench_last $N)
full() { grep -c -E '^(TCP|UDP|  ->)' /proc/net/ip_vs; }
timed() {  # timed NAME CMD... : start the daemon, time it until the kernel has every entry
    name=$1; shift
    r=$(lvsd-ipvs time-to-table "$LAST" "$M" "$want" /tmp/$name.log -- "$@")
    echo "$r" | grep '^BENCH-NOTE' | sed "s/^BENCH-NOTE/BENCH $name:/" | while read -r l; do say "$l"; done
    ms=$(echo "$r" | sed -n 's/^ms=\([0-9.]*\) .*/\1/p')
    if [ -n "$ms" ]; then
        say "BENCH $name entries=$want ms=$ms per_s=$(echo "$r" | sed -n 's/.* per_s=\([0-9]*\).*/\1/p')"
    else
        say "BENCH $name failed (have $(full) of $want)"; tail -3 /tmp/$name.log
    fi
    cp /tmp/$name.log /mnt/$name.log 2>/dev/null
    clean
}
# netns: rounds alternating which daemon goes first, each run in a new network namespace
# (IPVS keeps a table, and a trash of deleted destinations, per namespace: every run starts
# on an empty, never used one). After each run the daemon is stopped and its namespace
# deleted, then the next run waits until the table is freed and the guest quiet (`quiet`): IPVS estimates
# the rates of every service and destination of every namespace every 2 s, and a table
# being freed or left behind would load the next run. The wlc scheduler module is loaded
# first: the first daemon to add a wlc service would otherwise pay for loading it (~30 ms).
# Round 0 is a warm-up, one run of each daemon, reported but not counted: the guest's
# first runs are the slowest, for either daemon (qemu translates the code each one runs for
# the first time, and the kernel grows its per-CPU and slab caches for the first tables).
if [ "$WHAT" = netns ]; then
    modprobe ip_vs_wlc
    for r in $(seq 0 "$SETTLE"); do
        if [ $((r % 2)) = 1 ]; then order="keepalived lvsd"; else order="lvsd keepalived"; fi
        for w in $order; do
            say "BENCH $w round $r: $(quiet)"
            ns=bench-$w-$r
            /usr/sbin/ip netns add $ns && /usr/sbin/ip -n $ns link set lo up
            if [ $w = keepalived ]; then
                set -- keepalived -C -n -l -G -f $C -p /tmp/ka-$r.pid -c /tmp/chk-$r.pid
            else
                set -- lvsd -C -n -l $LVSD_EXTRA -f $C -p /tmp/lvsd-$r.pid -c /tmp/lvsd-chk-$r.pid
            fi
            res=$(/usr/sbin/ip netns exec $ns lvsd-ipvs time-to-table "$LAST" "$M" "$want" /tmp/$ns.log -- "$@")
            echo "$res" | grep '^BENCH-NOTE' | sed "s/^BENCH-NOTE/BENCH $w round $r:/" | while read -r l; do say "$l"; done
            ms=$(echo "$res" | sed -n 's/^ms=\([0-9.]*\) .*/\1/p')
            if [ "$r" = 0 ]; then
                say "BENCH-NETNS-WARMUP $w entries=$want ms=${ms:-failed}"
            else
                say "BENCH-NETNS round=$r $w entries=$want ms=${ms:-failed}"
            fi
            cp /tmp/$ns.log /mnt/$ns.log 2>/dev/null
            /usr/sbin/ip netns del $ns
            sleep 4
        done
    done
    exit 0
fi
# each daemon's config test (-t) alone: how much of its time is reading the config
parse_only() {  # parse_only NAME CMD...
    name=$1; shift
    t0=$(ms); "$@" > /dev/null 2>&1; rc=$?; t1=$(ms)
    say "BENCH-PARSE $name ms=$((t1 - t0)) rc=$rc"
}
if [ "$WHAT" != lvsd ]; then
    parse_only keepalived keepalived -t -f $C
    timed keepalived keepalived -C -n -l -G -f $C -p /tmp/ka.pid -c /tmp/chk.pid
fi
if [ "$WHAT" != keepalived ] && [ -x /usr/local/bin/lvsd ]; then
    parse_only lvsd-start lvsd -v
    parse_only lvsd lvsd -t -f $C
    lvsd -t -D -f $C 2>&1 | sed 's/^/BENCH-PARSE lvsd phases: /' | tee -a $OUT
    timed lvsd lvsd -C -n -l $LVSD_EXTRA -f $C -p /tmp/lvsd.pid
fi
exit 0
