#!/bin/bash
# Builds the Debian package with cargo-deb: target/debian/lvsd_<version>-1_<arch>.deb, and
# prints its path. The man page lvsd(8) is generated from the command line first
# (examples/mangen.rs, outside the daemon).
#   PROFILE=release (default) or dev: the cargo profile the binary is built with (the
#   package test uses dev to spare CI a release build).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cargo-deb >/dev/null 2>&1; then
    echo "build-deb: cargo-deb is missing: cargo install cargo-deb --locked (scripts/install-test-deps.sh does it)" >&2
    exit 1
fi
PROFILE="${PROFILE:-release}"
mkdir -p target/man
cargo run --quiet --example mangen -- target/man >/dev/null
gzip -9nf target/man/lvsd.8
rm -f target/debian/lvsd_*.deb
cargo deb --profile "$PROFILE" >&2
ls target/debian/lvsd_*.deb
