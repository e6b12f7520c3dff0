//! One test binary for timers, threads, multiple cores and the deterministic-testing toolkit.
//!
//! Each module is a test file of its own (its path says which); they share one binary so the
//! suite links a handful of binaries instead of a hundred (see `Cargo.toml`, `autotests`).
//! Tests that change process-wide state (signals, rlimits, the environment, panic hooks) or
//! count the process's fds or threads keep a binary of their own.

mod fs_support;
mod nursery_support;
mod thread_support;

#[path = "cores_msg_ring.rs"]
mod cores_msg_ring;
#[path = "cores_reuseport.rs"]
mod cores_reuseport;
#[path = "cores_spawn_on.rs"]
mod cores_spawn_on;
#[path = "runtime_busy_poll.rs"]
mod runtime_busy_poll;
#[path = "testing_faults.rs"]
mod testing_faults;
#[path = "testing_hyper_mock_clock.rs"]
mod testing_hyper_mock_clock;
#[path = "testing_loopback_autojump.rs"]
mod testing_loopback_autojump;
#[path = "testing_mock_clock.rs"]
mod testing_mock_clock;
#[path = "thread_from_thread.rs"]
mod thread_from_thread;
#[path = "thread_limiter.rs"]
mod thread_limiter;
#[path = "thread_remote_wake.rs"]
mod thread_remote_wake;
#[path = "thread_to_thread.rs"]
mod thread_to_thread;
#[path = "time_interval.rs"]
mod time_interval;
#[path = "time_intrusive.rs"]
mod time_intrusive;
#[path = "time_wheel.rs"]
mod time_wheel;
