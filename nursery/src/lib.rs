//! Nurseries, cancel scopes and deadlines with Trio's semantics, on the quartet runtime.
//!
//! - [`nursery`]: the only way to run tasks concurrently. Children may borrow from the enclosing
//!   scope; the nursery returns only when every child has finished; a failure cancels the rest
//!   and is reported with its origin.
//! - [`CancelScope`], [`shield`], [`move_on_after`], [`fail_after`]: scoped, level-triggered
//!   cancellation. An operation that returns `Cancelled` did nothing.
//! - [`cancel_on_signals`], [`cancel_on_signals_gracefully`]: Ctrl-C / SIGTERM cancel a scope (at
//!   once, or after a drain period), so the program unwinds cleanly.
#![deny(unsafe_op_in_unsafe_fn)]

mod cancel_handle;
pub mod channel;
mod child_output;
mod cores;
mod deadline;
mod error;
mod join;
mod nursery;
mod race;
mod scope;
pub mod scope_error;
mod signals;
mod start;
pub mod sync;
mod task_local;

pub use child_output::ChildOutput;
/// The cross-core structures, for the loom models (`nursery/tests/loom_cores.rs`).
#[cfg(loom)]
pub use cores::remote as cores_model;
pub use cores::{Core, CoreJoinHandle, CoreNursery, CoresError, PerCore, Pinning, run_per_core};
pub use deadline::{current_effective_deadline, fail_after, fail_at, move_on_after, move_on_at, move_on_shutdown};
pub use error::{BoxError, Failure, JoinError, NurseryError, SpawnError, StartError, TooSlow};
pub use join::JoinHandle;
pub use nursery::{Nursery, nursery};
/// The future of [`wait_shutdown_requested`].
pub use quartet_runtime::cancel::ShutdownRequested;
pub use race::race;
pub use scope::{CancelHandle, CancelScope, shield, shutdown_requested, wait_shutdown_requested};
pub use scope_error::ScopeError;
pub use signals::{cancel_on_signals, cancel_on_signals_gracefully};
pub use start::TaskStatus;
pub use task_local::{TaskLocal, TaskLocalScope};

pub use channel::{Receiver, Sender, channel, unbounded_channel};
pub use sync::{Condition, Event, Lock, Semaphore};
