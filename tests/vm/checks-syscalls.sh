#!/bin/sh
# Guest (a developer's probe, not a test): the system calls per HTTP_GET check of
# keepalived -C and lvsd -C, counted with `strace -c -f` on the daemon's checking
# process (keepalived's checker child; every thread of lvsd) for WINDOW s, against the
# counting server of checks-load.sh. N x M HTTP_GET checkers (status and MD5 digest), every
# DELAY s. Needs strace in the guest (scripts/vm/run.sh with LVSD_BINS=… /usr/bin/strace).
# First, without strace, the user and system time (/proc/PID/stat, in ticks of 10 ms) and
# the context switches of that process's threads over WINDOW s and the checks done then,
# and the guest's clock source.
# Writes /mnt/checks-syscalls.txt: per daemon the checks done in the window and strace's
# table. Args: N M DELAY WINDOW [DAEMONS] (keepalived+lvsd; lvsd-old: a binary of that name
# in LVSD_BINS)
N=${1:-10}; M=${2:-20}; DELAY=${3:-1}; WINDOW=${4:-20}
DAEMONS=$(echo "${5:-keepalived+lvsd}" | tr + ' ')
IP=/usr/sbin/ip
OUT=/mnt/checks-syscalls.txt; : > $OUT
say() { echo "$*"; echo "$*" >> $OUT; }
D=/tmp/cs; mkdir -p $D
DIGEST=$(printf 'ok\n' | md5sum | cut -d' ' -f1)
modprobe ip_vs_wlc
awk -v n="$N" -v m="$M" -v delay="$DELAY" -v digest="$DIGEST" 'BEGIN {
    check = "  HTTP_GET {\n   url {\n    path /health\n    digest " digest "\n    status_code 200\n   }\n   connect_timeout 3\n   retry 1\n   delay_before_retry 1\n  }\n"
    for (i = 0; i < n; i++) {
        printf "virtual_server 10.100.0.%d 80 {\n lb_algo wlc\n lb_kind NAT\n protocol TCP\n delay_loop %d\n", i, delay
        for (j = 0; j < m; j++)
            printf " real_server 192.168.0.%d 8080 {\n  weight 1\n%s }\n", 1 + j, check
        printf "}\n"
    } }' > $D/http.conf
say "clocksource=$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
# ticks PID: its user and system ticks so far
ticks() { awk '{ print $14, $15 }' /proc/$1/stat; }
# switches PID: context switches of all its threads so far (voluntary + involuntary)
switches() { cat /proc/$1/task/*/status | awk '/ctxt_switches/ { n += $2 } END { print n }'; }
accepted() { sed -n 's/^accepted=\([0-9]*\).*/\1/p' "$1" 2>/dev/null; }
for w in $DAEMONS; do
    ns=cs-$w
    $IP netns add $ns && $IP -n $ns link set lo up
    $IP -n $ns route add local 192.168.0.0/16 dev lo
    $IP netns exec $ns lvsd-ipvs serve 0.0.0.0:8080 $D/$ns.count &
    spid=$!
    if [ $w = keepalived ]; then
        $IP netns exec $ns keepalived -C -n -l -G -f $D/http.conf -p $D/$ns.pid -c $D/$ns.chk.pid > $D/$ns.log 2>&1 &
    else
        # lvsd, or lvsd-old (an older build put in the guest under that name)
        $IP netns exec $ns $w -C -n -l -f $D/http.conf -p $D/$ns.pid -c $D/$ns.chk.pid > $D/$ns.log 2>&1 &
    fi
    dpid=$!
    sleep $((2 * DELAY + 8))
    if [ $w = keepalived ]; then
        target="-p $(cat $D/$ns.chk.pid)"
    else
        target=""
        for t in /proc/$dpid/task/*; do target="$target -p ${t##*/}"; done
    fi
    pid=$dpid; [ $w = keepalived ] && pid=$(cat $D/$ns.chk.pid)
    set -- $(ticks $pid); u0=$1 s0=$2; n0=$(accepted $D/$ns.count); x0=$(switches $pid)
    sleep $WINDOW
    set -- $(ticks $pid); u1=$1 s1=$2; n1=$(accepted $D/$ns.count); x1=$(switches $pid)
    say "CS-CPU $w checks=$((n1 - n0)) user_ticks=$((u1 - u0)) sys_ticks=$((s1 - s0)) us_per_check=$(( (u1 - u0 + s1 - s0) * 10000 / (n1 - n0) )) switches=$((x1 - x0))"
    n0=$(accepted $D/$ns.count)
    # shellcheck disable=SC2086
    timeout -s INT $WINDOW strace -c -f $target -o $D/$ns.strace
    sleep 1
    n1=$(accepted $D/$ns.count)
    say "CS $w checks=$((n1 - n0)) window=$WINDOW"
    cat $D/$ns.strace >> $OUT
    kill -TERM $dpid; sleep 3; kill $spid
    $IP netns del $ns
done
