#!/usr/bin/env bash
# The cost of the instrumentation hooks (issue 14), in instructions, with callgrind: the same
# release program (scripts/instrument_cost: 50k spawns that yield once, then 5k TCP echo round
# trips) without an instrument and with a no-op one. Instruction counts are repeatable on a busy
# machine, where wall-clock rows are not.
#
#   scripts/instrument_cost.sh              prints both counts and the difference
#   QUARTET_SRC=/path/to/checkout scripts/instrument_cost.sh --none-only
#       builds the program against another checkout (e.g. one before the task registry existed)
#       and prints only the count without an instrument: the "before" of the per-task record.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind not found (apt-get install valgrind)" >&2; exit 1; }
src="${QUARTET_SRC:-$PWD}"
work="${CARGO_TARGET_DIR:-$PWD/target}/instrument_cost"
mkdir -p "$work"
cp -r scripts/instrument_cost/. "$work/crate"
sed -i "s|path = \"../../runtime\"|path = \"$src/runtime\"|; s|path = \"../../nursery\"|path = \"$src/nursery\"|" "$work/crate/Cargo.toml"
count() { # $1: features ("" or noop)
    local feat=() out
    [[ -n "$1" ]] && feat=(--features "$1")
    cargo build -q --release --manifest-path "$work/crate/Cargo.toml" --target-dir "$work/target" "${feat[@]}"
    out="$work/callgrind.$1.out"
    valgrind --tool=callgrind --callgrind-out-file="$out" "$work/target/release/instrument-cost" 2>&1 \
        | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
none=$(count "")
echo "no instrument:      $none instructions"
[[ "${1:-}" == "--none-only" ]] && exit 0
noop=$(count noop)
echo "no-op instrument:   $noop instructions"
awk -v a="$none" -v b="$noop" 'BEGIN { printf "difference:         %+d (%+.2f%%)\n", b - a, (b - a) * 100 / a }'
