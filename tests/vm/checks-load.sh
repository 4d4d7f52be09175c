#!/bin/sh
# Guest: checks under load. keepalived -C and lvsd -C in turn on one keepalived.conf of N
# virtual servers x M real servers, each real server with a TCP_CHECK (KIND tcp) or an
# HTTP_GET checking status and MD5 digest (KIND http), every DELAY s, connect_timeout TO,
# retry 1, delay_before_retry 1, checker_log_all_failures. Each run in a network namespace
# of its own, where 192.168.0.0/16 is local and `lvsd-ipvs serve` answers on port 8080 and
# counts the connections it accepts: the checks done, counted the same way for both daemons
# (the server runs at nice -10, above the daemons and the busy loops, with a backlog of
# 4096; the SYNs dropped by a full backlog are reported as listen_drops).
# Per run, after the first checks (2 x DELAY + 10 s):
#   idle: for WINDOW s, the CPU (user + system, /proc) of the daemon's processes divided by
#     the checks done;
#   busy: BUSY busy loops (sh, nice 0 as the daemons) started, 2 s later for WINDOW s the
#     same figures; then the loops are stopped. From the start of that window until
#     2 x TO + 4 s after the loops stopped: the real servers missing from `ipvsadm -S -n` at
#     least once (polled about every second), the fewest in the table at one poll, and the
#     "Removing service" and "timeout" lines the daemon logged.
# One line per run on stdout and in /mnt/checks-load.txt:
#   CL round=R KIND DAEMON PHASE cpu_ms=… checks=… us_per_check=… [out=… min_in=… removed=… timeouts=…]
# Args: N M DELAY WINDOW KINDS ROUNDS BUSY TO [DAEMONS]. KINDS: tcp, http or tcp+http.
# ROUNDS rounds alternate the daemons' order. BUSY 0: two loops per CPU. DAEMONS: names
# joined by '+' (default keepalived+lvsd; lvsd-old runs /usr/local/bin/lvsd-old, an older
# lvsd build).
N=${1:-50}; M=${2:-20}; DELAY=${3:-10}; WINDOW=${4:-60}
KINDS=$(echo "${5:-tcp+http}" | tr + ' ')
ROUNDS=${6:-1}
BUSY=${7:-0}
TO=${8:-3}
DAEMONS=$(echo "${9:-keepalived+lvsd}" | tr + ' ')
CPUS=$(grep -c ^processor /proc/cpuinfo)
[ "$BUSY" = 0 ] && BUSY=$((2 * CPUS))
IP=/usr/sbin/ip
OUT=/mnt/checks-load.txt; : > $OUT
say() { echo "$*"; echo "$*" >> $OUT; }
. /tests/benchlib.sh
D=/tmp/cl; mkdir -p $D
DIGEST=$(printf 'ok\n' | md5sum | cut -d' ' -f1)
LAST=$(bench_last $N)
say "CL-CONFIG services=$N dests_per_service=$M checkers=$((N * M)) delay_loop=$DELAY connect_timeout=$TO window=$WINDOW kinds=$(echo $KINDS | tr ' ' +) rounds=$ROUNDS cpus=$CPUS busy_loops=$BUSY daemons=$(echo $DAEMONS | tr ' ' +)"
modprobe ip_vs_wlc

# conf FILE KIND
conf() {
    awk -v n="$N" -v m="$M" -v delay="$DELAY" -v to="$TO" -v kind="$2" -v digest="$DIGEST" 'BEGIN {
        if (kind == "tcp")
            check = "  TCP_CHECK {\n   connect_timeout " to "\n   retry 1\n   delay_before_retry 1\n  }\n"
        else
            check = "  HTTP_GET {\n   url {\n    path /health\n    digest " digest "\n    status_code 200\n   }\n   connect_timeout " to "\n   retry 1\n   delay_before_retry 1\n  }\n"
        printf "global_defs {\n checker_log_all_failures\n}\n"
        for (i = 0; i < n; i++) {
            printf "virtual_server 10.%d.%d.%d 80 {\n lb_algo wlc\n lb_kind NAT\n protocol TCP\n delay_loop %d\n", 100 + int(i/65536), int(i/256)%256, i%256, delay
            for (j = 0; j < m; j++)
                printf " real_server 192.168.%d.%d 8080 {\n  weight 1\n%s }\n", int(j/250), 1 + j%250, check
            printf "}\n"
        } }' > "$1"
}

binary() {
    case $1 in
    keepalived) echo keepalived ;;
    lvsd-old) echo /usr/local/bin/lvsd-old ;;
    *) echo /usr/local/bin/lvsd ;;
    esac
}

up_s() { cut -d. -f1 /proc/uptime; }
accepted() { sed -n 's/^accepted=\([0-9]*\).*/\1/p' "$1" 2>/dev/null; }
# listen_drops NS: SYNs the namespace's listeners dropped so far (TcpExt ListenDrops)
listen_drops() {
    $IP netns exec $1 cat /proc/net/netstat | awk '/^TcpExt:/ {
        if (!h) { for (i = 2; i <= NF; i++) name[i] = $i; h = 1 }
        else for (i = 2; i <= NF; i++) if (name[i] == "ListenDrops") print $i }'
}
cpu_ms() { lvsd-ipvs cpu "$1" | sed -n 's/^cpu_ms=\([0-9]*\).*/\1/p'; }
per_check() { echo "$1 $2" | awk '{ printf "%.0f", ($2 > 0 ? 1000 * $1 / $2 : 0) }'; }

