#!/bin/sh
# Guest: DR and TUN (ipip, GUE, GRE) real servers set up only by `lvsd real-server`, a NAT
# service beside them, the director programmed by `lvsd -C` from the same file.
#   netns lvcl (10.251.0.2) --veth-- director (root ns; VIPs 10.251.1.1-5 on lo)
#   director br0 10.253.0.1/24 --veth-- netns rs2 (10.253.0.2), rs3 (10.253.0.3), httpd :80
#   (the real servers' default gateway: 10.253.0.254, the VRRP VIP of the file, which the
#   director holds as the master would: lvsd -C runs no VRRP here)
# The real servers answer the client directly (their replies are routed back by the
# director's kernel, never through IPVS, except for NAT).
# 1. Clean: without lvsd real-server no answer; with it every VIP answers from both real
#    servers and both doctors find nothing; SIGTERM leaves the real servers as they were.
# 2. lvsd real-server again, then each fault alone: traffic probed (fails, or the fault
#    is one the traffic does not show), the doctor's findings saved, the fix the doctor
#    prints run as it is (or the test's own undo where the printed fix is not a command),
#    traffic probed again.
# Every step is an EVENT line in /mnt/realserver/events.txt; the doctors' JSON in
# /mnt/realserver/doc-STEP.json. The host (tests/ipvs_vm.rs) checks them.
IP=/usr/sbin/ip
O=/mnt/realserver; mkdir -p $O
exec 2>>$O/stderr.txt
EV=$O/events.txt; : > $EV
ev() { echo "EVENT $*" >> $EV; echo "EVENT $*"; }
CONF=/tmp/rs.conf
write_conf() { # write_conf DR_RS_PORT
cat <<EOF
global_defs {
  lvs_sync_daemon sync0 VI_1
}
vrrp_instance VI_1 {
  state BACKUP
  interface br0
  virtual_router_id 51
  priority 100
  virtual_ipaddress {
    10.251.1.9/32
    10.253.0.254/24
  }
}
virtual_server 10.251.1.1 80 {
  lb_algo rr
  lb_kind DR
  protocol TCP
  real_server 10.253.0.2 $1 { }
  real_server 10.253.0.3 80 { }
}
virtual_server 10.251.1.2 80 {
  lb_algo rr
  lb_kind TUN
  protocol TCP
  real_server 10.253.0.2 80 { }
  real_server 10.253.0.3 80 { }
}
virtual_server 10.251.1.3 80 {
  lb_algo rr
  lb_kind TUN
  protocol TCP
  real_server 10.253.0.2 80 { lvs_method TUN type gue port 6080 }
  real_server 10.253.0.3 80 { lvs_method TUN type gue port 6080 }
}
virtual_server 10.251.1.4 80 {
  lb_algo rr
  lb_kind TUN
  protocol TCP
  real_server 10.253.0.2 80 { lvs_method TUN type gre }
  real_server 10.253.0.3 80 { lvs_method TUN type gre }
}
virtual_server 10.251.1.5 80 {
  lb_algo sh
  lb_kind NAT
  protocol TCP
  persistence_timeout 30
  inhibit_on_failure
  real_server 10.253.0.2 80 { }
  real_server 10.253.0.3 80 { }
}
EOF
}
write_conf 80 > $CONF
write_conf 8080 > /tmp/rs-port.conf
KVER=$(uname -r)
modprobe bridge; modprobe dummy
$IP link add br0 type bridge; $IP addr add 10.253.0.1/24 dev br0; $IP link set br0 up
$IP addr add 10.253.0.254/24 dev br0
$IP link add sync0 type dummy; $IP link set sync0 mtu 1400 up
start_httpd() { # start_httpd N [ADDR:]PORT
    $IP netns exec rs$1 httpd -f -p $2 -h /tmp/www$1 &
    echo $! > /tmp/httpd$1.pid
}
for n in 2 3; do
    $IP netns add rs$n
    $IP link add rsv$n type veth peer name eth0 netns rs$n
    $IP link set rsv$n master br0; $IP link set rsv$n up
    $IP -n rs$n addr add 10.253.0.$n/24 dev eth0; $IP -n rs$n link set eth0 up; $IP -n rs$n link set lo up
    $IP -n rs$n route add default via 10.253.0.254
    mkdir -p /tmp/www$n; echo "rs$n" > /tmp/www$n/index.html
    start_httpd $n 80
