#!/bin/sh
# Guest: time to program N virtual servers x M real servers: the raw client (batched and
# one message per ack), keepalived -C, and lvsd -C when it can.  Figures on stdout and in
# /mnt/bench.txt.
N=${1:-1000}; M=${2:-20}
# deleted dests sit in the kernel's trash list for ~2 min and slow later adds down: wait
# that long after each flush so every measurement starts from a clean kernel
SETTLE=${3:-130}
# WHAT: all (default), daemons (keepalived and lvsd only, not the raw client), or one of
# keepalived / lvsd alone (a fresh guest for each: no trash of deleted dests from the
# previous measurement, which makes later adds slower)
WHAT=${4:-all}
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
# the same table as keepalived.conf, no checkers (all real servers up)
C=/tmp/bench.conf
awk -v n=$N -v m=$M 'BEGIN {
    for (i = 0; i < n; i++) {
        printf "virtual_server 10.%d.%d.%d 80 {\n lb_algo wlc\n lb_kind NAT\n protocol TCP\n", 100 + int(i/65536), int(i/256)%256, i%256
        for (j = 0; j < m; j++) printf " real_server 192.168.%d.%d 8080 { weight 1 }\n", int(j/250), 1 + j%250
        printf "}\n"
    } }' > $C
want=$((N * M + N))
timed() {  # timed NAME CMD... : start the daemon, wait until /proc/net/ip_vs has every entry
    name=$1; shift
    t0=$(ms)
    "$@" > /tmp/$name.log 2>&1 &
    pid=$!
    while :; do
        have=$(grep -c -E '^(TCP|UDP|  ->)' /proc/net/ip_vs)
        [ "$have" -ge "$want" ] && break
        if ! kill -0 $pid 2>/dev/null; then say "BENCH $name exited early (have $have of $want)"; tail -3 /tmp/$name.log; return 1; fi
        [ $(( $(ms) - t0 )) -gt 600000 ] && { say "BENCH $name timeout (have $have)"; break; }
        sleep 0.05
    done
    t1=$(ms)
    say "BENCH $name entries=$want ms=$((t1 - t0)) per_s=$(( want * 1000 / (t1 - t0 + 1) ))"
    kill -TERM $pid; i=0
    while kill -0 $pid 2>/dev/null && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done
    clean
}
if [ "$WHAT" != lvsd ]; then
    timed keepalived keepalived -C -n -l -G -f $C -p /tmp/ka.pid -c /tmp/chk.pid
fi
if [ "$WHAT" != keepalived ] && [ -x /usr/local/bin/lvsd ]; then
    timed lvsd lvsd -C -n -l -f $C -p /tmp/lvsd.pid
fi
exit 0
