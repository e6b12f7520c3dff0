//! One test binary for io_uring hazards that need no process-wide state: full rings, stale completions, limits, timers.
//!
//! Each module is a test file of its own (its path says which); they share one binary so the
//! suite links a handful of binaries instead of a hundred (see `Cargo.toml`, `autotests`).
//! Tests that change process-wide state (signals, rlimits, the environment, panic hooks) or
//! count the process's fds or threads keep a binary of their own.

mod hazard_support;

#[path = "hazard_duration_max.rs"]
mod hazard_duration_max;
#[path = "hazard_io_limits.rs"]
mod hazard_io_limits;
#[path = "hazard_outside_runtime.rs"]
mod hazard_outside_runtime;
#[path = "hazard_sq_exactly_full.rs"]
mod hazard_sq_exactly_full;
#[path = "hazard_sq_full.rs"]
mod hazard_sq_full;
#[path = "hazard_stale_completions.rs"]
mod hazard_stale_completions;
#[path = "hazard_starvation.rs"]
mod hazard_starvation;
#[path = "hazard_timers.rs"]
mod hazard_timers;
