//! Task-level primitives: checkpoints, yielding, the tick budget, and the current task's identity.
//!
//! There is no `spawn` here: tasks are created by nurseries (`quartet-nursery`), which poll their
//! children through a [`ReadyQueue`](crate::ReadyQueue) and mark each child's poll with
//! [`TaskInfo::enter`] so that diagnostics can say which task is running.

use crate::cancel;
use crate::error::Cancelled;
use crate::kernel::context::with_core;
use std::cell::Cell;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Yields to the scheduler once: the task goes to the back of its run queue.
///
/// Not a cancellation point (it never returns `Cancelled`); use [`checkpoint`] for that.
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// The future of [`yield_now`].
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if std::mem::replace(&mut self.yielded, true) {
            return Poll::Ready(());
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// A checkpoint: returns `Err(Cancelled)` if an enclosing scope is cancelled, and otherwise yields
/// once to the scheduler.
///
/// # Examples
/// ```no_run
/// # quartet_runtime::run(async {
/// for _ in 0..1000 {
///     // CPU-bound loop that stays cancellable and lets other tasks run
///     quartet_runtime::checkpoint().await?;
/// }
/// # Ok::<(), quartet_runtime::Cancelled>(()) }).unwrap().unwrap();
/// ```
pub async fn checkpoint() -> Result<(), Cancelled> {
    if let Some(c) = cancel::current() {
        return Err(c);
    }
    yield_now().await;
    Ok(())
}

/// Takes one unit of the current tick's budget (H8). Returns false when the tick's budget is used
/// up: the caller should stop polling children and let the kernel turn the ring.
pub fn consume_budget() -> bool {
    with_core(|c| {
        let b = c.budget.get();
        if b == 0 {
            false
        } else {
            c.budget.set(b - 1);
            true
        }
    })
    .unwrap_or(true)
}

/// Who a task is, for error reports and diagnostics.
#[derive(Debug, Clone)]
pub struct TaskInfo {
    name: Option<String>,
    location: &'static Location<'static>,
}

impl TaskInfo {
    /// A task spawned at `location`, optionally named.
    pub fn new(name: Option<String>, location: &'static Location<'static>) -> TaskInfo {
        TaskInfo { name, location }
    }

    /// The task's name, if it has one.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Where the task was spawned.
    pub fn location(&self) -> &'static Location<'static> {
        self.location
    }

    /// Marks this task as the one being polled until the guard drops.
    pub fn enter(&self) -> TaskEntered<'_> {
        let prev = CURRENT.with(|c| c.replace(self as *const TaskInfo));
        TaskEntered { prev, _info: std::marker::PhantomData }
    }
}

impl std::fmt::Display for TaskInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.name {
            Some(n) => write!(f, "'{n}' (spawned at {})", self.location),
            None => write!(f, "task spawned at {}", self.location),
        }
    }
}

thread_local! {
    static CURRENT: Cell<*const TaskInfo> = const { Cell::new(std::ptr::null()) };
}

/// Restores the previously current task on drop.
#[derive(Debug)]
#[must_use]
pub struct TaskEntered<'a> {
    prev: *const TaskInfo,
    _info: std::marker::PhantomData<&'a TaskInfo>,
}

impl Drop for TaskEntered<'_> {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.prev));
    }
}

/// A description of the task being polled on this thread, if a nursery marked one.
pub fn current_task() -> Option<TaskInfo> {
    let p = CURRENT.with(Cell::get);
    // SAFETY: the pointer is set by `TaskInfo::enter` to a `TaskInfo` borrowed for the lifetime
    // of the returned guard, and restored when the guard drops; so a non-null value points to a
    // live `TaskInfo` while the poll that entered it is on the stack.
    (!p.is_null()).then(|| unsafe { (*p).clone() })
}
