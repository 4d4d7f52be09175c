#!/bin/sh
# Guest: lvsd -C (--ipvs-heal-interval 2) puts back what someone else's ipvsadm removed or
# changed, and leaves someone else's service alone (issue 17).
# Writes /mnt/heal/: events.txt ("EVENT name seconds" or "EVENT name TIMEOUT", "KEPT-FOREIGN",
# "LVSD-EXIT n"), table-NAME.txt, lvsd.log.
O=/mnt/heal; mkdir -p $O
now() { cut -d' ' -f1 /proc/uptime; }
table() { ipvsadm -S -n | sort; }
wait_for() {  # wait_for NAME CONDITION: poll the table every 0.1 s (max 30 s)
    name=$1; shift; t0=$(now); k=0
    while [ $k -lt 300 ]; do
        if table | "$@"; then
            echo "EVENT $name $(echo "$(now) $t0" | awk '{printf "%.2f", $1-$2}')" >> $O/events.txt
            table > $O/table-$name.txt; return 0
        fi
        sleep 0.1; k=$((k+1))
    done
    echo "EVENT $name TIMEOUT" >> $O/events.txt; table > $O/table-$name.txt; return 1
}
has() { grep -q -- "$1"; }
whole() { t=$(cat); echo "$t" | has '-A -t 10.251.1.1:80 -s rr' \
    && echo "$t" | has '-a -t 10.251.1.1:80 -r 10.252.0.2:80 -m -w 1' \
    && echo "$t" | has '-a -t 10.251.1.1:80 -r 10.252.0.3:80 -m -w 2' \
    && echo "$t" | has '-A -t 10.251.1.1:443 -s wlc' \
    && echo "$t" | has '-a -t 10.251.1.1:443 -r 10.252.0.2:443 -g -w 3'; }
foreign() { t=$(cat); echo "$t" | has '-A -t 10.251.9.9:80 -s wlc' \
    && echo "$t" | has '-a -t 10.251.9.9:80 -r 10.252.9.9:80 -m -w 1'; }

: > $O/events.txt
lvsd -C -n -l -f /tests/heal.conf -p /tmp/lvsd.pid -c /tmp/lvsd-chk.pid --ipvs-heal-interval 2 \
    > /tmp/lvsd.log 2>&1 &
LVSD=$!
abort() { cp /tmp/lvsd.log $O/lvsd.log; kill $LVSD; cat $O/events.txt; exit 1; }
wait_for start whole || abort
# Someone else's service, with a real server of its own in lvsd's service too.
ipvsadm -A -t 10.251.9.9:80 -s wlc; ipvsadm -a -t 10.251.9.9:80 -r 10.252.9.9:80 -m -w 1
ipvsadm -a -t 10.251.1.1:80 -r 10.252.9.8:80 -m -w 5

ipvsadm -d -t 10.251.1.1:80 -r 10.252.0.3:80
wait_for after_d whole || abort
ipvsadm -e -t 10.251.1.1:443 -r 10.252.0.2:443 -g -w 0
wait_for after_e whole || abort
ipvsadm -D -t 10.251.1.1:443
wait_for after_D whole || abort
table | foreign && table | has '-r 10.252.9.8:80' && echo "KEPT-FOREIGN" >> $O/events.txt
ipvsadm -C
wait_for after_C whole || abort
# The flush took the foreign entries too; lvsd did not bring them back (not its own).
table | has '10.251.9.9' || table | has '10.252.9.8' || echo "FOREIGN-NOT-RECREATED" >> $O/events.txt

kill -TERM $LVSD; wait $LVSD
echo "LVSD-EXIT $?" >> $O/events.txt
cp /tmp/lvsd.log $O/lvsd.log
cat $O/events.txt
ipvsadm -C
exit 0