done
$IP netns add lvcl
$IP link add lvcl0 type veth peer name eth0 netns lvcl
$IP addr add 10.251.0.1/24 dev lvcl0; $IP link set lvcl0 up
$IP -n lvcl addr add 10.251.0.2/24 dev eth0; $IP -n lvcl link set eth0 up; $IP -n lvcl link set lo up
$IP -n lvcl route add default via 10.251.0.1
for v in 1 2 3 4 5; do $IP addr add 10.251.1.$v/32 dev lo; done
sysctl -q -w net.ipv4.ip_forward=1
# The director's settings (as /etc/sysctl.d/ would give them; IPVS's own are reset when
# its module is loaded again).
vs_sysctls() {
    sysctl -q -w net.ipv4.vs.expire_nodest_conn=1 net.ipv4.vs.expire_quiescent_template=1
}
vs_sysctls
# The replies come back through the director with a VIP (one of its own addresses) as source.
for c in all br0; do echo 1 > /proc/sys/net/ipv4/conf/$c/accept_local; echo 0 > /proc/sys/net/ipv4/conf/$c/rp_filter; done

director_start() {
    lvsd -C -n -l -f $CONF -p /tmp/lvsd.pid -c /tmp/lvsd-chk.pid >> $O/director.log 2>&1 &
    echo $! > /tmp/director.pid
    k=0; while [ $k -lt 100 ]; do
        [ "$(ipvsadm -Ln 2>/dev/null | grep -c '^TCP')" = "$1" ] && break
        sleep 0.1; k=$((k+1)); done
    ev "director started services=$(ipvsadm -Ln 2>/dev/null | grep -c '^TCP')"
}
director_stop() {
    kill -TERM $(cat /tmp/director.pid); wait $(cat /tmp/director.pid)
    ipvsadm -C 2>/dev/null
}
rs_start() {
    for n in 2 3; do
        $IP netns exec rs$n lvsd -f $CONF real-server --state-file /tmp/rs$n.state > /dev/null 2>> $O/lvsd-rs$n.log &
        echo $! > /tmp/rs$n.pid
    done
    k=0; while [ $k -lt 100 ]; do
        ok=1
        for n in 2 3; do
            $IP -n rs$n -o addr show dev tunl0 2>/dev/null | grep -q 10.251.1.3/32 || ok=0
            $IP -n rs$n -o addr show dev gre0 2>/dev/null | grep -q 10.251.1.4/32 || ok=0
            $IP -n rs$n fou show 2>/dev/null | grep -q 'port 6080' || ok=0
        done
        [ $ok = 1 ] && break
        sleep 0.1; k=$((k+1)); done
}
rs_stop() {
    for n in 2 3; do kill -TERM $(cat /tmp/rs$n.pid); done
    for n in 2 3; do wait $(cat /tmp/rs$n.pid); echo "exit=$?" >> $O/lvsd-rs$n.log; done
}
snap() { # snap NS: addresses, fou ports and the sysctls lvsd real-server touches
    $IP -n $1 -o addr show | awk '{print $2, $3, $4}'
    $IP -n $1 fou show 2>/dev/null | sed 's/^/fou /'
    for k in all.arp_ignore all.arp_announce lo.arp_ignore lo.arp_announce all.rp_filter; do
        echo "$k=$($IP netns exec $1 sysctl -n net.ipv4.conf.$k)"
    done
}
# probe STEP VIP N: N requests from the client, the answers counted by real server.
probe() {
    a=0 r2=0 r3=0 i=0
    while [ $i -lt $3 ]; do
        ans=$(printf 'GET /index.html HTTP/1.0\r\n\r\n' | $IP netns exec lvcl nc -w 2 $2 80 2>/dev/null | tail -n 1)
        case "$ans" in rs2) a=$((a+1)); r2=$((r2+1));; rs3) a=$((a+1)); r3=$((r3+1));; esac
        i=$((i+1))
    done
    ev "traffic step=$1 vip=$2 answered=$a/$3 rs2=$r2 rs3=$r3"
}
# doc STEP SIDE [CONF]: the doctor of SIDE (director, or rs2/rs3) as JSON in doc-STEP.json
doc() {
    f=$O/doc-$1.json
    if [ "$2" = director ]; then
        lvsd -f ${3:-$CONF} doctor --json --listen ${LISTEN:-0} > $f
    else
        $IP netns exec $2 lvsd -f $CONF real-server doctor --json > $f
    fi
    rc=$?
    # (the checks named as problems or warnings; the notes are in the file)
    ev "doctor step=$1 side=$2 rc=$rc checks=$(awk '/"level": /{ l = $0 }
        /"check": / && l !~ /"info"/ { sub(/.*"check": "/, ""); sub(/".*/, ""); print }' $f | sort -u | tr '\n' ',')"
}
# fix_of STEP CHECK: the fix the doctor printed for CHECK (first such finding).
fix_of() {
    awk -v want="\"check\": \"$2\"," '
        index($0, want) { hit = 1 }
        hit && /"fix": / { sub(/^ *"fix": "/, ""); sub(/",?$/, ""); print; exit }' $O/doc-$1.json
}
# runfix STEP CHECK SIDE: runs the printed fix as it is (its remark in parentheses left
# out; "lvsd real-server (or CMD)": CMD), in SIDE's namespace.
runfix() {
    fix=$(fix_of $1 $2)
    case "$fix" in
        "lvsd real-server (or "*) cmd=${fix#lvsd real-server (or }; cmd=${cmd%)} ;;
        *) cmd=${fix%% (*} ;;
    esac
    ev "fix step=$1 printed=$cmd"
    # (busybox sh would run its own `ip` applet: the real one is called)
    if [ "$3" = director ]; then
        sh -c "ip() { $IP \"\$@\"; }; $cmd"
    else
        $IP netns exec $3 sh -c "ip() { $IP \"\$@\"; }; $cmd"
    fi
    ev "fixed step=$1 rc=$?"
}
undo() { # undo STEP WHAT: the test's own undo, where the printed fix is not a command
    ev "fix step=$1 by-test=$2"
}
arp() { # arp STEP: does anything on br0 answer ARP for the DR VIP?
    n=$(arping -c 1 -w 2 -I br0 10.251.1.1 2>/dev/null | sed -n 's/^Received \([0-9]*\) .*/\1/p')
    ev "arp step=$1 replies=${n:-0}"
}

