#!/usr/bin/env bash
# Runs quartet's benchmark suite: prints the table and writes BENCHMARKS.md and benches/ratios.svg.
#
#   scripts/bench.sh            full mode (about 10 minutes; run it on a quiet machine)
#   scripts/bench.sh --quick    small sizes, under 2 minutes, for development
#   scripts/bench.sh --runs=7 --only=echo,spawn --echo-ms=5000 ...   (see benches/src/config.rs)
#
# Every option can also be given as an environment variable QB_<NAME> (e.g. QB_RUNS=7).
# Set QB_FEATURES to build optional rows, e.g. QB_FEATURES=channel,to_thread.
# The cost of the instrumentation hooks (spawn and echo with and without a no-op instrument) is
# measured in instructions by scripts/instrument_cost.sh (callgrind), not here: wall-clock rows
# cannot resolve a one-branch difference on a shared machine.
set -euo pipefail
cd "$(dirname "$0")/.."
features=()
if [[ -n "${QB_FEATURES:-}" ]]; then
    features=(--features "$QB_FEATURES")
fi
# The HTTP rows drive the servers with wrk (Debian package `wrk`).
if ! command -v wrk >/dev/null 2>&1; then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
        echo "installing wrk for the HTTP rows (apt-get install wrk) ..." >&2
        apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null 2>&1 && apt-get install -y wrk >/dev/null 2>&1; } || true
    fi
    command -v wrk >/dev/null 2>&1 || echo "wrk not found: the HTTP rows will show n/a (install it: sudo apt-get install wrk)" >&2
fi
cargo build --release -p quartet-benches "${features[@]}"
exec "${CARGO_TARGET_DIR:-target}/release/quartet-benches" "$@"
