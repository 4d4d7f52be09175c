#!/bin/bash
# VRRP takeover benchmark: lvsd and Debian's keepalived side by side in network namespaces
# (root). Prints median takeover times after SIGTERM and SIGKILL of the master against the
# protocol bounds (skew; 3×advert_int + skew). ROUNDS=N sets rounds per case (default 5).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v keepalived >/dev/null || { echo "keepalived missing: run scripts/install-test-deps.sh" >&2; exit 1; }
exec cargo bench --bench takeover "$@"