# --- 1. clean -------------------------------------------------------------------------
for n in 2 3; do snap rs$n > $O/before-rs$n.txt; done
director_start 5
# Without lvsd real-server the real servers drop what the director sends them.
for v in 1 2 3 4; do probe unset 10.251.1.$v 2; done
rs_start
for n in 2 3; do snap rs$n > $O/during-rs$n.txt; done
for v in 1 2 3 4 5; do probe clean 10.251.1.$v 4; done
doc clean-director director
doc clean-rs2 rs2
doc clean-rs3 rs3
arp clean
ipvsadm -Ln > $O/ipvsadm.txt
rs_stop
for n in 2 3; do snap rs$n > $O/after-rs$n.txt; done
probe stopped 10.251.1.1 2

# --- 2. one fault at a time -----------------------------------------------------------
rs_start
probe again 10.251.1.1 4

# The director: IPVS itself missing.
director_stop
rmmod ip_vs_rr ip_vs_sh ip_vs 2>>$O/stderr.txt
ev "fault step=ipvs_module ipvs=$([ -e /proc/net/ip_vs ] && echo yes || echo no)"
probe ipvs_module 10.251.1.1 2
doc ipvs_module director
runfix ipvs_module ipvs_module director
vs_sysctls
director_start 5
probe ipvs_module-fixed 10.251.1.1 4

# A scheduler's module neither loaded nor installed: its service cannot be added.
director_stop
rmmod ip_vs_sh 2>>$O/stderr.txt
mkdir -p /tmp/hidden; mv /lib/modules/$KVER/kernel/net/netfilter/ipvs/ip_vs_sh.ko* /tmp/hidden/
director_start 4
ev "fault step=scheduler_module services=$(ipvsadm -Ln | grep -c '^TCP')"
probe scheduler_module 10.251.1.5 2
doc scheduler_module director
mv /tmp/hidden/ip_vs_sh.ko* /lib/modules/$KVER/kernel/net/netfilter/ipvs/
director_stop
undo scheduler_module "ip_vs_sh reinstalled, director restarted"
director_start 5
probe scheduler_module-fixed 10.251.1.5 4

