//! One test binary for channels and the sync primitives, with their cancellation guarantees.
//!
//! Each module is a test file of its own (its path says which); they share one binary so the
//! suite links a handful of binaries instead of a hundred (see `Cargo.toml`, `autotests`).
//! Tests that change process-wide state (signals, rlimits, the environment, panic hooks) or
//! count the process's fds or threads keep a binary of their own.

mod cancel_grid;

#[path = "channel_cancellation.rs"]
mod channel_cancellation;
#[path = "channel_close.rs"]
mod channel_close;
#[path = "channel_fairness.rs"]
mod channel_fairness;
#[path = "channel_stress.rs"]
mod channel_stress;
#[path = "sync_cancellation.rs"]
mod sync_cancellation;
#[path = "sync_condition.rs"]
mod sync_condition;
#[path = "sync_event.rs"]
mod sync_event;
#[path = "sync_lock.rs"]
mod sync_lock;
#[path = "sync_semaphore.rs"]
mod sync_semaphore;
