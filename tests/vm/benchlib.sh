# Sourced by the guest's bench and probe scripts.

# bench_conf FILE N M: the keepalived.conf both daemons are timed on: N virtual servers
# (10.100.0.0 on, port 80, wlc, NAT, TCP) of M real servers each (192.168.x.y:8080, weight
# 1), no checkers (all real servers up).
bench_conf() {
    awk -v n="$2" -v m="$3" 'BEGIN {
        for (i = 0; i < n; i++) {
            printf "virtual_server 10.%d.%d.%d 80 {\n lb_algo wlc\n lb_kind NAT\n protocol TCP\n", 100 + int(i/65536), int(i/256)%256, i%256
            for (j = 0; j < m; j++) printf " real_server 192.168.%d.%d 8080 { weight 1 }\n", int(j/250), 1 + j%250
            printf "}\n"
        } }' > "$1"
}

# bench_last N: the last service of that configuration (ADDR:PORT). Both daemons add the
# services in the configuration's order, each followed by its real servers, so the table is
# complete when this one has all M.
bench_last() {
    i=$(($1 - 1))
    echo "10.$((100 + i / 65536)).$((i / 256 % 256)).$((i % 256)):80"
}

# quiet: waits (60 s at most) until the guest has been under 3 % busy for two seconds in a
# row, and says how long that took. Freeing a namespace's IPVS table (21,000 entries) goes
# on in the kernel's background after `ip netns del`, partly after RCU grace periods, and
# would load the next run. (The per-CPU memory in use is no sign of it: the kernel keeps
# the per-CPU chunks it populated for the table.)
quiet() {
    n=0 calm=0
    while [ $n -lt 60 ] && [ $calm -lt 2 ]; do
        a=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat)
        sleep 1
        b=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat)
        busy=$(echo "$a $b" | awk '{u=$3-$1; i=$4-$2; print (u+i) ? int(100*u/(u+i)) : 0}')
        n=$((n + 1))
        if [ "$busy" -lt 3 ]; then calm=$((calm + 1)); else calm=0; fi
    done
    echo "quiet after ${n}s (busy ${busy}%)"
}
