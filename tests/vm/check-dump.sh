#!/bin/sh
# Guest: keepalived_check.data of keepalived -C and of lvsd -C on the same files. The host
# stages them in /mnt/dump/in (LIST: one path a line). Each daemon runs in its own netns
# (lo only: every real server unreachable, each check fails at once) with its own $TMPDIR;
# after $1 s (default 12) each gets SIGUSR1 in turn (keepalived: its checker process) and
# its file is copied to /mnt/dump/out/NAME.{keepalived,lvsd}.data, with the tables
# (NAME.SIDE.table) and logs.
IP=/usr/sbin/ip
WAIT=${1:-12}
IN=/tmp/in; OUT=/mnt/dump/out; W=/tmp/w
mkdir -p $OUT $W; cp -a /mnt/dump/in $IN
now() { cut -d' ' -f1 /proc/uptime; }
NAMES=; i=0
while read -r f; do
    [ -n "$f" ] || continue
    i=$((i+1)); n=$(basename "$f" .conf)
    NAMES="$NAMES $i:$n"
    for s in ka lv; do
        $IP netns add $s$i; nsenter --net=/run/netns/$s$i ip link set lo up; mkdir -p $W/$s$i
    done
    TMPDIR=$W/ka$i nsenter --net=/run/netns/ka$i keepalived -C -n -l -G -f $IN/$f \
        -p $W/ka$i.pid -c $W/kachk$i.pid > $W/$n.keepalived.log 2>&1 &
    echo $! > $W/ka$i.daemon
    TMPDIR=$W/lv$i nsenter --net=/run/netns/lv$i lvsd -C -n -l -f $IN/$f \
        -p $W/lv$i.pid -c $W/lvchk$i.pid > $W/$n.lvsd.log 2>&1 &
    echo $! > $W/lv$i.daemon
done < $IN/LIST
sleep $WAIT
wait_file() {  # wait_file PATH: up to 10 s
    k=0; while [ ! -s $1 ] && [ $k -lt 100 ]; do sleep 0.1; k=$((k+1)); done
    sleep 0.3
}
for p in $NAMES; do
    i=${p%%:*}; n=${p#*:}
    kill -USR1 $(cat $W/kachk$i.pid); wait_file $W/ka$i/keepalived_check.data
    cp $W/ka$i/keepalived_check.data $OUT/$n.keepalived.data
    kill -USR1 $(cat $W/lv$i.daemon); wait_file $W/lv$i/keepalived_check.data
    cp $W/lv$i/keepalived_check.data $OUT/$n.lvsd.data
    nsenter --net=/run/netns/ka$i ipvsadm -S -n | sort > $OUT/$n.keepalived.table
    nsenter --net=/run/netns/lv$i ipvsadm -S -n | sort > $OUT/$n.lvsd.table
    echo "DUMP $n keepalived=$(grep -c . $OUT/$n.keepalived.data) lvsd=$(grep -c . $OUT/$n.lvsd.data)"
done
for d in $W/*.daemon; do kill -TERM $(cat $d) 2>/dev/null; done
sleep 2
for p in $NAMES; do n=${p#*:}; cp $W/$n.keepalived.log $W/$n.lvsd.log $OUT/; done
exit 0
