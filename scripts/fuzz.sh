#!/bin/bash
# Coverage-guided fuzzing (cargo fuzz, libFuzzer) of the parsers that read what others
# send or write: keepalived.conf (`lvsd -t`'s whole path), VRRP adverts, IPVS netlink
# replies, HTTP_GET responses, DNS/SMTP/UDP check replies. Targets: fuzz/fuzz_targets/.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Runs each target (all by default) for SECONDS (default 60), one after another, at low
# priority, starting from the checked-in seeds (fuzz/corpus/<target>/) copied to a scratch
# directory so that the repository's corpus does not grow. Prints executions, coverage and
# corpus size per target; exits 1 when any target found a crash, panic, hang (over 10 s)
# or ran out of memory (over 2 GB); the input that did it is kept in fuzz/artifacts/<target>/.
# Needs a nightly toolchain; installs cargo-fuzz when missing. No sanitizer: the code
# fuzzed is safe Rust, and panics, overflow checks (debug assertions are on), hangs and
# memory blow-ups are caught without one, at twice the speed.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
[ $# -gt 0 ] && shift
if ! [[ $secs =~ ^[0-9]+$ ]] || [ "$secs" -eq 0 ]; then
    echo "fuzz.sh: SECONDS must be a positive number, not \"$secs\"" >&2
    exit 2
fi
if ! rustup toolchain list | grep -q '^nightly'; then
    echo "fuzz.sh: cargo fuzz needs a nightly toolchain (rustup toolchain install nightly)" >&2
    exit 2
fi
command -v cargo-fuzz >/dev/null 2>&1 || cargo install --quiet --locked cargo-fuzz
cd fuzz
fuzz=(nice -n 19 cargo +nightly fuzz)
if [ $# -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
"${fuzz[@]}" build --sanitizer none
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failed=()
summary=()
for t in "${targets[@]}"; do
    if [ ! -d "corpus/$t" ]; then
        echo "fuzz.sh: no target $t (have: $(cargo +nightly fuzz list | tr '\n' ' '))" >&2
        exit 2
    fi
    mkdir -p "$scratch/$t"
    cp -r "corpus/$t/." "$scratch/$t/"
    seeds=$(find "$scratch/$t" -type f | wc -l)
    echo "== $t: $secs s from $seeds seeds"
    log="$scratch/$t.log"
    status=ok
    began=$SECONDS
    # One input's time bound. The config target's inputs that reach the preprocessor's
    # expansion caps take up to ~100 s in the instrumented build (not made cheaper yet,
    # see BENCHMARKS.md, Fuzzing): a longer bound there.
    to=${FUZZ_TIMEOUT:-10}
    if [ "$t" = config ]; then to=${FUZZ_CONFIG_TIMEOUT:-300}; fi
    if ! "${fuzz[@]}" run --sanitizer none "$t" "$scratch/$t" -- \
        -max_total_time="$secs" -timeout="$to" -rss_limit_mb=2048 -print_final_stats=1 \
        >"$log" 2>&1; then
        status=FAILED
        failed+=("$t")
        grep -E -A30 'panicked|ERROR: libFuzzer|==ERROR|Test unit written|SUMMARY' "$log" | head -60 || tail -40 "$log"
    fi
    took=$((SECONDS - began))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+.*cov: [0-9]+ ft: [0-9]+' "$log" | tail -1 || true)
    cov=$(sed -nE 's/.*cov: ([0-9]+).*/\1/p' <<<"$last")
    ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
    corp=$(sed -nE 's/.* corp: ([0-9]+\/[0-9]+[a-zA-Z]*).*/\1/p' <<<"$last")
    line=$(printf '%-14s %-7s %6ss %12s execs  cov %6s  ft %7s  corpus %s' \
        "$t" "$status" "$took" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}")
    echo "$line"
    summary+=("$line")
done
echo "== fuzz summary (target, status, time, executions, coverage: edges, features, corpus: inputs/bytes)"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz.sh: crashes in ${failed[*]}; the inputs are in fuzz/artifacts/<target>/" >&2
    exit 1
fi
