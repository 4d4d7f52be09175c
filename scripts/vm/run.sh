#!/bin/bash
# scripts/vm/run.sh GUEST_SCRIPT RESULT_DIR [ARG...] - boot Debian's kernel with IPVS under
# qemu (TCG), run /tests/GUEST_SCRIPT in the guest with the args, RESULT_DIR shared on /mnt
# (9p, read-write).  Exits with the guest script's exit code (125: it never finished).
# Binaries put in the guest: $LVSD_BINS (space-separated; default target/debug/{lvsd,lvsd-ipvs}
# when present).  NICE: the niceness qemu runs at (e.g. -5 so that host compiles
# stretch the guest's timings less).  The serial console goes to RESULT_DIR/console.log and stdout.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
W=${VM_DIR:-$ROOT/target/vm}
SCRIPT=$1 RES=$2; shift 2
bash "$HERE/setup.sh" || exit 1
KVER=$(cat "$W/kver")
mkdir -p "$RES"
BINS=()
if [ -n "${LVSD_BINS:-}" ]; then
    read -r -a BINS <<< "$LVSD_BINS"
else
    for b in lvsd lvsd-ipvs; do [ -x "$ROOT/target/debug/$b" ] && BINS+=("$ROOT/target/debug/$b"); done
fi
INITRD=$(mktemp "$W/initrd.XXXXXX")
trap 'rm -f "$INITRD"' EXIT
bash "$HERE/build-initramfs.sh" "$INITRD" "${BINS[@]}" >/dev/null || { echo "initramfs build failed" >&2; exit 1; }
# One guest at a time: the VM tests run in parallel, and two or three TCG guests at once on
# a 2-core machine stretch the guests' timed steps (checker reaction times) towards their
# limits. The others wait here (the initramfs is already built).
exec 8>"$W/.vm.lock"
flock 8
KERNEL=$W/kernel/boot/vmlinux-$KVER
[ -e "$KERNEL" ] || KERNEL=$W/kernel/boot/vmlinuz-$KVER
ARGS=$(IFS=,; echo "$*")
export QEMU_MODULE_DIR=$W/qemu/usr/lib/x86_64-linux-gnu/qemu
LOG=$RES/console.log
nice -n "${NICE:-0}" timeout "${VM_TIMEOUT:-600}" "$W/qemu/usr/bin/qemu-system-x86_64" \
    -L "$W/qemu/usr/share/qemu" -L "$W/qemu/usr/share/seabios" \
    -m "${VM_MEM:-1024}" -smp "${VM_CPUS:-1}" -nographic -nic none -no-reboot \
    -accel tcg,thread=multi -cpu max \
    -kernel "$KERNEL" -initrd "$INITRD" \
    -virtfs "local,path=$RES,mount_tag=host0,security_model=none,id=host0" \
    -append "console=ttyS0 quiet panic=-1 lvsd.run=/tests/$SCRIPT lvsd.args=$ARGS" \
    </dev/null 2>&1 | sed -u -e 's/\x1b\[[0-9;?]*[a-zA-Z]//g' -e 's/\x1bc//g' -e 's/\r$//' | tee "$LOG"
rc=$(sed -n 's/.*LVSDVM-END rc=\([0-9]*\).*/\1/p' "$LOG" | head -1)
exit "${rc:-125}"