# one run of daemon $1 with checks of kind $2 in round $3
run() {
    w=$1 kind=$2 r=$3 ns=cl-$2-$1-$3
    bin=$(binary $w)
    C=$D/$ns.conf L=$D/$ns.log COUNT=$D/$ns.count
    tag="CL round=$r $kind $w"
    conf $C $kind
    $IP netns add $ns && $IP -n $ns link set lo up
    $IP -n $ns route add local 192.168.0.0/16 dev lo
    # above the daemons and the busy loops: the real servers are not what is measured
    $IP netns exec $ns lvsd-ipvs serve 0.0.0.0:8080 $COUNT &
    spid=$!
    renice -n -10 -p $spid > /dev/null
    x() { $IP netns exec $ns lvsd-ipvs "$@"; }
    if [ $w = keepalived ]; then
        args="-C -n -l -G -f $C -p $D/$ns.pid -c $D/$ns.chk.pid"
    else
        args="-C -n -l -f $C -p $D/$ns.pid -c $D/$ns.chk.pid"
    fi
    res=$(x await spawn=$L last=$LAST:$M entries=$((N + N * M)) -- $bin $args 2>&1)
    pid=$(echo "$res" | sed -n 's/.*pid=\([0-9]*\).*/\1/p')
    if [ -z "$pid" ]; then
        say "$tag failed to start: $res"
        kill $spid; $IP netns del $ns; return
    fi
    sleep $((2 * DELAY + 10))
    $IP netns exec $ns ipvsadm -S -n | grep '^-a' | sort > $D/$ns.full
    # idle
    c0=$(cpu_ms $pid) n0=$(accepted $COUNT) d0=$(listen_drops $ns)
    sleep $WINDOW
    c1=$(cpu_ms $pid) n1=$(accepted $COUNT) d1=$(listen_drops $ns)
    say "$tag idle cpu_ms=$((c1 - c0)) checks=$((n1 - n0)) us_per_check=$(per_check $((c1 - c0)) $((n1 - n0))) in=$(wc -l < $D/$ns.full) listen_drops=$((d1 - d0))"
    # busy
    loops=""
    k=0
    while [ $k -lt $BUSY ]; do
        sh -c 'while :; do :; done' &
        loops="$loops $!"
        k=$((k + 1))
    done
    sleep 2
    lines0=$(wc -l < $L)
    c0=$(cpu_ms $pid) n0=$(accepted $COUNT) d0=$(listen_drops $ns)
    : > $D/$ns.missing
    min_in=$(wc -l < $D/$ns.full)
    # poll_table SECONDS: the table about every second for that long
    poll_table() {
        t0=$(up_s)
        while [ $(($(up_s) - t0)) -lt $1 ]; do
            $IP netns exec $ns ipvsadm -S -n | grep '^-a' | sort > $D/$ns.cur
            in=$(wc -l < $D/$ns.cur)
            [ $in -lt $min_in ] && min_in=$in
            [ $in -lt $(wc -l < $D/$ns.full) ] && awk 'NR == FNR { have[$0] = 1; next } !($0 in have)' $D/$ns.cur $D/$ns.full >> $D/$ns.missing
            sleep 1
        done
    }
    t_busy=$(up_s)
    poll_table $WINDOW
    secs=$(($(up_s) - t_busy))
    c1=$(cpu_ms $pid) n1=$(accepted $COUNT) d1=$(listen_drops $ns)
    kill $loops
    wait $loops 2>/dev/null
    # what the saturation set off shows within a retry: counted too
    poll_table $((2 * TO + 4))
    tail -n +$((lines0 + 1)) $L > $D/$ns.busy.log
    out=$(sort -u $D/$ns.missing | wc -l)
    removed=$(grep -c 'Removing service' $D/$ns.busy.log)
    timeouts=$(grep -ci 'timeout' $D/$ns.busy.log)
    say "$tag busy cpu_ms=$((c1 - c0)) checks=$((n1 - n0)) us_per_check=$(per_check $((c1 - c0)) $((n1 - n0))) out=$out min_in=$min_in removed=$removed timeouts=$timeouts secs=$secs listen_drops=$((d1 - d0))"
    x await signal=$pid:TERM empty timeout=120 > /dev/null
    if ! x await gone=$pid timeout=60 > /dev/null; then
        kill -KILL $pid $(cat $D/$ns.chk.pid 2>/dev/null)
    fi
    cp $L /mnt/$ns.log 2>/dev/null
    kill $spid
    wait $spid 2>/dev/null
    $IP netns del $ns
}

for r in $(seq 1 "$ROUNDS"); do
    for kind in $KINDS; do
        order=$DAEMONS
        # alternate which daemon goes first
        [ $((r % 2)) = 0 ] && order=$(echo $DAEMONS | tr ' ' '\n' | sed '1!G;h;$!d' | tr '\n' ' ')
        for w in $order; do
            say "CL round=$r $kind $w $(quiet)"
            run $w $kind $r
        done
    done
done
exit 0
