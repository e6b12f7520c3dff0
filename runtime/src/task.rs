//! Task-level primitives: checkpoints, yielding, the tick budget, and the current task's identity.
//!
//! There is no `spawn` here: tasks are created by nurseries (`quartet-nursery`), which poll their
//! children through a [`ReadyQueue`](crate::hooks::ReadyQueue) and mark each child's poll with
//! [`TaskInfo::run_as`] so that diagnostics can say which task is running (see [`crate::hooks`]).

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

#[doc(hidden)]
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

#[doc(hidden)]
/// True if operations queued during this tick are waiting for the kernel to submit them. A
/// scheduler that runs several rounds of tasks per tick stops when this is true, so I/O is
/// submitted promptly rather than after the whole budget.
pub fn io_queued() -> bool {
    with_core(|c| c.driver.try_borrow_mut().map(|mut d| d.has_queued()).unwrap_or(true)).unwrap_or(false)
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

    /// Runs `f` with this task marked as the one being polled (restored afterwards, also on
    /// unwind). A closure rather than a guard, so the mark can never outlive `self` or be
    /// restored out of order.
    pub fn run_as<R>(&self, f: impl FnOnce() -> R) -> R {
        struct Restore(*const TaskInfo);
        impl Drop for Restore {
            fn drop(&mut self) {
                CURRENT.with(|c| c.set(self.0));
            }
        }
        let _restore = Restore(CURRENT.with(|c| c.replace(self as *const TaskInfo)));
        f()
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

/// A description of the task being polled on this thread, if a nursery marked one.
pub fn current_task() -> Option<TaskInfo> {
    let p = CURRENT.with(Cell::get);
    // SAFETY: the pointer is only set by `TaskInfo::run_as`, which borrows the `TaskInfo` for the
    // whole call and restores the previous value when the call returns or unwinds. Calls nest
    // strictly, so a non-null value always points to a `TaskInfo` whose `run_as` is on the stack.
    (!p.is_null()).then(|| unsafe { (*p).clone() })
}
