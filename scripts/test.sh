#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, unit/integration/doc tests, the loom
# models (in their own target dir, because `--cfg loom` changes every crate's build) and their
# mutants, and AddressSanitizer on nightly.
set -euo pipefail
cd "$(dirname "$0")/.."

rustup component add rustfmt clippy >/dev/null 2>&1 || true

# Each stage's header says how long the suite has run so far (CI's budget is 15 minutes).
start_s=$SECONDS
stage() { echo "== [$(( (SECONDS - start_s) / 60 ))m$(( (SECONDS - start_s) % 60 ))s] $*"; }

stage "cargo fmt --check"
cargo fmt --all -- --check

# The root crate lists its test targets (`autotests = false`, see Cargo.toml): a file in tests/
# that is neither a [[test]] target nor a module of a tests/suite_*.rs binary would never run.
stage "every tests/*.rs file belongs to a test binary"
orphans=()
for f in tests/*.rs; do
  name=$(basename "$f" .rs)
  if ! grep -q "path = \"$f\"" Cargo.toml && ! grep -qx "#\[path = \"$name.rs\"\]" tests/suite_*.rs; then
    orphans+=("$f")
  fi
done
if ((${#orphans[@]})); then
  echo "not part of any test binary (add it to a tests/suite_*.rs or a [[test]] in Cargo.toml): ${orphans[*]}"
  exit 1
fi

# One clippy pass and one test build, both with the optional `tracing` feature on: it only adds
# code (the `TracingInstrument` module and its test; nothing is compiled out when it is on), so a
# second pass without it would check nothing new.
stage "cargo clippy --all-targets -D warnings (feature tracing on)"
cargo clippy --workspace --all-targets --features quartet/tracing -- -D warnings

stage "cargo test"
cargo test --workspace --exclude quartet-benches --features quartet/tracing   # benches has no tests; clippy checks it above

stage "loom models (LOOM_MAX_PREEMPTIONS=${LOOM_MAX_PREEMPTIONS:-2})"
RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-2}" \
  cargo test --profile loom -p quartet-runtime -p quartet-nursery --test 'loom_*'

# The loom build compiles code the normal build never sees (`cfg(loom)` paths and the models).
stage "cargo clippy under --cfg loom (-D warnings)"
RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
  cargo clippy --profile loom -p quartet-runtime -p quartet-nursery --tests -- -D warnings

# Every planted bug must still be caught by its model. The mutants are run-time switches in the
# loom build (runtime/src/mutant.rs), so this stage reuses the binaries of the stage above.
stage "loom mutants (scripts/mutants.sh)"
LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-2}" ./scripts/mutants.sh

# AddressSanitizer + LeakSanitizer over a chosen subset of the test binaries (the whole suite takes
# too long under ASan on 2 cores; the subset covers the driver, every op kind, shutdown and the
# random stress). Needs a nightly toolchain; the std library itself is not instrumented (no
# -Zbuild-std, so rust-src is not needed). Deliberate, documented leaks (forgotten futures, the
# drain that times out on purpose) are suppressed by name in scripts/lsan.supp. Doc tests are not
# run here: they need a rustdoc compile each, are `no_run` where they touch the ring, and run
# unsanitized above.
# Most test files are modules of a few `tests/suite_*.rs` binaries (see Cargo.toml); the modules
# chosen for ASan are compiled into one binary of their own, `tests/asan_subset.rs` (empty unless
# built with `--cfg quartet_asan_subset`), so no whole suite is built a second time under ASan.
ASAN_TESTS=(
  -p quartet-runtime -p quartet-nursery --lib --test driver_basics
  -p quartet --test hazard_abandoned_ops --test hazard_fd_close --test hazard_shutdown
  --test stress_random_ops --test net_pooled_recv --test stress_pooled_recv_cancel --test asan_subset
)
# Newer nightlies refuse to link sanitized code against the uninstrumented std unless told that
# the mismatch is intended; older ones do not know that flag.
probe_dir=$(mktemp -d)
asan_flags=""
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  for flags in "-Zsanitizer=address -Cunsafe-allow-abi-mismatch=sanitizer" "-Zsanitizer=address"; do
    if echo 'fn main() {}' | rustc +nightly $flags --target x86_64-unknown-linux-gnu -o "$probe_dir/probe" - 2>/dev/null; then
      asan_flags="$flags"
      break
    fi
  done
fi
if [[ -n "$asan_flags" ]]; then
  stage "AddressSanitizer + LeakSanitizer (nightly, subset: see scripts/test.sh)"
  RUSTFLAGS="$asan_flags --cfg quartet_asan_subset" RUSTDOCFLAGS="$asan_flags" CARGO_TARGET_DIR=target/asan \
    ASAN_OPTIONS="detect_leaks=1:abort_on_error=0" \
    LSAN_OPTIONS="suppressions=$PWD/scripts/lsan.supp:print_suppressions=0" \
    QUARTET_STRESS_SECS="${QUARTET_STRESS_SECS:-1}" \
    cargo +nightly test --target x86_64-unknown-linux-gnu "${ASAN_TESTS[@]}"
else
  stage "AddressSanitizer: skipped: no nightly toolchain with sanitizer support (rustup toolchain install nightly)"
fi
rm -rf "$probe_dir"
stage "done"
