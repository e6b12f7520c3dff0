//! Instrumentation hooks (Trio's `Instrument`): a trait whose methods the kernel calls, on its own
//! thread, at each step of a task's life and of the loop.
//!
//! The kernel keeps one `Option<Arc<dyn Instrument>>` (set on the
//! [`Builder`](crate::Builder::instrument)); every call site is one `if let Some(..)` on it (for
//! polls, one `bool` that also covers the watchdog), so a runtime without an instrument pays one
//! branch per event and nothing else. Arguments are borrowed and cheap: a task's [`TaskInfo`], an
//! op's [`OpInfo`] (built only when an instrument is there to see it), durations.
//!
//! Hooks run on the kernel thread, in the middle of the loop: they must be quick, must not block,
//! and must not call back into the runtime's blocking APIs. A panic in a hook unwinds into the
//! loop like a panic in a task.

use super::OpInfo;
use crate::error::Reason;
use crate::task::TaskInfo;
use std::time::Duration;

/// How a task ended, as [`Instrument::task_exited`] sees it.
///
/// # Examples
/// ```
/// use quartet_runtime::introspect::TaskOutcome;
/// let o = TaskOutcome::Failed("boom".to_string());
/// assert_eq!(o.to_string(), "failed: boom");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TaskOutcome {
    /// Returned its value.
    Completed,
    /// Ended with `Cancelled` by a scope it runs under, for this reason.
    Cancelled(Reason),
    /// Returned an error (its message).
    Failed(String),
    /// Panicked.
    Panicked,
}

impl std::fmt::Display for TaskOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TaskOutcome::Completed => f.write_str("completed"),
            TaskOutcome::Cancelled(r) => write!(f, "cancelled ({r})"),
            TaskOutcome::Failed(e) => write!(f, "failed: {e}"),
            TaskOutcome::Panicked => f.write_str("panicked"),
        }
    }
}

/// Receives the runtime's events (Trio's `Instrument`). Every method has an empty default, so an
/// instrument implements only what it needs. Called on the kernel thread; keep each call quick.
///
/// Order for one task: `task_spawned`, then for each poll `task_scheduled` (the wake that queued
/// it; the first poll needs none), `before_task_poll`, `after_task_poll`; after the last poll
/// `task_exited`. Each loop turn: `before_io_wait`, `after_io_wait`, then the completions reaped
/// in it (`op_completed`); `op_submitted` when a task's poll submits an op. The root future (the
/// one passed to `run`) is not a task and gets no task events.
///
/// # Examples
/// ```
/// use quartet_runtime::introspect::Instrument;
/// use quartet_runtime::task::TaskInfo;
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::sync::Arc;
///
/// #[derive(Default)]
/// struct CountPolls(AtomicU64);
/// impl Instrument for CountPolls {
///     fn before_task_poll(&self, _task: &TaskInfo) {
///         self.0.fetch_add(1, Ordering::Relaxed);
///     }
/// }
/// let polls = Arc::new(CountPolls::default());
/// let b = quartet_runtime::Builder::new().instrument(polls.clone());
/// # drop(b);
/// ```
#[allow(unused_variables)]
pub trait Instrument: Send + Sync + 'static {
    /// A nursery accepted a new task (before its first poll).
    fn task_spawned(&self, task: &TaskInfo) {}
    /// The task with id `task` ([`TaskInfo::id`]) was woken and queued to be polled.
    fn task_scheduled(&self, task: u64) {}
    /// The task is about to be polled.
    fn before_task_poll(&self, task: &TaskInfo) {}
    /// The task's poll returned (whether `Ready` or `Pending`).
    fn after_task_poll(&self, task: &TaskInfo) {}
    /// The task finished; its future is being dropped.
    fn task_exited(&self, task: &TaskInfo, outcome: &TaskOutcome) {}
    /// The loop is about to submit and wait for completions: `timeout` is how long it may wait
    /// (`Some(ZERO)`: it only reaps, work is ready; `None`: until a completion or a wake).
    fn before_io_wait(&self, timeout: Option<Duration>) {}
    /// The loop is back from the ring after `waited`.
    fn after_io_wait(&self, waited: Duration) {}
    /// A ring op was submitted (queued for the next `io_uring_enter`); `op` names it until
    /// `op_completed`.
    fn op_submitted(&self, op: u64, info: &OpInfo) {}
    /// The final completion of op `op` was reaped, with the kernel's result (`-errno` on error).
    fn op_completed(&self, op: u64, result: i32) {}
}
