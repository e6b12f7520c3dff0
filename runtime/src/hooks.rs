//! What a scheduler built on quartet's kernel needs from it: the pieces that exist for
//! `quartet-nursery` (and for any other structured scheduler on the same kernel), gathered in one
//! place with the rules for using them. Programs do not need this module: they use nurseries,
//! cancel scopes and the I/O types.
//!
//! # Rules for users of these hooks
//! - **H1 Poll children only from your own poll.** A child's waker comes from a [`ReadyQueue`]: it
//!   records "slot i is ready" and wakes the scheduler's own waker. Nothing else polls a child, so
//!   a leaked scheduler future never polls (or drops) its children again.
//! - **H2 Poll inside the activation.** Every poll of a body or a child happens between
//!   [`Activation::enter`] and the drop of its guard, so what the child parks hangs under the
//!   scheduler's node of the cancel-status tree and a cancel of the scheduler's scope reaches it.
//!   Declare the activation after the children in the future's fields, so it is freed last.
//! - **H3 Spend the tick's budget.** Call [`consume_budget`] before each child poll and stop when
//!   it says no (wake yourself and return `Pending`): the kernel then turns the ring (H8 of the
//!   io_uring hazards). Start another round within a tick only while [`io_queued`] is false.
//! - **H4 Name the task being polled.** Wrap each child poll in [`TaskInfo::run_as`] and a
//!   [`PollTimer`], so diagnostics and the slow-poll detector can say which task ran.
//! - **H5 One park per blocking wait.** A primitive that can block parks on the current status
//!   with a [`Park`] when it returns `Pending`, treats `Err(Cancelled)` as "abort: leave the queue
//!   unless already served", and unparks once served (P1-P4 in `cancel`).
//! - **H6 Cross-thread cancels need a sink.** Inside `quartet::run` the kernel's remote-wake queue
//!   is the [`CancelSink`]; an executor of your own passes one to [`Activation::with_sink`] and calls
//!   [`deliver`] on its thread for each request.
//! - **H7 Register the scheduler, report each task.** Register once with a [`SchedulerRecord`]
//!   (your [`ReadyQueue`], your scope, and a [`LiveTasks`] that lists your children and their
//!   slots), so the task-tree dump lists them; call [`SchedulerRecord::spawned`] and
//!   [`SchedulerRecord::exited`] for each child, so instruments see its spawn and exit.
//!   Blocking primitives say what they wait on: [`Park::waiting_for`].

pub use crate::cancel::{Activation, CancelSink, Entered, OpPark, Park, ScopeState, StatusRef, WatchId, deliver};
pub use crate::introspect::registry::{LiveTasks, SchedulerRecord};
pub use crate::kernel::prefetch::{AHEAD as PREFETCH_AHEAD, prefetch};
pub use crate::kernel::waker::ReadyQueue;
pub use crate::monitor::PollTimer;
pub use crate::task::{TaskInfo, consume_budget, io_queued};
pub use crate::wake::remote::{RemoteQueue, Unpark};
