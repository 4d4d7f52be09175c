#!/bin/bash
# The whole test suite: dependencies, formatting, lints, and every test (unit, config
# corpus, VRRP in network namespaces with keepalived as the peer, checkers on loopback,
# IPVS in a qemu guest with a real IPVS kernel), then a short fuzzing pass over every fuzz
# target (FUZZ_SECONDS each, default 60; 0 skips it; needs the nightly toolchain). Run as
# root from the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh
cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
# The static build (dev profile, its own target directory) for tests/static_build.rs.
LVSD_STATIC_BIN="$(PROFILE=dev CARGO_TARGET_DIR="$PWD/target/static-dev" bash scripts/build-static.sh)/lvsd"
export LVSD_STATIC_BIN
cargo test --no-fail-fast -- --test-threads="${TEST_THREADS:-4}"
if [ "${FUZZ_SECONDS:-60}" != 0 ]; then
    bash scripts/fuzz.sh "${FUZZ_SECONDS:-60}"
fi
