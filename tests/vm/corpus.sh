#!/bin/sh
# Guest: for every config of /tests/configs, the table keepalived programs and the one lvsd
# programs (`ipvsadm -S -n`, sorted), written to /mnt/corpus/NAME.{keepalived,lvsd}.txt.
# lvsd's half is skipped (file says LVSD-UNAVAILABLE) when `lvsd -C` cannot run here.
OUT=/mnt/corpus; mkdir -p $OUT /tmp/c
now() { cut -d' ' -f1 /proc/uptime; }
settle() {  # wait until the table has been unchanged for 2 s (max 12 s); print it sorted
    last=; same=0; i=0
    while [ $i -lt 48 ]; do
        cur=$(ipvsadm -S -n | sort)
        if [ -n "$cur" ] && [ "$cur" = "$last" ]; then same=$((same+1)); else same=0; fi
        [ $same -ge 8 ] && break
        last=$cur; i=$((i+1)); sleep 0.25
    done
    ipvsadm -S -n | sort
}
run_daemon() {  # run_daemon NAME CMD... -> table on stdout, daemon stopped afterwards
    name=$1; shift
    "$@" > /tmp/c/$name.log 2>&1 &
    pid=$!
    sleep 0.5
    if ! kill -0 $pid 2>/dev/null; then echo "DAEMON-EXITED"; cat /tmp/c/$name.log; return 1; fi
    settle
    kill -TERM $pid; i=0
    while kill -0 $pid 2>/dev/null && [ $i -lt 40 ]; do sleep 0.25; i=$((i+1)); done
    kill -KILL $pid 2>/dev/null
    return 0
}
for f in /tests/configs/*.conf; do
    n=$(basename $f .conf)
    ipvsadm -C
    run_daemon ka-$n keepalived -C -n -l -G -f $f -p /tmp/c/ka.pid -c /tmp/c/chk.pid > $OUT/$n.keepalived.txt
    cp /tmp/c/ka-$n.log $OUT/$n.keepalived.log
    ipvsadm -C
    if [ -x /usr/local/bin/lvsd ]; then
        run_daemon lvsd-$n lvsd -C -n -l -f $f -p /tmp/c/lvsd.pid > $OUT/$n.lvsd.txt \
            || { echo "LVSD-UNAVAILABLE: lvsd -C exited: $(head -3 /tmp/c/lvsd-$n.log)" > $OUT/$n.lvsd.txt; }
        cp /tmp/c/lvsd-$n.log $OUT/$n.lvsd.log
    else
        echo "LVSD-UNAVAILABLE: no lvsd binary in the guest" > $OUT/$n.lvsd.txt
    fi
    ipvsadm -C
    echo "CORPUS $n keepalived=$(grep -c . $OUT/$n.keepalived.txt) lvsd=$(grep -c . $OUT/$n.lvsd.txt) t=$(now)"
done
exit 0
