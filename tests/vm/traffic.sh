#!/bin/sh
# Guest, sourced by selftest.sh: real traffic through IPVS NAT so the counters move.
#   netns lvcl (10.251.0.2) --veth-- director (VIP 10.251.1.1) --veth-- netns lvrs (10.252.0.2/.3, httpd)
# Writes /mnt/selftest/traffic-*.txt: answers, `lvsd-ipvs list stats` vs `ipvsadm -Ln --stats --exact`,
# and the same after `lvsd-ipvs zero`.
IP=/usr/sbin/ip
O=/mnt/selftest
$IP netns add lvrs; $IP netns add lvcl
$IP link add lvrs0 type veth peer name eth0 netns lvrs
$IP link add lvcl0 type veth peer name eth0 netns lvcl
$IP addr add 10.252.0.1/24 dev lvrs0; $IP link set lvrs0 up
$IP addr add 10.251.0.1/24 dev lvcl0; $IP link set lvcl0 up
$IP addr add 10.251.1.1/32 dev lo
$IP -n lvrs addr add 10.252.0.2/24 dev eth0; $IP -n lvrs addr add 10.252.0.3/24 dev eth0
$IP -n lvrs link set eth0 up; $IP -n lvrs link set lo up; $IP -n lvrs route add default via 10.252.0.1
$IP -n lvcl addr add 10.251.0.2/24 dev eth0; $IP -n lvcl link set eth0 up; $IP -n lvcl link set lo up
$IP -n lvcl route add default via 10.251.0.1
echo 1 > /proc/sys/net/ipv4/ip_forward
for n in 2 3; do mkdir -p /tmp/www$n; echo "rs$n" > /tmp/www$n/index.html
    $IP netns exec lvrs httpd -p 10.252.0.$n:80 -h /tmp/www$n; done
ipvsadm -A -t 10.251.1.1:80 -s rr
ipvsadm -a -t 10.251.1.1:80 -r 10.252.0.2:80 -m -w 1
ipvsadm -a -t 10.251.1.1:80 -r 10.252.0.3:80 -m -w 1
: > $O/traffic-answers.txt
i=0; while [ $i -lt 20 ]; do
    # busybox nc, not wget: static busybox's wget looks up the "http" service through NSS,
    # which crashes in this initramfs
    printf 'GET /index.html HTTP/1.0\r\n\r\n' | $IP netns exec lvcl nc -w 5 10.251.1.1 80 2>&1 | tail -n 1 >> $O/traffic-answers.txt
    i=$((i+1)); done
sleep 3   # the kernel's rate estimator runs every 2 s
lvsd-ipvs list stats > $O/traffic-lvsd-stats.txt
ipvsadm -Ln --stats --exact > $O/traffic-ipvsadm-stats.txt
lvsd-ipvs list > $O/traffic-lvsd-list.txt
ipvsadm -Ln > $O/traffic-ipvsadm-list.txt
lvsd-ipvs zero
lvsd-ipvs list stats > $O/traffic-lvsd-zeroed.txt
ipvsadm -Ln --stats --exact > $O/traffic-ipvsadm-zeroed.txt
ipvsadm -C
