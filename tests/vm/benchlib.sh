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

# lifecycle_conf FILE N M VARIANT [DELAY] [CHECKS]: the lifecycle bench's keepalived.conf,
# the table of bench_conf with (CHECKS=tcp, the default) a TCP_CHECK on every real server
# (its own address and port, every DELAY s, default 300; lifecycle.sh makes 192.168.0.0/16
# local and listens on port 8080, so every check succeeds and every real server stays up)
# or (CHECKS=none) no checker, as bench_conf (all real servers up). VARIANT: base; weights (the
# first real server of the first 10 virtual servers at weight 2); rs_add (one more real
# server, 192.168.200.1, in each of the first 100); vs_add (10 more virtual servers of M);
# check (base with global_defs' reload_check_config, so that keepalived checks a new file
# before it reloads, as lvsd always does); broken (check cut short: the last `}` missing).
lifecycle_conf() {
    awk -v n="$2" -v m="$3" -v variant="$4" -v delay="${5:-300}" -v checks="${6:-tcp}" 'BEGIN {
        check = checks == "tcp" ? "  TCP_CHECK {\n   connect_timeout 3\n  }\n" : ""
        if (variant == "check" || variant == "broken")
            printf "global_defs {\n reload_check_config /tmp/reload-check.log\n}\n"
        nv = n + (variant == "vs_add" ? 10 : 0)
        for (i = 0; i < nv; i++) {
            printf "virtual_server 10.%d.%d.%d 80 {\n lb_algo wlc\n lb_kind NAT\n protocol TCP\n delay_loop %d\n", 100 + int(i/65536), int(i/256)%256, i%256, delay
            for (j = 0; j < m; j++) {
                w = (variant == "weights" && i < 10 && j == 0) ? 2 : 1
                printf " real_server 192.168.%d.%d 8080 {\n  weight %d\n%s }\n", int(j/250), 1 + j%250, w, check
            }
            if (variant == "rs_add" && i < 100)
                printf " real_server 192.168.200.1 8080 {\n  weight 1\n%s }\n", check
            if (!(variant == "broken" && i == nv - 1))
                printf "}\n"
        } }' > "$1"
}

# lifecycle_expect N M VARIANT: "ENTRIES WEIGHTS" of the table lifecycle_conf's VARIANT
# gives (broken: the running one, check's).
lifecycle_expect() {
    case $3 in
    weights) echo "$(($1 + $1 * $2)) $(($1 * $2 + 10))" ;;
    rs_add) echo "$(($1 + $1 * $2 + 100)) $(($1 * $2 + 100))" ;;
    vs_add) echo "$(($1 + 10 + ($1 + 10) * $2)) $((($1 + 10) * $2))" ;;
    *) echo "$(($1 + $1 * $2)) $(($1 * $2))" ;;
    esac
}
