#!/bin/bash
# scripts/vm/setup.sh - prepare the qemu IPVS test rig (idempotent, root).
#  * installs host packages through scripts/install-test-deps.sh;
#  * fetches Debian's current kernel (ships ip_vs as modules) and qemu-system-x86 with
#    `apt-get download` and unpacks them with dpkg-deb under $VM_DIR (never apt-get install
#    qemu-system-x86: it would remove the preinstalled qemu-utils backport);
#  * depmods the kernel and extracts the uncompressed vmlinux (PVH boot: faster under TCG).
# Work dir: $VM_DIR (default <repo>/target/vm).  A stamp makes re-runs cheap.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
W=${VM_DIR:-$ROOT/target/vm}
mkdir -p "$W" && cd "$W"
# The VM tests run in parallel and each calls this script: one at a time, the others wait
# and then find the stamp (without the lock two of them unpacked qemu over each other).
exec 9>"$W/.setup.lock"
flock 9
bash "$ROOT/scripts/install-test-deps.sh" >/dev/null
if [ -e "$W/.setup-done" ] && [ -x "$W/qemu/usr/bin/qemu-system-x86_64" ] && [ -e "$W/kver" ]; then
    echo "vm setup: already done (KVER=$(cat "$W/kver"))"; exit 0
fi
KPKG=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
[ -n "$KPKG" ] || { echo "vm setup: cannot resolve the kernel package of linux-image-amd64" >&2; exit 1; }
KVER=${KPKG#linux-image-}
mkdir -p debs
( cd debs && apt-get download "$KPKG" qemu-system-x86 qemu-system-common qemu-system-data seabios 2>&1 \
    | grep -v '^W: Download is performed unsandboxed' || true )
for p in "$KPKG" qemu-system-x86 qemu-system-common qemu-system-data seabios; do
    ls debs/"${p}"_*.deb >/dev/null 2>&1 || { echo "vm setup: download of $p failed" >&2; exit 1; }
done
rm -rf qemu kernel && mkdir -p qemu kernel
for p in debs/qemu-system-x86_*.deb debs/qemu-system-common_*.deb debs/qemu-system-data_*.deb debs/seabios_*.deb; do
    dpkg-deb -x "$p" qemu
done
dpkg-deb -x debs/"${KPKG}"_*.deb kernel
depmod -b "$W/kernel" "$KVER"
python3 "$HERE/extract-vmlinux.py" "kernel/boot/vmlinuz-$KVER" "kernel/boot/vmlinux-$KVER" \
    || echo "vm setup: vmlinux extraction failed; the rig boots the bzImage (slower)"
echo "$KVER" > "$W/kver"
if ldd qemu/usr/bin/qemu-system-x86_64 | grep 'not found'; then
    echo "vm setup: qemu is missing libraries (see above)" >&2; exit 1
fi
touch "$W/.setup-done"
echo "vm setup: OK KVER=$KVER in $W"