# Forwarding off on a NAT director.
sysctl -q -w net.ipv4.ip_forward=0
ev "fault step=ip_forward"
probe ip_forward 10.251.1.5 2
doc ip_forward director
runfix ip_forward ip_forward director
probe ip_forward-fixed 10.251.1.5 4

# localnode: the director holds a real server's address; IPVS delivers its share here.
$IP addr add 10.253.0.3/32 dev lo
ev "fault step=localnode"
probe localnode 10.251.1.1 4
doc localnode director
$IP addr del 10.253.0.3/32 dev lo
undo localnode "ip addr del 10.253.0.3/32 dev lo"
probe localnode-fixed 10.251.1.1 4

# Finding only: the expiry sysctls, the sync interface down, the director's rp_filter,
# a DR real server port.
sysctl -q -w net.ipv4.vs.expire_nodest_conn=0
ev "fault step=expire_nodest_conn"
doc expire_nodest_conn director
runfix expire_nodest_conn expire_nodest_conn director
sysctl -q -w net.ipv4.vs.expire_quiescent_template=0
ev "fault step=expire_quiescent_template"
doc expire_quiescent_template director
runfix expire_quiescent_template expire_quiescent_template director
$IP link set sync0 down
ev "fault step=sync_daemon"
doc sync_daemon director
runfix sync_daemon sync_daemon director
doc sync_daemon-fixed director
sysctl -q -w net.ipv4.conf.all.rp_filter=1
ev "fault step=director_rp_filter"
doc director_rp_filter director
sysctl -q -w net.ipv4.conf.all.rp_filter=0
undo director_rp_filter "sysctl -w net.ipv4.conf.all.rp_filter=0"
ev "fault step=port_mapping"
doc port_mapping director /tmp/rs-port.conf
# VRRP adverts dropped by the legacy firewall on the director (finding only: no VRRP runs
# here; tests/doctor.rs shows the split brain it makes).
iptables-legacy -A INPUT -i br0 -p 112 -j DROP
ev "fault step=firewall_vrrp"
doc firewall_vrrp director
runfix firewall_vrrp firewall_vrrp director
doc firewall_vrrp-fixed director
# Another cluster on the VRRP segment with the file's VRID (51) and other addresses: lvsd
# -P in rs3, waited for until it is master. The doctor listens 3 s on br0 and names it;
# the fix (another VRID for one of the clusters) is a file's change: the test stops the
# other cluster.
cat > /tmp/other.conf <<EOF
vrrp_instance OTHER {
  state MASTER
  interface eth0
  virtual_router_id 51
  priority 200
  virtual_ipaddress {
    10.253.0.200/24
  }
}
EOF
$IP netns exec rs3 lvsd -P -n -l -f /tmp/other.conf -p /tmp/other.pid -r /tmp/other-vrrp.pid >> $O/other.log 2>&1 &
OTHER=$!
# (it starts as BACKUP, as keepalived does below priority 255: wait for its adverts)
k=0; while [ $k -lt 100 ] && ! grep -q 'Entering MASTER STATE' $O/other.log 2>/dev/null; do
    sleep 0.1; k=$((k+1)); done
ev "fault step=vrid_conflict"
LISTEN=3 doc vrid_conflict director
kill $OTHER; wait $OTHER
undo vrid_conflict "the other cluster stopped"
LISTEN=3 doc vrid_conflict-fixed director
probe after-director-faults 10.251.1.1 4

# The real servers (rs2): the DR VIP missing.
$IP -n rs2 addr del 10.251.1.1/32 dev lo
ev "fault step=vip_missing"
probe vip_missing 10.251.1.1 4
doc vip_missing rs2
runfix vip_missing vip_missing rs2
probe vip_missing-fixed 10.251.1.1 4

