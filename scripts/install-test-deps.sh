#!/bin/bash
# install-test-deps.sh - install the Debian packages the test suite needs (idempotent, root).
# Each block says which tests need it.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
STAMP=/var/lib/apt/lists/.lvsd-apt-updated
if [ ! -e "$STAMP" ]; then apt-get update -q >/dev/null && touch "$STAMP"; fi
PKGS=()
# --- ipvs (tests/ipvs_vm.rs, scripts/vm/): guest userland + initramfs tools + qemu's libraries.
#     qemu itself and the guest kernel are fetched by scripts/vm/setup.sh with `apt-get download`
#     (installing qemu-system-x86 would remove the preinstalled qemu-utils backport).
PKGS+=(busybox-static ipvsadm keepalived iproute2 kmod cpio gzip python3
       libcapstone4 libfdt1 libpmem1 librdmacm1 libibverbs1 libslirp0 libvdeplug2)
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "install-test-deps: OK (${#PKGS[@]} packages)"
