//! Introspection: what a running program is doing, down to the kernel operation each task waits
//! on (semantics §7).
//!
//! - [`task_tree`] takes a snapshot of the runtime on this thread: the root future, its nurseries
//!   and their tasks (name or spawn location, running / ready / parked), the cancel scopes each
//!   task entered (deadline, shield, cancel requested and why), and every parked wait with what it
//!   waits on ([`WaitKind`]: the ring op with opcode, fd, bytes asked and peer address; the timer
//!   with its deadline; the channel, lock, semaphore, event, thread job...) and for how long. It
//!   prints as an indented tree. [`DumpHandle`] asks for one from another thread, and
//!   [`Builder::dump_on_sigusr1`](crate::Builder::dump_on_sigusr1) prints one to stderr on `SIGUSR1`,
//!   so a hung server can be inspected from outside.
//! - [`Instrument`] receives the runtime's events on the kernel thread (Trio's instruments):
//!   spawn, schedule, each poll, exit with outcome, each wait for I/O, each ring op.
//! - The **watchdog** ([`Builder::watchdog`](crate::Builder::watchdog)) names a task whose poll has
//!   not returned for longer than a threshold, while it is still stuck ([`StuckPoll`]).
//! - With the `tracing` feature, `TracingInstrument` turns the events into `tracing` spans and
//!   events.
//!
//! Why it costs little: the dump reads what cancellation already keeps. Every blocking operation
//! parks on the cancel-status tree (H5), so the tree's leaves *are* the registry of parked
//! operations; a leaf only also records what it waits on (a small `Copy` value chosen where the
//! primitive is written), the task that parked it and the tick it parked in. Tasks are not
//! recorded at all: each nursery registers once (`registry.rs`) and lists its children when a
//! dump asks. Nothing is recorded per poll unless an instrument or
//! the watchdog is registered; then a poll costs one `bool` test more.
//!
//! # Invariants
//! - **I1** Hooks and the dump run only on the kernel thread; other threads reach the dump through
//!   the remote-wake queue (the request is a waker the kernel wakes on its own thread).
//! - **I2** With no instrument and no watchdog, a poll reads one `bool`; a wake, one `bool` of the
//!   ready queue; a ring turn, one `Option`. No allocation, no atomic, no clock read.
//! - **I3** No hook runs while the kernel holds a borrow of its driver, timers or task registry (a
//!   hook may call [`task_tree`] or `stats`).
//! - **I4** A parked wait's description is fixed when it parks (re-parks keep it); a ring op's is
//!   built from its data (fd, lengths, a connect address), so the dump never reads memory the
//!   kernel may be writing.

mod config;
mod dump;
pub(crate) mod instrument;
pub(crate) mod registry;
mod remote;
pub(crate) mod state;
#[cfg(feature = "tracing")]
mod tracing;
mod wait;
pub(crate) mod watchdog;

pub use dump::{Item, Row, ScopeInfo, TaskState, TaskTree, WaitInfo};
pub use instrument::{Instrument, TaskOutcome};
pub use remote::{DumpError, DumpHandle, dump_handle};
#[cfg(feature = "tracing")]
pub use tracing::TracingInstrument;
pub use wait::{OpInfo, WaitKind};
pub use watchdog::{StderrStuckReporter, StuckPoll, StuckPollReporter};

use crate::kernel::context::{Core, with_core};
use crate::task::TaskInfo;
use std::collections::HashMap;
use std::time::Instant;

/// A snapshot of the runtime on this thread (see the module docs), or `None` outside `run`.
///
/// # Examples
/// ```no_run
/// use quartet_runtime::introspect::task_tree;
/// quartet_runtime::run(async {
///     // e.g. from a debugging endpoint, or a task that logs the tree every minute
///     eprintln!("{}", task_tree().unwrap());
/// }).unwrap();
/// ```
pub fn task_tree() -> Option<TaskTree> {
    with_core(build)
}

fn build(core: &Core) -> TaskTree {
    let (nodes, leaves) = crate::cancel::snapshot();
    // Copy what the schedulers list, then release the registry before reading ready queues.
    let mut raw: Vec<(TaskInfo, usize, std::sync::Arc<crate::kernel::waker::ReadyQueue>, usize)> = Vec::new();
    for e in core.introspect.registry.borrow().iter() {
        e.for_each_task(&mut |info, slot| raw.push((info.clone(), e.nursery, e.queue.clone(), slot)));
    }
    let scope_node: HashMap<usize, u64> =
        nodes.iter().filter_map(|n| n.state.as_ref().map(|s| (std::sync::Arc::as_ptr(s) as usize, n.id))).collect();
    let running = crate::task::current_task_path();
    let tasks: Vec<(TaskInfo, Option<u64>, TaskState)> = raw
        .into_iter()
        .map(|(info, nursery, queue, slot)| {
            let id = info.id();
            let state = if running.contains(&id) {
                TaskState::Running
            } else if queue.is_queued(slot) {
                TaskState::Ready
            } else if leaves.iter().any(|l| l.task == id) {
                TaskState::Parked
            } else {
                TaskState::Idle
            };
            (info, scope_node.get(&nursery).copied(), state)
        })
        .collect();
    dump::build(&nodes, &leaves, &tasks)
}

/// Before the kernel turns the ring (I3: no borrow held): the instrument's `before_io_wait`.
pub(crate) fn before_turn(core: &Core, wait: Option<Option<std::time::Duration>>) -> Option<Instant> {
    core.introspect.before_io_wait(wait)
}

/// After the ring turned: the instrument's `after_io_wait` and `op_completed` for what was reaped.
pub(crate) fn after_turn(core: &Core, started: Option<Instant>) {
    if started.is_none() {
        return;
    }
    let done = core.driver.borrow_mut().completed.as_mut().map(std::mem::take).unwrap_or_default();
    core.introspect.after_io_wait(started, &done);
}
