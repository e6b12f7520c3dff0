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
///
/// # Examples
/// ```
/// # quartet_runtime::run(async {
/// for _ in 0..3 {
///     quartet_runtime::yield_now().await; // let other tasks run; never fails
/// }
/// # }).unwrap();
/// ```
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// The future of [`yield_now`].
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
///
/// # Examples
/// ```
/// # quartet_runtime::run(async {
/// let y: quartet_runtime::task::YieldNow = quartet_runtime::yield_now();
/// y.await;
/// # }).unwrap();
/// ```
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
/// once to the scheduler and checks again (Trio's `checkpoint`: a schedule point, then a cancel
/// point), so a cancellation that arrived while it yielded, such as a deadline that passed
/// before the loop turned, is reported by this checkpoint rather than the next one. It does
/// nothing, so reporting a late cancellation loses nothing. Outside `quartet::run` it returns
/// `Err(Cancelled)` with [`Reason::NoRuntime`](crate::Reason::NoRuntime) (which converts to
/// [`OpError::NoRuntime`](crate::OpError::NoRuntime)).
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
pub fn checkpoint() -> impl std::future::Future<Output = Result<(), Cancelled>> {
    crate::fused::once(async move {
        if with_core(|_| ()).is_none() {
            return Err(Cancelled::new(crate::Reason::NoRuntime));
        }
        if let Some(c) = cancel::current() {
            return Err(c);
        }
        yield_now().await;
        match cancel::current() {
            Some(c) => Err(c),
            None => Ok(()),
        }
    })
}

#[doc(hidden)]
/// Takes one unit of the current tick's budget (H8). Returns false when the tick's budget is used
/// up: the caller should stop polling children and let the kernel turn the ring.
#[doc(hidden)] // for quartet-nursery's scheduler, not a user API
#[inline]
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
#[doc(hidden)] // for quartet-nursery's scheduler, not a user API
#[inline]
pub fn io_queued() -> bool {
    with_core(|c| c.driver.try_borrow_mut().map(|mut d| d.has_queued()).unwrap_or(true)).unwrap_or(false)
}

/// Who a task is, for error reports and diagnostics: its name or spawn location, and the task
/// whose nursery it runs in, so that reports name the whole path (`'server' > 'conn 10.0.0.1:5'
/// > 'reader' (spawned at src/main.rs:9:11)`).
#[derive(Debug, Clone)]
///
/// # Examples
/// ```
/// use quartet_runtime::task::TaskInfo;
/// let info = TaskInfo::new(Some("db".into()), std::panic::Location::caller());
/// assert_eq!(info.name(), Some("db"));
/// assert!(info.to_string().starts_with("'db' (spawned at "));
/// ```
pub struct TaskInfo {
    /// Unique per process (the tracing spans and the task-tree dump key tasks by it).
    id: u64,
    /// Behind one thin pointer (8 bytes, not a `Box<str>`'s 16): most tasks have no name, and
    /// those 8 bytes take a sleeping child's task cell from 192 to 176 bytes of malloc chunk.
    name: Option<Box<Box<str>>>,
    location: &'static Location<'static>,
    parent: Option<std::sync::Arc<TaskInfo>>,
}

impl TaskInfo {
    /// A task spawned at `location`, optionally named.
    ///
    /// ```
    /// let info = quartet_runtime::task::TaskInfo::new(None, std::panic::Location::caller());
    /// assert!(info.name().is_none());
    /// ```
    pub fn new(name: Option<String>, location: &'static Location<'static>) -> TaskInfo {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        TaskInfo { id, name: name.map(|n| Box::new(n.into_boxed_str())), location, parent: None }
    }

    /// A number naming this task, unique in the process (never 0; clones share it).
    ///
    /// ```
    /// use quartet_runtime::task::TaskInfo;
    /// let a = TaskInfo::new(None, std::panic::Location::caller());
    /// let b = TaskInfo::new(None, std::panic::Location::caller());
    /// assert_ne!(a.id(), b.id());
    /// assert_eq!(a.clone().id(), a.id());
    /// ```
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The same task, running in a nursery opened by `parent` (`None`: the root future).
    ///
    /// ```
    /// use quartet_runtime::task::TaskInfo;
    /// let here = std::panic::Location::caller();
    /// let server = TaskInfo::new(Some("server".into()), here);
    /// let conn = TaskInfo::new(Some("conn 10.0.0.1:5000".into()), here).with_parent(Some(server));
    /// let reader = TaskInfo::new(Some("reader".into()), here).with_parent(Some(conn));
    /// assert!(reader.to_string().starts_with("'server' > 'conn 10.0.0.1:5000' > 'reader' (spawned at "));
    /// assert_eq!(reader.parent().and_then(|p| p.name()), Some("conn 10.0.0.1:5000"));
    /// ```
    pub fn with_parent(mut self, parent: Option<TaskInfo>) -> TaskInfo {
        self.parent = parent.map(std::sync::Arc::new);
        self
    }

    /// As [`with_parent`](TaskInfo::with_parent), sharing a parent many tasks have: a nursery
    /// makes its owner's `Arc` once, and each child costs a reference count, not an allocation.
    ///
    /// ```
    /// use quartet_runtime::task::TaskInfo;
    /// use std::sync::Arc;
    /// let here = std::panic::Location::caller();
    /// let server = Arc::new(TaskInfo::new(Some("server".into()), here));
    /// let a = TaskInfo::new(None, here).with_shared_parent(Some(server.clone()));
    /// let b = TaskInfo::new(None, here).with_shared_parent(Some(server));
    /// assert_eq!(a.parent().map(TaskInfo::id), b.parent().map(TaskInfo::id));
    /// ```
    #[inline]
    pub fn with_shared_parent(mut self, parent: Option<std::sync::Arc<TaskInfo>>) -> TaskInfo {
        self.parent = parent;
        self
    }