# The DR VIP with a /30 (finding only: the client is outside the /30).
$IP -n rs2 addr del 10.251.1.1/32 dev lo; $IP -n rs2 addr add 10.251.1.1/30 dev lo
ev "fault step=vip_netmask"
probe vip_netmask 10.251.1.1 4
doc vip_netmask rs2
runfix vip_netmask vip_netmask rs2
probe vip_netmask-fixed 10.251.1.1 4

# ARP answered for the VIP.
$IP netns exec rs2 sysctl -q -w net.ipv4.conf.all.arp_ignore=0
ev "fault step=arp_ignore"
arp arp_ignore
doc arp_ignore rs2
runfix arp_ignore arp_ignore rs2
arp arp_ignore-fixed

# The VIP announced as an ARP source (finding only).
$IP netns exec rs2 sysctl -q -w net.ipv4.conf.all.arp_announce=0
ev "fault step=arp_announce"
doc arp_announce rs2
runfix arp_announce arp_announce rs2

# A strict rp_filter (all=1 wins over tunl0's 0): tunnelled packets dropped.
$IP netns exec rs2 sysctl -q -w net.ipv4.conf.all.rp_filter=1
ev "fault step=rp_filter"
probe rp_filter 10.251.1.2 4
doc rp_filter rs2
runfix rp_filter rp_filter rs2
probe rp_filter-fixed 10.251.1.2 4

# tunl0 down (ipip).
$IP -n rs2 link set tunl0 down
ev "fault step=tunl0_down"
probe tunl0_down 10.251.1.2 4
doc tunl0_down rs2
runfix tunl0_down tunnel_device rs2
probe tunl0_down-fixed 10.251.1.2 4

# The GUE port closed.
$IP -n rs2 fou del port 6080
ev "fault step=gue_port"
probe gue_port 10.251.1.3 4
doc gue_port rs2
runfix gue_port gue_port rs2
probe gue_port-fixed 10.251.1.3 4

# gre0 down.
$IP -n rs2 link set gre0 down
ev "fault step=gre0_down"
probe gre0_down 10.251.1.4 4
doc gre0_down rs2
runfix gre0_down tunnel_device rs2
probe gre0_down-fixed 10.251.1.4 4

# tunl0 missing: the ipip module unloaded under the running real servers (both lose it).
rmmod ipip 2>>$O/stderr.txt
# (asked by name, `ip link show tunl0` would load the module again: netdev-tunl0 alias)
ev "fault step=tunl0_missing ipip=$([ -d /sys/module/ipip ] && echo loaded || echo unloaded)"
probe tunl0_missing 10.251.1.2 2
doc tunl0_missing rs2
runfix tunl0_missing tunnel_device rs2
# The module alone brings back a bare tunl0 (down, no VIP): the printed fix's other half,
# lvsd real-server, is run again on both.
doc tunl0_missing-modprobed rs2
rs_stop
rs_start
ev "refix step=tunl0_missing by-test=lvsd real-server restarted on rs2 and rs3"
probe tunl0_missing-fixed 10.251.1.2 4

# The service bound to the RIP only.
kill $(cat /tmp/httpd2.pid); wait $(cat /tmp/httpd2.pid) 2>/dev/null
start_httpd 2 10.253.0.2:80; sleep 0.3
ev "fault step=listener"
probe listener 10.251.1.1 4
probe listener-nat 10.251.1.5 2
doc listener rs2
kill $(cat /tmp/httpd2.pid); wait $(cat /tmp/httpd2.pid) 2>/dev/null
start_httpd 2 80; sleep 0.3
undo listener "httpd restarted on every address (the printed fix: bind the service to the VIP or to every address)"
probe listener-fixed 10.251.1.1 4

# NAT: the real servers' default route around the director (to 10.253.0.99, a router that
# is not the director; none answers here): the NAT replies never reach the client with
# the VIP as source. On both, since sh sends this client to one of them.
for n in 2 3; do $IP -n rs$n route replace default via 10.253.0.99; done
ev "fault step=nat_route"
probe nat_route 10.251.1.5 2
doc nat_route rs2
doc nat_route-rs3 rs3
runfix nat_route nat_route rs2
runfix nat_route-rs3 nat_route rs3
probe nat_route-fixed 10.251.1.5 4

for v in 1 2 3 4 5; do probe final 10.251.1.$v 4; done
rs_stop
director_stop
echo done > $O/done.txt
