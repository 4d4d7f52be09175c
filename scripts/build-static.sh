#!/bin/bash
# scripts/build-static.sh [CARGO_BUILD_ARG...] - builds lvsd and lvsd-ipvs (release, with
# the `tools` feature that lvsd-ipvs needs) as static, non-PIE executables: no shared
# library to load and nothing to relocate at start, one file to copy to a director.
# Prints the directory that holds them.
#   PROFILE=release (default) or dev: the cargo profile (the test suite builds dev, for
#   tests/static_build.rs).
#
# Why: a dynamically linked PIE build spends its first ~60 ms in the dynamic loader and
# relocations under qemu's TCG (lvsd -v: 61-63 ms dynamic, 7-12 ms static; measured in the
# IPVS test guest), which is a tenth of the time lvsd needs to program 1,000 x 20 entries
# there. On real hardware the gain is ~1 ms. The static build never loads an NSS module
# (a static glibc that does crashes in it): it reads /etc/passwd and /etc/group itself
# (src/nss.rs), so a script_user that only ldap or sss knows needs the dynamic build
# (`cargo build --release`).
set -euo pipefail
cd "$(dirname "$0")/.."
TRIPLE=$(rustc -vV | sed -n 's/^host: //p')
# With --target, RUSTFLAGS reach only the target's crates, not build scripts or proc macros.
PROFILE=${PROFILE:-release}
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static -C relocation-model=static" \
    cargo build --profile "$PROFILE" --target "$TRIPLE" --features tools --bin lvsd --bin lvsd-ipvs "$@" >&2
DIR=$PROFILE; [ "$PROFILE" = dev ] && DIR=debug
echo "${CARGO_TARGET_DIR:-$PWD/target}/$TRIPLE/$DIR"
