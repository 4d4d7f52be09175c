#!/bin/sh
# Guest: the whole lifecycle of keepalived -C and lvsd -C on one keepalived.conf of N
# virtual servers x M real servers, each real server with a TCP_CHECK that succeeds
# (benchlib's lifecycle_conf): config test, cold start, reloads, a refused reload, memory,
# teardown. ROUNDS rounds (after a warm-up round 0, reported, not counted) alternating
# which daemon goes first, each run in a network namespace of its own (an IPVS table of
# its own). One line per phase on stdout and in /mnt/lifecycle.txt:
#   LC round=R DAEMON PHASE ms=… (or failed=STAGE) …   and   LC round=R DAEMON rss_PHASE kb=…
# Args: N M ROUNDS [DAEMONS] [DELAY] [PHASES] [CHECKS] [LVSD_FLAGS]. DAEMONS: two names joined by '+'
# (default keepalived+lvsd; lvsd-old runs /usr/local/bin/lvsd-old, an older lvsd build).
# PHASES: all (default), paired (the no-op and +-100 real server reloads only) or start
# (config test, cold start and teardown only). CHECKS: tcp (default) or none (see
# benchlib's lifecycle_conf).
N=${1:-1000}; M=${2:-20}; ROUNDS=${3:-3}
DAEMONS=$(echo "${4:-keepalived+lvsd}" | tr + ' ')
DELAY=${5:-300}
PHASES=${6:-all}
CHECKS=${7:-tcp}
# extra flags for lvsd (not lvsd-old), e.g. --ipvs-heal-interval=0; `-` for none
LVSD_FLAGS=${8:--}
[ "$LVSD_FLAGS" = - ] && LVSD_FLAGS=
IP=/usr/sbin/ip
OUT=/mnt/lifecycle.txt; : > $OUT
say() { echo "$*"; echo "$*" >> $OUT; }
. /tests/benchlib.sh
D=/tmp/lc; mkdir -p $D
for v in base weights rs_add vs_add check broken; do lifecycle_conf $D/$v.conf $N $M $v $DELAY $CHECKS; done
LAST=$(bench_last $N)
say "LC-CONFIG services=$N dests_per_service=$M entries=$((N * M + N)) checks=$CHECKS delay_loop=$DELAY rounds=$ROUNDS daemons=$(echo $DAEMONS | tr ' ' +) phases=$PHASES lvsd_flags=${LVSD_FLAGS:-none}"
modprobe ip_vs_wlc

# what each daemon logs when a reload is done, or refused
done_mark() {
    case $1 in
    keepalived) echo "Reload complete" ;;
    *) echo "Reload of the LVS side done" ;;
    esac
}
# keepalived: its check of the new file (reload_check_config) runs as a child given 5 s;
# under TCG `keepalived -t` alone takes longer at 1,000 x 20, so the check can time out
# ("config check timed out"), which also refuses the file and leaves the table as it is.
# The line seen is printed with the figure.
refused_mark() {
    case $1 in
    keepalived) echo "New config failed validation|config check timed out" ;;
    *) echo "Reload refused" ;;
    esac
}
binary() {
    case $1 in
    keepalived) echo keepalived ;;
    lvsd-old) echo /usr/local/bin/lvsd-old ;;
    *) echo /usr/local/bin/lvsd ;;
    esac
}

# one run of daemon $1 in round $2
run() {
    w=$1 r=$2 ns=lc-$1-$2
    bin=$(binary $w)
    C=$D/$ns.conf L=$D/$ns.log
    tag="LC round=$r $w"
    $IP netns add $ns && $IP -n $ns link set lo up
    # every real server address is local in the namespace, and something accepts on 8080
    $IP -n $ns route add local 192.168.0.0/16 dev lo
    $IP netns exec $ns lvsd-ipvs listen 0.0.0.0:8080 &
    lpid=$!
    x() { $IP netns exec $ns lvsd-ipvs "$@"; }
    cp $D/base.conf $C
    say "$tag test $(x await spawn=$D/$ns.test.log exit -- $bin -t -f $C)"
    if [ $w = keepalived ]; then
        args="-C -n -l -G -f $C -p $D/$ns.pid -c $D/$ns.chk.pid"
    else
        args="-C -n -l -f $C -p $D/$ns.pid -c $D/$ns.chk.pid"
        [ $w = lvsd ] && args="$args $LVSD_FLAGS"
    fi
    set -- $(lifecycle_expect $N $M base)
    res=$(x await spawn=$L last=$LAST:$M entries=$1 weights=$2 -- $bin $args 2>&1)
    say "$tag start $res"
    pid=$(echo "$res" | sed -n 's/.*pid=\([0-9]*\).*/\1/p')
    if [ -z "$pid" ]; then
        kill $lpid; $IP netns del $ns; return
    fi
    sleep 5
    say "$tag rss_start $(x rss $pid)"
    if [ "$PHASES" != start ]; then
        # PHASE FILE EXPECT MARK: put FILE in place, SIGHUP, until the daemon says it is done
        # and the table is what FILE says
        reload() {
            phase=$1 file=$2 expect=$3
            # MARK: one or two lines ('|' between them), any one of them says done
            mark=${4%%|*} mark2=
            [ "$mark" != "$4" ] && mark2=${4#*|}
            set -- $(lifecycle_expect $N $M $expect)
            cp $D/$file.conf $C
            say "$tag $phase $(x await signal=$pid:HUP log=$L "mark=$mark" ${mark2:+"mark=$mark2"} entries=$1 weights=$2)"
            sleep 3
        }
        ok=$(done_mark $w)
        reload noop base base "$ok"
        if [ "$PHASES" = all ]; then
            reload weights weights weights "$ok"
            reload weights_back base base "$ok"
        fi
        reload rs_add rs_add rs_add "$ok"
        reload rs_del base base "$ok"
        if [ "$PHASES" = all ]; then
            reload vs_add vs_add vs_add "$ok"
            reload vs_del base base "$ok"
            reload enable_check check check "$ok"
            reload broken broken check "$(refused_mark $w)"
        fi
        say "$tag rss_reloads $(x rss $pid)"
    fi
    # the figure: until the table is empty; then until the daemon's processes are gone
    say "$tag teardown $(x await signal=$pid:TERM empty timeout=${TEARDOWN_LIMIT:-180})"
    if ! x await gone=$pid timeout=60 > /dev/null; then
        say "$tag still running 60 s after the table check: killed"
        kill -KILL $pid $(cat $D/$ns.chk.pid 2>/dev/null)
    fi
    left=$($IP netns exec $ns ipvsadm -Ln | grep -c -E '^(TCP|UDP|SCTP|FWM) |^  -> [0-9]')
    if [ "$left" -gt 0 ]; then
        # what the daemon left is flushed here, at once, not by the namespace's removal:
        # the kernel frees a deleted namespace's table in its background, into the next run
        t0=$(date +%s)
        $IP netns exec $ns ipvsadm -C
        left="$left (flushed by the bench in $(( $(date +%s) - t0 )) s)"
    fi
    say "$tag left entries=$left"
    cp $L /mnt/$ns.log 2>/dev/null
    kill $lpid
    wait $lpid 2>/dev/null
    $IP netns del $ns
}

for r in $(seq 0 "$ROUNDS"); do
    order=$DAEMONS
    # alternate which daemon goes first
    [ $((r % 2)) = 1 ] && order=$(echo $DAEMONS | tr ' ' '\n' | sed '1!G;h;$!d' | tr '\n' ' ')
    for w in $order; do
        say "LC round=$r $w $(quiet)"
        run $w $r
    done
done
exit 0
