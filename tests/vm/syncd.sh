#!/bin/sh
# Guest: lvs_sync_daemon follows the VRRP state of its instance. lvsd -P (priority 100) on
# lvs0 against Debian's keepalived (priority 200) in netns peer:
#   peer master        -> lvsd BACKUP, backup sync daemon
#   peer stopped       -> lvsd MASTER, master sync daemon (the backup one stopped)
#   peer back, preempts-> lvsd BACKUP, backup sync daemon again
#   lvsd stopped       -> no sync daemon
# Writes /mnt/syncd/: events.txt ("EVENT name seconds" or "EVENT name TIMEOUT") and
# daemon-NAME.txt (`ipvsadm -L --daemon` at each step).
IP=/usr/sbin/ip
O=/mnt/syncd; mkdir -p $O
now() { cut -d' ' -f1 /proc/uptime; }
$IP netns add peer
$IP link add lvs0 type veth peer name eth0 netns peer
$IP addr add 10.254.0.1/24 dev lvs0; $IP link set lvs0 up
$IP -n peer addr add 10.254.0.2/24 dev eth0; $IP -n peer link set eth0 up; $IP -n peer link set lo up
daemons() { ipvsadm -L --daemon; }
vip_here() { $IP -o addr show dev lvs0 | grep -q ' 10.254.0.100/'; }
vip_peer() { $IP -n peer -o addr show dev eth0 | grep -q ' 10.254.0.100/'; }
only_backup() { d=$(daemons); echo "$d" | grep -q '^backup sync daemon (mcast=lvs0, syncid=61' && ! echo "$d" | grep -q '^master'; }
only_master() { d=$(daemons); echo "$d" | grep -q '^master sync daemon (mcast=lvs0, syncid=61' && ! echo "$d" | grep -q '^backup'; }
none() { [ -z "$(daemons)" ]; }
# step NAME CONDITION...: poll every 0.1 s (max 20 s), log the time, save the daemons
step() {
    name=$1; shift; t0=$(now); k=0
    while [ $k -lt 200 ]; do
        if "$@"; then
            echo "EVENT $name $(echo "$(now) $t0" | awk '{printf "%.2f", $1-$2}')" >> $O/events.txt
            daemons > $O/daemon-$name.txt; return 0
        fi
        sleep 0.1; k=$((k+1))
    done
    echo "EVENT $name TIMEOUT" >> $O/events.txt; daemons > $O/daemon-$name.txt; return 1
}
peer_master_lvsd_backup() { vip_peer && ! vip_here && only_backup; }
lvsd_master() { vip_here && only_master; }
start_peer() {
    $IP netns exec peer keepalived -P -n -l -G -R -f /tests/syncd-peer.conf \
        -p /tmp/ka.pid -r /tmp/ka-vrrp.pid > /tmp/ka.log 2>&1 &
    PEER=$!
}
: > $O/events.txt
abort() { cp /tmp/lvsd.log $O/lvsd.log; cp /tmp/ka.log $O/ka.log; cat $O/events.txt; exit 1; }
start_peer
step peer_up vip_peer || abort
lvsd -P -n -l -f /tests/syncd-lvsd.conf -p /tmp/lvsd.pid -r /tmp/lvsd-vrrp.pid > /tmp/lvsd.log 2>&1 &
LVSD=$!
step backup peer_master_lvsd_backup || abort
kill -TERM $PEER; wait $PEER
step master lvsd_master || abort
start_peer
step backup_again peer_master_lvsd_backup || abort
kill -TERM $LVSD; wait $LVSD
echo "LVSD-EXIT $?" >> $O/events.txt
step stopped none || abort
kill -TERM $PEER; wait $PEER
cp /tmp/lvsd.log $O/lvsd.log; cp /tmp/ka.log $O/ka.log
cat $O/events.txt
exit 0
