#!/bin/bash
# Installs what the test suite needs on a fresh Debian machine (run as root; idempotent).
# Debian's keepalived and ipvsadm are the reference peers; tcpdump captures adverts and
# gratuitous ARPs; nftables (`nft`) is what lvsd runs for no_accept's drop rules (and the
# tests read them with); busybox/cpio/kmod build the IPVS test VM's initramfs; the qemu system
# emulator itself is fetched with `apt-get download` by scripts/vm (installing it would
# remove the preinstalled qemu-utils), but its shared libraries come from here; systemd
# brings systemd-analyze, which verifies dist/lvsd.service; curl scrapes the metrics
# endpoint and prometheus brings promtool, which checks its text (tests/metrics_daemon.rs);
# iptables (nf_tables backend) queues a node's adverts to the chaos harness's delay and
# reordering fault (NFQUEUE: this kernel has no netem); the same package's iptables-legacy
# sets the legacy rule dropping VRRP that `lvsd doctor` must name (tests/doctor.rs).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
PKGS=(keepalived ipvsadm tcpdump iproute2 kmod cpio gzip busybox-static procps psmisc
      python3-aiosmtpd openssl python3 iputils-ping binutils nftables systemd curl prometheus
      iptables
      libcapstone4 libfdt1 libpmem1 librdmacm1 libibverbs1 libslirp0 libvdeplug2)
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "install-test-deps: installing ${missing[*]}"
    apt-get update -q >/dev/null
    # keepalived's package would start a service where an init system runs: keep it off.
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d
    apt-get install -y -q -o DPkg::Lock::Timeout=600 --no-install-recommends "${missing[@]}" >/dev/null
    rm -f /usr/sbin/policy-rc.d
fi
# A packaged keepalived must never be running beside the tests.
if command -v systemctl >/dev/null 2>&1; then systemctl disable --now keepalived >/dev/null 2>&1 || true; fi
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt
# cargo-deb builds the .deb (scripts/build-deb.sh, tests/package.rs): a few minutes once.
command -v cargo-deb >/dev/null 2>&1 || cargo install --quiet cargo-deb --locked
echo "install-test-deps: ok"
