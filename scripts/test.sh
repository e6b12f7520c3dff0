#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, unit/integration/doc tests, and the loom
# models (in their own target dir, because `--cfg loom` changes every crate's build).
set -euo pipefail
cd "$(dirname "$0")/.."

rustup component add rustfmt clippy >/dev/null 2>&1 || true

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy --all-targets -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

echo "== cargo test"
cargo test --workspace --exclude quartet-benches   # benches has no tests; clippy checks it above

echo "== loom models (LOOM_MAX_PREEMPTIONS=${LOOM_MAX_PREEMPTIONS:-2})"
RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-2}" \
  cargo test --profile loom -p quartet-runtime -p quartet-nursery --test 'loom_*'
