//! The test modules that CI runs under AddressSanitizer, in one binary of their own.
//!
//! Building every `suite_*` binary again under ASan to run a few of its modules cost minutes of
//! CI; this binary compiles only the modules ASan runs (the same files the suites include, by
//! `#[path]`). It is empty unless built with `--cfg quartet_asan_subset`, which only the ASan stage
//! of `scripts/test.sh` passes, so the normal `cargo test` does not run these tests twice.
#![cfg(quartet_asan_subset)]
// The support modules also serve suite modules that are not in this subset.
#![allow(dead_code, unused_imports)]

mod cancel_grid;
mod hazard_support;
mod nursery_support;
mod thread_support;

// io_uring hazards: full rings, stale completions, limits, use outside a runtime.
#[path = "hazard_duration_max.rs"]
mod hazard_duration_max;
#[path = "hazard_outside_runtime.rs"]
mod hazard_outside_runtime;
#[path = "hazard_sq_exactly_full.rs"]
mod hazard_sq_exactly_full;
#[path = "hazard_sq_full.rs"]
mod hazard_sq_full;
#[path = "hazard_stale_completions.rs"]
mod hazard_stale_completions;

// Cancellation of I/O, channels and sync primitives.
#[path = "cancel_io.rs"]
mod cancel_io;
#[path = "channel_cancellation.rs"]
mod channel_cancellation;
#[path = "sync_cancellation.rs"]
mod sync_cancellation;

// Threads, remote wakes and the intrusive timer wheel.
#[path = "thread_remote_wake.rs"]
mod thread_remote_wake;
#[path = "thread_to_thread.rs"]
mod thread_to_thread;
#[path = "time_intrusive.rs"]
mod time_intrusive;
#[path = "time_wheel.rs"]
mod time_wheel;

// Borrowing children of a leaked scope; op data moved while in flight.
#[path = "borrow_leaked_scope.rs"]
mod borrow_leaked_scope;
#[path = "op_data_moves.rs"]
mod op_data_moves;
