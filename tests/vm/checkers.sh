#!/bin/sh
# Guest: lvsd -C with HTTP_GET checkers (delay_loop 1, connect_timeout 1, retry 1, delay_before_retry 1) against
# busybox httpd real servers in netns lvrs, a client in netns lvcl fetching the VIP through
# IPVS NAT.  Topology as traffic.sh:
#   lvcl (10.251.0.2) --veth-- director (VIP 10.251.1.1) --veth-- lvrs (10.252.0.2/.3, sorry .9)
# Writes /mnt/checkers/: events.txt ("EVENT name seconds" from the action to the table
# change, or "EVENT name TIMEOUT"), answers-PHASE.txt (one body per fetch), table-PHASE.txt.
IP=/usr/sbin/ip
O=/mnt/checkers; mkdir -p $O
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
start_rs() {  # start_rs N: httpd in the foreground (so its pid is ours) answering "rsN"
    mkdir -p /tmp/www$1; [ $1 = 9 ] && echo sorry > /tmp/www$1/index.html || echo "rs$1" > /tmp/www$1/index.html
    $IP netns exec lvrs httpd -f -p 10.252.0.$1:80 -h /tmp/www$1 &
    echo $! > /tmp/rs$1.pid
}
stop_rs() { kill $(cat /tmp/rs$1.pid); wait $(cat /tmp/rs$1.pid) 2>/dev/null; }
table() { ipvsadm -S -n | sort; }
# wait_for NAME CONDITION: poll the table every 0.1 s (max 20 s), log the time it took
wait_for() {
    name=$1; shift; t0=$(now); k=0
    while [ $k -lt 200 ]; do
        if table | "$@"; then
            echo "EVENT $name $(echo "$(now) $t0" | awk '{printf "%.2f", $1-$2}')" >> $O/events.txt
            table > $O/table-$name.txt; return 0
        fi
        sleep 0.1; k=$((k+1))
    done
    echo "EVENT $name TIMEOUT" >> $O/events.txt; table > $O/table-$name.txt; return 1
}
fetch() {  # fetch PHASE: 20 requests to the VIP from the client netns
    : > $O/answers-$1.txt; k=0
    while [ $k -lt 20 ]; do
        printf 'GET /index.html HTTP/1.0\r\n\r\n' | $IP netns exec lvcl nc -w 3 10.251.1.1 80 2>&1 | tail -n 1 >> $O/answers-$1.txt
        k=$((k+1))
    done
}
has() { grep -q -- "$1"; }
both_up() { t=$(cat); echo "$t" | has '-t 10.251.1.1:80 -r 10.252.0.2:80 -m -w 1' \
    && echo "$t" | has '-t 10.251.1.1:80 -r 10.252.0.3:80 -m -w 1' \
    && echo "$t" | has '-t 10.251.1.1:81 -r 10.252.0.2:80 -m -w 2' \
    && ! echo "$t" | has '10.252.0.9:80'; }
rs2_down() { t=$(cat); ! echo "$t" | has '-t 10.251.1.1:80 -r 10.252.0.2:80' \
    && echo "$t" | has '-t 10.251.1.1:80 -r 10.252.0.3:80 -m -w 1' \
    && echo "$t" | has '-t 10.251.1.1:81 -r 10.252.0.2:80 -m -w 0'; }
all_down() { t=$(cat); ! echo "$t" | has '-t 10.251.1.1:80 -r 10.252.0.[23]:80' \
    && echo "$t" | has '-t 10.251.1.1:80 -r 10.252.0.9:80'; }

: > $O/events.txt
start_rs 2; start_rs 3; start_rs 9
# A service lvsd does not manage: it must be left alone and kept out of `lvsd -L`.
ipvsadm -A -t 10.251.9.9:80 -s wlc
lvsd -C -n -l -f /tests/checkers.conf -p /tmp/lvsd.pid -c /tmp/lvsd-chk.pid > /tmp/lvsd.log 2>&1 &
LVSD=$!
abort() { cp /tmp/lvsd.log $O/lvsd.log; kill $LVSD; cat $O/events.txt; exit 1; }
wait_for start both_up || abort; fetch start
lvsd -L -f /tests/checkers.conf > $O/list-managed.txt 2>&1
stop_rs 2
wait_for rs2_stopped rs2_down || abort; fetch rs2_stopped
start_rs 2
wait_for rs2_restarted both_up || abort; fetch rs2_restarted
stop_rs 2; stop_rs 3
wait_for all_stopped all_down || abort; fetch all_stopped
start_rs 2; start_rs 3
wait_for all_restarted both_up || abort; fetch all_restarted
kill -TERM $LVSD; wait $LVSD
echo "LVSD-EXIT $?" >> $O/events.txt
table > $O/table-after-exit.txt
cp /tmp/lvsd.log $O/lvsd.log
cat $O/events.txt
for n in 2 3 9; do kill $(cat /tmp/rs$n.pid) 2>/dev/null; done
ipvsadm -C
exit 0
