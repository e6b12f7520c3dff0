//! One test binary for nurseries: spawning, joining, errors and their formatting, `start`, task paths and task-local values.
//!
//! Each module is a test file of its own (its path says which); they share one binary so the
//! suite links a handful of binaries instead of a hundred (see `Cargo.toml`, `autotests`).
//! Tests that change process-wide state (signals, rlimits, the environment, panic hooks) or
//! count the process's fds or threads keep a binary of their own.

mod nursery_support;

#[path = "borrow_leaked_scope.rs"]
mod borrow_leaked_scope;
#[path = "nursery_child_output.rs"]
mod nursery_child_output;
#[path = "nursery_error_format.rs"]
mod nursery_error_format;
#[path = "nursery_errors.rs"]
mod nursery_errors;
#[path = "nursery_join.rs"]
mod nursery_join;
#[path = "nursery_own_cancel.rs"]
mod nursery_own_cancel;
#[path = "nursery_race.rs"]
mod nursery_race;
#[path = "nursery_spawn.rs"]
mod nursery_spawn;
#[path = "nursery_start.rs"]
mod nursery_start;
#[path = "nursery_task_path.rs"]
mod nursery_task_path;
#[path = "smoke_nursery.rs"]
mod smoke_nursery;
#[path = "task_local_values.rs"]
mod task_local_values;
#[path = "testing_macros.rs"]
mod testing_macros;
