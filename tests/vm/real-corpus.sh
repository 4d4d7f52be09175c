#!/bin/sh
# Guest: operators' keepalived.conf files staged by the host in /mnt/real/in (LIST names
# each one's path there, one a line; include trees keep their layout). For each, keepalived
# -C and lvsd -C on the same (host-edited) copy, each in a netns of its own holding only lo
# and a dummy `lvsdbh` that holds the default routes: the real servers are unreachable, and
# a check's connect (or probe) hangs until its timeout instead of failing at once.
#  phase start:     each file in turn, once both tables are programmed and read alike twice;
#  then the default routes go (checks now fail at once: ENETUNREACH);
#  phase converged: at least $1 s (default 20) later, once all tables read alike twice.
# Writes /mnt/real/out/NAME.{keepalived,lvsd}.{start,converged}.txt (`ipvsadm -S -n`,
# sorted; lvsd's says LVSD-UNAVAILABLE when lvsd died) and NAME.{keepalived,lvsd}.log.
IP=/usr/sbin/ip
CONV=${1:-20}
IN=/tmp/in; OUT=/mnt/real/out; W=/tmp/r
mkdir -p $OUT $W; cp -a /mnt/real/in $IN
now() { cut -d' ' -f1 /proc/uptime; }
# (busybox nsenter and ip applet: far cheaper under TCG than `ip netns exec` + iproute2)
in_ns() { ns=$1; shift; nsenter --net=/run/netns/$ns "$@"; }
ns_prep() {
    $IP netns add $1
    in_ns $1 sh -c 'ip link set lo up; ip link add lvsdbh type dummy; ip link set lvsdbh up
        ip addr add 198.18.0.1/24 dev lvsdbh; ip addr add fd00:18::1/64 dev lvsdbh
        ip route add default dev lvsdbh; ip -6 route add default dev lvsdbh'
}
table() { in_ns $1 ipvsadm -S -n | sort; }
save() {  # save I NAME PHASE
    table ka$1 > $OUT/$2.keepalived.$3.txt
    if kill -0 $(cat $W/lv$1.daemon) 2>/dev/null; then
        table lv$1 > $OUT/$2.lvsd.$3.txt
    else
        echo "LVSD-UNAVAILABLE: lvsd -C exited: $(head -3 $W/$2.lvsd.log)" > $OUT/$2.lvsd.$3.txt
    fi
}
# settle I: both tables programmed and two reads in a row alike (at most ~20 reads)
settle() {
    last=; k=0
    while [ $k -lt 20 ]; do
        a=$(table ka$1); b=$(table lv$1); cur="$a
==
$b"
        [ "$cur" = "$last" ] && echo "$a" | grep -q '^-A' && echo "$b" | grep -q '^-A' && return 0
        last=$cur; k=$((k+1)); sleep 0.2
    done
    return 1
}
# Each file in turn: both daemons start, phase start is read as soon as both settled (well
# within the first check's timeout), then the next file.
NAMES=; i=0; t0=$(now)
while read -r f; do
    [ -n "$f" ] || continue
    i=$((i+1)); n=$(echo "$f" | cut -d/ -f1 | sed 's/\.conf$//')
    NAMES="$NAMES $i:$n"
    ns_prep ka$i; ns_prep lv$i
    nsenter --net=/run/netns/ka$i keepalived -C -n -l -G -f $IN/$f -p $W/ka$i.pid -c $W/kachk$i.pid \
        > $W/$n.keepalived.log 2>&1 &
    echo $! > $W/ka$i.daemon
    nsenter --net=/run/netns/lv$i lvsd -C -n -l -f $IN/$f -p $W/lv$i.pid -c $W/lvchk$i.pid \
        > $W/$n.lvsd.log 2>&1 &
    echo $! > $W/lv$i.daemon
    ts=$(now)
    settle $i || echo "REAL $n: start not settled"
    save $i $n start
    echo "REAL $n start read $(echo "$(now) $ts" | awk '{print $1-$2}') s after its start"
done < $IN/LIST
tA=$(now)
echo "REAL all started and read: $i files in $(echo "$tA $t0" | awk '{print $1-$2}') s" | tee $OUT/times.txt
for p in $NAMES; do
    i=${p%%:*}
    for s in ka lv; do in_ns $s$i sh -c 'ip route del default; ip -6 route del default'; done
done
# converged: at least CONV s after the routes went, then all tables twice alike
dump() {
    for p in $NAMES; do
        i=${p%%:*}
        table ka$i; table lv$i
    done | md5sum
}
while [ "$(echo "$(now) $tA $CONV" | awk '{print ($1 >= $2 + $3)}')" = 0 ]; do sleep 1; done
last=; k=0
while [ $k -lt 8 ]; do
    cur=$(dump)
    [ "$cur" = "$last" ] && break
    last=$cur; k=$((k+1))
done
[ $k -lt 8 ] || echo "REAL converged: tables still changing"
for p in $NAMES; do save ${p%%:*} ${p#*:} converged; done
tB=$(now)
echo "REAL converged read t=$tB ($(echo "$tB $tA" | awk '{print $1-$2}') s after the routes went; $k dumps)" | tee -a $OUT/times.txt
for d in $W/*.daemon; do kill -TERM $(cat $d) 2>/dev/null; done
k=0
while [ $k -lt 40 ]; do
    alive=0
    for d in $W/*.daemon; do kill -0 $(cat $d) 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.25; k=$((k+1))
done
for p in $NAMES; do
    n=${p#*:}
    cp $W/$n.keepalived.log $W/$n.lvsd.log $OUT/
done
echo "REAL done t=$(now)"
exit 0
