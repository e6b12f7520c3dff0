//! One test binary for cancel scopes, deadlines, checkpoints and how a cancel reaches each kind of blocked operation.
//!
//! Each module is a test file of its own (its path says which); they share one binary so the
//! suite links a handful of binaries instead of a hundred (see `Cargo.toml`, `autotests`).
//! Tests that change process-wide state (signals, rlimits, the environment, panic hooks) or
//! count the process's fds or threads keep a binary of their own.

mod hazard_support;
mod nursery_support;

#[path = "cancel_delivery.rs"]
mod cancel_delivery;
#[path = "cancel_error_types.rs"]
mod cancel_error_types;
#[path = "cancel_graceful.rs"]
mod cancel_graceful;
#[path = "cancel_io.rs"]
mod cancel_io;
#[path = "cancel_scope.rs"]
mod cancel_scope;
#[path = "cancel_scope_error_types.rs"]
mod cancel_scope_error_types;
#[path = "checkpoint_ops.rs"]
mod checkpoint_ops;
#[path = "deadline_scope.rs"]
mod deadline_scope;
#[path = "driver_cancel_protocol.rs"]
mod driver_cancel_protocol;
