#!/bin/sh
# Guest: DR and TUN real servers set up only by `lvsd real-server`, traffic from a client.
#   netns lvcl (10.251.0.2) --veth-- director (root ns; VIPs 10.251.1.1 DR, 10.251.1.2 TUN)
#   director br0 10.253.0.1/24 --veth-- netns rs2 (10.253.0.2), rs3 (10.253.0.3), httpd :80
# The real servers get nothing by hand: `lvsd real-server` on the shared file does it all.
# Then each real server is stopped (everything undone) and faults are injected for
# `lvsd real-server doctor`. Writes /mnt/realserver/*.txt.
IP=/usr/sbin/ip
O=/mnt/realserver; mkdir -p $O
exec 2>>$O/stderr.txt
CONF=/tmp/rs.conf
cat > $CONF <<'EOF'
virtual_server 10.251.1.1 80 {
  lb_algo rr
  lb_kind DR
  protocol TCP
  real_server 10.253.0.2 80 { }
  real_server 10.253.0.3 80 { }
}
virtual_server 10.251.1.2 80 {
  lb_algo rr
  lb_kind TUN
  protocol TCP
  real_server 10.253.0.2 80 { }
  real_server 10.253.0.3 80 { }
}
EOF
modprobe bridge
$IP link add br0 type bridge; $IP addr add 10.253.0.1/24 dev br0; $IP link set br0 up
for n in 2 3; do
    $IP netns add rs$n
    $IP link add rsv$n type veth peer name eth0 netns rs$n
    $IP link set rsv$n master br0; $IP link set rsv$n up
    $IP -n rs$n addr add 10.253.0.$n/24 dev eth0; $IP -n rs$n link set eth0 up; $IP -n rs$n link set lo up
    $IP -n rs$n route add default via 10.253.0.1
    mkdir -p /tmp/www$n; echo "rs$n" > /tmp/www$n/index.html
    $IP netns exec rs$n httpd -p 80 -h /tmp/www$n
done
$IP netns add lvcl
$IP link add lvcl0 type veth peer name eth0 netns lvcl
$IP addr add 10.251.0.1/24 dev lvcl0; $IP link set lvcl0 up
$IP -n lvcl addr add 10.251.0.2/24 dev eth0; $IP -n lvcl link set eth0 up; $IP -n lvcl link set lo up
$IP -n lvcl route add default via 10.251.0.1
$IP addr add 10.251.1.1/32 dev lo; $IP addr add 10.251.1.2/32 dev lo
echo 1 > /proc/sys/net/ipv4/ip_forward
# The replies come back through the director with a VIP (one of its own addresses) as source.
for c in all br0; do echo 1 > /proc/sys/net/ipv4/conf/$c/accept_local; echo 0 > /proc/sys/net/ipv4/conf/$c/rp_filter; done
ipvsadm -A -t 10.251.1.1:80 -s rr
ipvsadm -a -t 10.251.1.1:80 -r 10.253.0.2:80 -g; ipvsadm -a -t 10.251.1.1:80 -r 10.253.0.3:80 -g
ipvsadm -A -t 10.251.1.2:80 -s rr
ipvsadm -a -t 10.251.1.2:80 -r 10.253.0.2:80 -i; ipvsadm -a -t 10.251.1.2:80 -r 10.253.0.3:80 -i

snap() { # snap NS: addresses and the sysctls lvsd real-server touches
    $IP -n $1 -o addr show | awk '{print $2, $3, $4}'
    for k in all.arp_ignore all.arp_announce lo.arp_ignore lo.arp_announce all.rp_filter; do
        echo "$k=$($IP netns exec $1 sysctl -n net.ipv4.conf.$k)"
    done
}
for n in 2 3; do snap rs$n > $O/before-rs$n.txt; done
# Without lvsd real-server the real servers drop what the director sends them.
for vip in 10.251.1.1 10.251.1.2; do
    printf 'GET /index.html HTTP/1.0\r\n\r\n' | $IP netns exec lvcl nc -w 2 $vip 80 > $O/unanswered-$vip.txt 2>&1
done
for n in 2 3; do
    $IP netns exec rs$n lvsd -f $CONF real-server --state-file /tmp/rs$n.state > /dev/null 2> $O/lvsd-rs$n.log &
    echo $! > /tmp/rs$n.pid
done
k=0; while [ $k -lt 100 ]; do
    $IP -n rs2 -o addr show dev tunl0 2>/dev/null | grep -q 10.251.1.2/32 &&
        $IP -n rs3 -o addr show dev tunl0 2>/dev/null | grep -q 10.251.1.2/32 && break
    sleep 0.1; k=$((k+1)); done
for n in 2 3; do snap rs$n > $O/during-rs$n.txt; done
for vip in 10.251.1.1 10.251.1.2; do
    : > $O/answers-$vip.txt
    i=0; while [ $i -lt 6 ]; do
        printf 'GET /index.html HTTP/1.0\r\n\r\n' | $IP netns exec lvcl nc -w 5 $vip 80 2>&1 | tail -n 1 >> $O/answers-$vip.txt
        i=$((i+1)); done
done
for n in 2 3; do $IP netns exec rs$n lvsd -f $CONF real-server doctor --json > $O/doctor-ok-rs$n.json; echo "rc=$?" >> $O/doctor-ok-rs$n.json; done
ipvsadm -Ln > $O/ipvsadm.txt
# Stop: everything undone.
for n in 2 3; do kill -TERM $(cat /tmp/rs$n.pid); done
for n in 2 3; do wait $(cat /tmp/rs$n.pid); echo "exit=$?" >> $O/lvsd-rs$n.log; done
for n in 2 3; do snap rs$n > $O/after-rs$n.txt; done
# Faults on rs2, each named by the doctor: the VIP with a /30 on lo, arp_ignore 0, tunl0
# without its address and a strict rp_filter.
$IP -n rs2 addr add 10.251.1.1/30 dev lo
$IP netns exec rs2 sysctl -q -w net.ipv4.conf.all.rp_filter=1
$IP netns exec rs2 lvsd -f $CONF real-server doctor --json > $O/doctor-faults.json; echo "rc=$?" >> $O/doctor-faults.json
echo done > $O/done.txt
