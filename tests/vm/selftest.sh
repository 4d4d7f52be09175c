#!/bin/sh
# Guest: the IPVS client against the real kernel (lvsd-ipvs selftest); results in /mnt/selftest.
IP=/usr/sbin/ip
$IP link add dummy0 type dummy && $IP link set dummy0 up multicast on
$IP addr add 10.250.0.1/24 dev dummy0
mkdir -p /mnt/selftest
SYNC_IF=dummy0 lvsd-ipvs selftest /mnt/selftest 2>&1 | tee /mnt/selftest/output.txt
rc=$(sed -n 's/^SELFTEST done: \([0-9]*\) failures.*/\1/p' /mnt/selftest/output.txt)
[ "$rc" = 0 ] || exit 1
# listing through `lvsd -L` when the binary has it wired
exit 0
