#!/bin/sh
# Guest: for every config of /tests/configs, the table keepalived programs and the one lvsd
# programs (`ipvsadm -S -n`, sorted), written to /mnt/corpus/NAME.{keepalived,lvsd}.txt.
# IPVS tables are per network namespace, so every daemon runs at once in its own netns
# (kaN / lvN): one boot, one settle wait for all of them.
# lvsd's half says LVSD-UNAVAILABLE when `lvsd -C` cannot run here.
IP=/usr/sbin/ip
OUT=/mnt/corpus; mkdir -p $OUT /tmp/c
now() { cut -d' ' -f1 /proc/uptime; }
NAMES=
i=0
for f in /tests/configs/*.conf; do
    n=$(basename $f .conf); i=$((i+1))
    NAMES="$NAMES $i:$n"
    $IP netns add ka$i; $IP netns add lv$i
    $IP -n ka$i link set lo up; $IP -n lv$i link set lo up
    $IP netns exec ka$i keepalived -C -n -l -G -f $f -p /tmp/c/ka$i.pid -c /tmp/c/chk$i.pid \
        > /tmp/c/ka-$n.log 2>&1 &
    echo $! > /tmp/c/ka$i.daemon
    if [ -x /usr/local/bin/lvsd ]; then
        $IP netns exec lv$i lvsd -C -n -l -f $f -p /tmp/c/lvsd$i.pid -c /tmp/c/lvchk$i.pid > /tmp/c/lvsd-$n.log 2>&1 &
        echo $! > /tmp/c/lv$i.daemon
    fi
done
echo "CORPUS started t=$(now)"
dump() {  # all tables, one file per daemon, and a digest of all of them on stdout
    for p in $NAMES; do
        i=${p%%:*}; n=${p#*:}
        $IP netns exec ka$i ipvsadm -S -n | sort > /tmp/c/$n.keepalived.txt
        $IP netns exec lv$i ipvsadm -S -n | sort > /tmp/c/$n.lvsd.txt
        cat /tmp/c/$n.keepalived.txt /tmp/c/$n.lvsd.txt
    done | md5sum
}
# settle: every table non-empty, two dumps in a row equal, and at least 5 s since the
# start (sorry_server needs a failed check: delay_loop 1 + retry). One dump execs ipvsadm
# 26 times, which is slow under TCG, so few dumps.
t_start=$(now)
last=; k=0
while [ $k -lt 30 ]; do
    cur=$(dump)
    empty=0
    for p in $NAMES; do
        n=${p#*:}
        [ -s /tmp/c/$n.keepalived.txt ] || empty=1
        [ -s /tmp/c/$n.lvsd.txt ] || empty=1
    done
    old=$(echo "$(now) $t_start" | awk '{print ($1 - $2 >= 5)}')
    [ $empty = 0 ] && [ "$cur" = "$last" ] && [ $old = 1 ] && break
    last=$cur; k=$((k+1)); sleep 0.5
done
echo "CORPUS settled t=$(now) polls=$k"
for p in $NAMES; do
    i=${p%%:*}; n=${p#*:}
    cp /tmp/c/$n.keepalived.txt $OUT/$n.keepalived.txt
    if [ -f /tmp/c/lv$i.daemon ] && kill -0 $(cat /tmp/c/lv$i.daemon) 2>/dev/null; then
        cp /tmp/c/$n.lvsd.txt $OUT/$n.lvsd.txt
    elif [ -f /tmp/c/lv$i.daemon ]; then
        echo "LVSD-UNAVAILABLE: lvsd -C exited: $(head -3 /tmp/c/lvsd-$n.log)" > $OUT/$n.lvsd.txt
    else
        echo "LVSD-UNAVAILABLE: no lvsd binary in the guest" > $OUT/$n.lvsd.txt
    fi
done
for d in /tmp/c/*.daemon; do kill -TERM $(cat $d) 2>/dev/null; done
k=0
while [ $k -lt 20 ]; do
    alive=0
    for d in /tmp/c/*.daemon; do kill -0 $(cat $d) 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.25; k=$((k+1))
done
for p in $NAMES; do
    i=${p%%:*}; n=${p#*:}
    cp /tmp/c/ka-$n.log $OUT/$n.keepalived.log
    [ -f /tmp/c/lvsd-$n.log ] && cp /tmp/c/lvsd-$n.log $OUT/$n.lvsd.log
    echo "CORPUS $n keepalived=$(grep -c . $OUT/$n.keepalived.txt) lvsd=$(grep -c . $OUT/$n.lvsd.txt)"
done
echo "CORPUS done t=$(now)"
exit 0
