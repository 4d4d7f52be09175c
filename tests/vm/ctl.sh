#!/bin/sh
# Guest: `lvsd ctl` against lvsd -C on the real kernel (tests/vm/checkers.conf, topology
# of checkers.sh): plan a new file (nothing applied), drain a real server that holds a
# connection (weight 0 until the connection ends, then removed), disable / enable.
#   lvcl (10.251.0.2) --veth-- director (VIP 10.251.1.1) --veth-- lvrs (10.252.0.2/.3, sorry .9)
# Writes /mnt/ctl/: events.txt ("EVENT name seconds" or "EVENT name TIMEOUT"), table-NAME.txt,
# plan.txt, state.json, metrics.txt (a scrape of --metrics-listen while a connection is
# held), lvsd.log.
IP=/usr/sbin/ip
O=/mnt/ctl; mkdir -p $O
now() { cut -d' ' -f1 /proc/uptime; }
$IP netns add lvrs; $IP netns add lvcl
$IP link add lvrs0 type veth peer name eth0 netns lvrs
$IP link add lvcl0 type veth peer name eth0 netns lvcl
$IP addr add 10.252.0.1/24 dev lvrs0; $IP link set lvrs0 up
$IP addr add 10.251.0.1/24 dev lvcl0; $IP link set lvcl0 up
$IP addr add 10.251.1.1/32 dev lo
for n in 2 3 9; do $IP -n lvrs addr add 10.252.0.$n/24 dev eth0; done
$IP -n lvrs link set eth0 up; $IP -n lvrs link set lo up; $IP -n lvrs route add default via 10.252.0.1
$IP -n lvcl addr add 10.251.0.2/24 dev eth0; $IP -n lvcl link set eth0 up; $IP -n lvcl link set lo up
$IP -n lvcl route add default via 10.251.0.1
echo 1 > /proc/sys/net/ipv4/ip_forward
for n in 2 3 9; do
    mkdir -p /tmp/www$n; echo "rs$n" > /tmp/www$n/index.html
    $IP netns exec lvrs httpd -p 10.252.0.$n:80 -h /tmp/www$n
done
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
both_up() { t=$(cat); echo "$t" | has '-t 10.251.1.1:80 -r 10.252.0.3:80 -m -w 1' \
    && echo "$t" | has '-t 10.251.1.1:81 -r 10.252.0.2:80 -m -w 2'; }
drain_w0() { has '-t 10.251.1.1:81 -r 10.252.0.2:80 -m -w 0'; }
drained() { ! has '-t 10.251.1.1:81 -r 10.252.0.2:80'; }
rs3_out() { ! has '-t 10.251.1.1:80 -r 10.252.0.3:80'; }
rs3_in() { has '-t 10.251.1.1:80 -r 10.252.0.3:80 -m -w 1'; }
CTL="lvsd -p /tmp/lvsd.pid ctl"

: > $O/events.txt
lvsd -C -n -l --metrics-listen 127.0.0.1:9650 -f /tests/checkers.conf -p /tmp/lvsd.pid \
    -c /tmp/lvsd-chk.pid > /tmp/lvsd.log 2>&1 &
LVSD=$!
abort() { cp /tmp/lvsd.log $O/lvsd.log; kill $LVSD; cat $O/events.txt; exit 1; }
wait_for start both_up || abort

# plan: port 81's real server at weight 3 instead of 2; nothing changes in the kernel.
sed 's/weight 2/weight 3/' /tests/checkers.conf > /tmp/new.conf
table > /tmp/before-plan.txt
$CTL plan /tmp/new.conf > $O/plan.txt 2>&1; echo "PLAN-EXIT $?" >> $O/events.txt
table > /tmp/after-plan.txt
cmp -s /tmp/before-plan.txt /tmp/after-plan.txt && echo "PLAN-APPLIED-NOTHING" >> $O/events.txt

# drain: a client holds a connection to port 81 (its only real server) for 9 s.
(sleep 9) | $IP netns exec lvcl nc 10.251.1.1 81 > /dev/null 2>&1 &
sleep 1
ipvsadm -Ln -t 10.251.1.1:81 > $O/conns-before-drain.txt
# The kernel's cumulative counters (connections, packets) are copied out by its
# estimator every 2 s: scrape once it has run.
sleep 3
printf 'GET /metrics HTTP/1.0\r\n\r\n' | nc -w 5 127.0.0.1 9650 > $O/metrics.txt 2>&1
$CTL drain 10.251.1.1:81 10.252.0.2:80 --timeout 60 > $O/drain.txt 2>&1 || abort
wait_for drain_w0 drain_w0 || abort
$CTL --json state > $O/state.json 2>&1
wait_for drained drained || abort

# disable / enable.
$CTL disable 10.251.1.1:80 10.252.0.3:80 >> $O/drain.txt 2>&1 || abort
wait_for disabled rs3_out || abort
$CTL enable 10.251.1.1:80 10.252.0.3:80 >> $O/drain.txt 2>&1 || abort
wait_for enabled rs3_in || abort

kill -TERM $LVSD; wait $LVSD
echo "LVSD-EXIT $?" >> $O/events.txt
[ -e /tmp/lvsd.ctl ] || echo "SOCKET-REMOVED" >> $O/events.txt
cp /tmp/lvsd.log $O/lvsd.log
cat $O/events.txt
ipvsadm -C
exit 0
