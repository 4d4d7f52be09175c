#!/bin/bash
# scripts/vm/build-initramfs.sh OUT [HOSTBIN...] - pack the guest root filesystem (newc cpio,
# uncompressed: fastest to boot under TCG): busybox-static with its applets, iproute2 `ip`,
# ipvsadm, iptables-legacy (+ its -save, its extensions, iptable_filter), keepalived (+ shared libraries from ldd; $VM_KEEPALIVED: another keepalived build
# instead of Debian's /usr/sbin/keepalived), the given binaries in /usr/local/bin,
# the repo's tests/vm as /tests, the IPVS kernel modules with a depmod'ed modules.dep, and
# scripts/vm/init as /init.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
W=${VM_DIR:-$ROOT/target/vm}
KVER=$(cat "$W/kver")
KROOT=$W/kernel
OUT=$1; shift
MODS="crc32c_generic ip_vs ip_vs_rr ip_vs_wrr ip_vs_lc ip_vs_wlc ip_vs_lblc ip_vs_lblcr
      ip_vs_dh ip_vs_sh ip_vs_sed ip_vs_nq ip_vs_fo ip_vs_ovf ip_vs_mh ip_vs_pe_sip
      ip_vs_ftp virtio_pci 9pnet_virtio 9p veth bridge dummy ipip ip_gre fou iptable_filter"

R=$(mktemp -d "$W/root.XXXXXX")
trap 'rm -rf "$R"' EXIT
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,usr/local/bin,proc,sys,dev,tmp,run,etc,mnt,root,lib64,lib/x86_64-linux-gnu}
mkdir -p "$R/var" && ln -s /run "$R/var/run"

cp /bin/busybox "$R/bin/busybox"
for a in $(/bin/busybox --list); do [ -e "$R/bin/$a" ] || ln -s busybox "$R/bin/$a"; done
for a in modprobe insmod rmmod lsmod poweroff; do ln -sf ../bin/busybox "$R/sbin/$a"; done

copy_libs() {
    local f
    ldd "$1" >/dev/null 2>&1 || return 0
    for f in $(ldd "$1" | grep -o '/[^ ]*'); do
        [ -e "$R$f" ] || { mkdir -p "$R$(dirname "$f")"; cp -L "$f" "$R$f"; }
    done
}
copy_bin() {  # copy_bin HOSTPATH GUESTPATH
    mkdir -p "$R$(dirname "$2")"; cp -L "$1" "$R$2"; copy_libs "$1"
}
copy_bin /usr/sbin/ipvsadm /usr/sbin/ipvsadm
copy_bin "${VM_KEEPALIVED:-/usr/sbin/keepalived}" /usr/sbin/keepalived
copy_bin /usr/sbin/ip /usr/sbin/ip
# The legacy iptables (the doctor's firewall reading): one binary answering to its name,
# and the extensions it loads even for the standard targets.
copy_bin /usr/sbin/xtables-legacy-multi /usr/sbin/xtables-legacy-multi
for n in iptables-legacy iptables-legacy-save; do ln -s xtables-legacy-multi "$R/usr/sbin/$n"; done
mkdir -p "$R/usr/lib/x86_64-linux-gnu" && cp -a /usr/lib/x86_64-linux-gnu/xtables "$R/usr/lib/x86_64-linux-gnu/"
cp -L /lib/x86_64-linux-gnu/libgcc_s.so.1 "$R/lib/x86_64-linux-gnu/" 2>/dev/null || true
# Debug info is dropped: debug builds of lvsd are ~150 MB each with it, and an initramfs
# that large no longer unpacks in the guest's RAM ("Initramfs unpacking failed").
for b in "$@"; do
    g=/usr/local/bin/$(basename "$b")
    copy_bin "$b" "$g"
    strip --strip-debug "$R$g"
done
mkdir -p "$R/tests" && cp -a "$ROOT/tests/vm/." "$R/tests/"

MD=lib/modules/$KVER
mkdir -p "$R/$MD"
for m in $MODS; do
    modprobe -d "$KROOT" -S "$KVER" --show-depends "$m" 2>/dev/null | awk '$1=="insmod"{print $2}'
done | sort -u | while read -r p; do
    rel=${p#"$KROOT"/}; mkdir -p "$R/$(dirname "$rel")"; cp "$p" "$R/$rel"
done
cp "$KROOT/$MD"/modules.{order,builtin,builtin.modinfo} "$R/$MD/"
depmod -b "$R" "$KVER"

# (protocol names: iptables reads `-p vrrp` through getprotobyname)
cp /etc/protocols "$R/etc/protocols"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$R/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$R/etc/group"
install -m 755 "$HERE/init" "$R/init"
( cd "$R" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 ) > "$OUT"
echo "initramfs: $OUT $(stat -c %s "$OUT") bytes"
