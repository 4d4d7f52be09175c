#!/bin/bash
# The main job, on one machine: build lvsd, check the example configs, then run a master
# and a backup director (VRRP side) in their own network namespaces on one bridge and
# watch the virtual IP move when the master stops. Needs root; touches nothing outside
# the namespaces it creates (lvsdemo-*), which it removes on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
# The dev profile builds in a few minutes and shares its artifacts with the test suite;
# install a production director from `cargo build --release` instead.
cargo build --quiet --bin lvsd
LVSD=$PWD/target/debug/lvsd
echo "== lvsd -t on the example configs"
"$LVSD" -t -f examples/keepalived.conf && echo "examples/keepalived.conf: OK"
"$LVSD" -t -f examples/keepalived-backup.conf && echo "examples/keepalived-backup.conf: OK"

IP=/usr/sbin/ip; [ -x $IP ] || IP=ip
WD=$(mktemp -d /tmp/lvsdemo.XXXXXX)
VIP=192.0.2.100
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    sleep 0.5
    for ns in lvsdemo-a lvsdemo-b lvsdemo-br; do $IP netns del $ns 2>/dev/null || true; done
    [ "${KEEP:-0}" = 1 ] || rm -rf "$WD"
}
trap cleanup EXIT

for ns in lvsdemo-br lvsdemo-a lvsdemo-b; do
    $IP netns del $ns 2>/dev/null || true; $IP netns add $ns; $IP -n $ns link set lo up
done
$IP -n lvsdemo-br link add br0 type bridge; $IP -n lvsdemo-br link set br0 up
i=1
for n in a b; do
    $IP -n lvsdemo-br link add p$n type veth peer name eth0 netns lvsdemo-$n
    $IP -n lvsdemo-br link set p$n master br0 up
    $IP -n lvsdemo-$n addr add 192.0.2.$i/24 dev eth0
    $IP -n lvsdemo-$n link set eth0 up
    i=$((i + 1))
done

conf() {  # conf NAME STATE PRIORITY
    cat > "$WD/$1.conf" <<CONF
global_defs { router_id director-$1 }
vrrp_instance VI_1 {
    state $2
    interface eth0
    virtual_router_id 51
    priority $3
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass demo
    }
    virtual_ipaddress { $VIP/24 dev eth0 }
    notify "/bin/sh -c 'echo \$0 \$1 \$2 \$3 \$4 >> $WD/$1.notify' notify"
}
CONF
}
conf a MASTER 150
conf b BACKUP 100
for n in a b; do
    $IP netns exec lvsdemo-$n "$LVSD" -P -n -l -f "$WD/$n.conf" -p "$WD/$n.pid" -r "$WD/$n.vrrp.pid" \
        > "$WD/$n.log" 2>&1 &
    PIDS+=($!)
done
holder() {
    for n in a b; do
        $IP -n lvsdemo-$n -4 addr show dev eth0 | grep -q " $VIP/" && { echo "director-$n"; return; }
    done
    echo "nobody"
}
wait_for() {  # wait_for HOLDER SECONDS
    local end=$((SECONDS + $2))
    while [ $SECONDS -lt $end ]; do [ "$(holder)" = "$1" ] && return 0; sleep 0.1; done
    return 1
}
echo "== two directors started (a: priority 150, b: priority 100)"
fail() { echo "demo failed: $1"; for n in a b; do echo "--- director-$n log"; cat "$WD/$n.log"; done; exit 1; }
wait_for director-a 10 || fail "director-a never took the VIP"
echo "VIP $VIP is held by: $(holder)"
echo "== SIGTERM to director-a (it resigns with a priority-0 advert)"
t0=$(date +%s%N)
kill -TERM "${PIDS[0]}"
wait_for director-b 10 || fail "director-b did not take over"
echo "VIP moved to $(holder) after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
echo "== director-a comes back and preempts"
$IP netns exec lvsdemo-a "$LVSD" -P -n -l -f "$WD/a.conf" -p "$WD/a.pid" -r "$WD/a.vrrp.pid" >> "$WD/a.log" 2>&1 &
PIDS+=($!)
wait_for director-a 10 || fail "director-a did not preempt"
echo "VIP is back on $(holder)"
echo "== state changes logged by director-b"
grep -E "Entering|STATE" "$WD/b.log" | sed 's/^/   /' || true
echo "== notify script calls on director-b (keepalived's arguments)"
sed 's/^/   /' "$WD/b.notify" 2>/dev/null || true
