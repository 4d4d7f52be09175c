#!/bin/sh
N=1000; M=20
C=/tmp/bench.conf
awk -v n=$N -v m=$M 'BEGIN {
    for (i = 0; i < n; i++) {
        printf "virtual_server 10.%d.%d.%d 80 {\n lb_algo wlc\n lb_kind NAT\n protocol TCP\n", 100 + int(i/65536), int(i/256)%256, i%256
        for (j = 0; j < m; j++) printf " real_server 192.168.%d.%d 8080 { weight 1 }\n", int(j/250), 1 + j%250
        printf "}\n"
    } }' > $C
ms() { awk '{printf "%d\n", $1*1000}' /proc/uptime; }
t0=$(ms); lvsd -t -f $C > /mnt/probe-t.log 2>&1; t1=$(ms); echo "PROBE parse_ms=$((t1-t0))" | tee -a /mnt/probe.txt
t0=$(ms); keepalived -t -f $C > /dev/null 2>&1; t1=$(ms); echo "PROBE ka_parse_ms=$((t1-t0))" | tee -a /mnt/probe.txt
want=$((N * M + N))
t0=$(ms)
lvsd -C -n -l -D -f $C -p /tmp/lvsd.pid > /mnt/probe-lvsd.log 2>&1 &
pid=$!
while :; do
    have=$(grep -c -E '^(TCP|UDP|  ->)' /proc/net/ip_vs)
    echo "PROBE t=$(( $(ms) - t0 )) have=$have" >> /mnt/probe.txt
    [ "$have" -ge "$want" ] && break
    [ $(( $(ms) - t0 )) -gt 120000 ] && break
    sleep 0.5
done
echo "PROBE done ms=$(( $(ms) - t0 ))" | tee -a /mnt/probe.txt
kill -TERM $pid; wait $pid
exit 0
