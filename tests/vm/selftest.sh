#!/bin/sh
# Guest: the IPVS client against the real kernel (lvsd-ipvs selftest); results in /mnt/selftest.
IP=/usr/sbin/ip
# the sync daemon needs an interface with a route to its multicast group
$IP link add lvsync0 type dummy && $IP link set lvsync0 up multicast on
$IP addr add 10.250.0.1/24 dev lvsync0
$IP route add 224.0.0.0/4 dev lvsync0
$IP -6 route add ff00::/8 dev lvsync0 table local 2>/dev/null
mkdir -p /mnt/selftest
SYNC_IF=lvsync0 lvsd-ipvs selftest /mnt/selftest 2>&1 | tee /mnt/selftest/output.txt
rc=$(sed -n 's/^SELFTEST done: \([0-9]*\) failures.*/\1/p' /mnt/selftest/output.txt)
[ "$rc" = 0 ] || exit 1
. /tests/traffic.sh
exit 0