    /// The task whose nursery this task runs in, if it is not the root future's.
    ///
    /// ```
    /// let t = quartet_runtime::task::TaskInfo::new(None, std::panic::Location::caller());
    /// assert!(t.parent().is_none());
    /// ```
    pub fn parent(&self) -> Option<&TaskInfo> {
        self.parent.as_deref()
    }

    /// The task's name, if it has one.
    ///
    /// ```
    /// let info = quartet_runtime::task::TaskInfo::new(Some("worker".into()), std::panic::Location::caller());
    /// assert_eq!(info.name(), Some("worker"));
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref().map(|n| &**n)
    }

    /// Where the task was spawned.
    ///
    /// ```
    /// let here = std::panic::Location::caller();
    /// let info = quartet_runtime::task::TaskInfo::new(None, here);
    /// assert_eq!(info.location().line(), here.line());
    /// ```
    pub fn location(&self) -> &'static Location<'static> {
        self.location
    }

    /// Runs `f` with this task marked as the one being polled (restored afterwards, also on
    /// unwind). A closure rather than a guard, so the mark can never outlive `self` or be
    /// restored out of order.
    ///
    /// ```
    /// use quartet_runtime::task::{TaskInfo, current_task};
    /// let info = TaskInfo::new(Some("probe".into()), std::panic::Location::caller());
    /// let seen = info.run_as(|| current_task().and_then(|t| t.name().map(String::from)));
    /// assert_eq!(seen.as_deref(), Some("probe"));
    /// assert!(current_task().is_none()); // restored
    /// ```
    #[inline]
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
    /// The path from the outermost task: `'server' > 'conn 1.2.3.4:5' > 'reader' (spawned at
    /// src/main.rs:9:11)`; an unnamed ancestor shows as `task at <location>`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut ancestors = Vec::new();
        let mut cur = self.parent.as_deref();
        while let Some(t) = cur {
            ancestors.push(t);
            cur = t.parent.as_deref();
        }
        for t in ancestors.iter().rev() {
            match &t.name {
                Some(n) => write!(f, "'{n}' > ")?,
                None => write!(f, "task at {} > ", t.location)?,
            }
        }
        match &self.name {
            Some(n) => write!(f, "'{n}' (spawned at {})", self.location),
            None => write!(f, "task spawned at {}", self.location),
        }
    }
}

thread_local! {
    static CURRENT: Cell<*const TaskInfo> = const { Cell::new(std::ptr::null()) };
}

/// The id of the task being polled on this thread (0: none, e.g. the root future).
#[inline]
pub(crate) fn current_task_id() -> u64 {
    let p = CURRENT.with(Cell::get);
    // SAFETY: as in `current_task`: a non-null pointer names a `TaskInfo` whose `run_as` is on the
    // stack.
    if p.is_null() { 0 } else { unsafe { (*p).id } }
}

/// A number naming the task being polled on this thread, for primitives that belong to a task (a
/// `Lock` knows which task holds it): the [`TaskInfo::id`] of the nursery child or `from_thread`
/// job being polled, else, inside `run`, a number of this thread's own for its root future (never
/// 0, and never the id of a task). `None` outside `run` with no task marked: code driven by hand
/// or by another executor has no task identity quartet can see.
///
/// # Examples
/// ```
/// use quartet_runtime::task::{TaskInfo, current_task_key};
/// assert_eq!(current_task_key(), None); // outside run: no task identity
/// let root = quartet_runtime::run(async { current_task_key() }).unwrap();
/// assert!(root.is_some());
/// let info = TaskInfo::new(None, std::panic::Location::caller());
/// assert_eq!(info.run_as(current_task_key), Some(info.id())); // what nurseries do around a child's poll
/// let other = std::thread::spawn(|| quartet_runtime::run(async { current_task_key() }).unwrap());
/// assert_ne!(other.join().unwrap(), root); // another thread's root future is another task
/// ```
pub fn current_task_key() -> Option<u64> {
    /// Root keys count down from `u64::MAX`; task ids count up from 1 and never meet them.
    static NEXT_ROOT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(u64::MAX);
    thread_local! {
        static ROOT: u64 = NEXT_ROOT.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
    match current_task_id() {
        0 => crate::kernel::context::with_core(|_| ROOT.with(|r| *r)),
        id => Some(id),
    }
}

/// The ids of the task being polled and of the tasks whose nurseries it runs in (innermost first).
pub(crate) fn current_task_path() -> Vec<u64> {
    let p = CURRENT.with(Cell::get);
    let mut out = Vec::new();
    if p.is_null() {
        return out;
    }
    // SAFETY: as in `current_task`.
    let mut cur = Some(unsafe { &*p });
    while let Some(t) = cur {
        out.push(t.id);
        cur = t.parent.as_deref();
    }
    out
}

/// A description of the task being polled on this thread, if a nursery marked one.
///
/// # Examples
/// ```
/// use quartet_runtime::task::{TaskInfo, current_task};
/// assert!(current_task().is_none()); // no nursery is polling a child here
/// let info = TaskInfo::new(Some("x".into()), std::panic::Location::caller());
/// info.run_as(|| assert_eq!(current_task().unwrap().name(), Some("x"))); // what nurseries do
/// ```
pub fn current_task() -> Option<TaskInfo> {
    let p = CURRENT.with(Cell::get);
    // SAFETY: the pointer is only set by `TaskInfo::run_as`, which borrows the `TaskInfo` for the
    // whole call and restores the previous value when the call returns or unwinds. Calls nest
    // strictly, so a non-null value always points to a `TaskInfo` whose `run_as` is on the stack.
    (!p.is_null()).then(|| unsafe { (*p).clone() })
}
