//! [`Handle`]: how another thread runs something on the runtime (`from_thread`).
//!
//! A handle holds the kernel's `from_thread` queue ([`SystemQueue`]), which wakes the kernel
//! through its remote-wake queue, and, on a `to_thread` worker, the cancel scope of the task that
//! started the thread. It never touches the kernel directly, so it is `Send + Sync` and may outlive
//! the runtime: once the runtime has shut down every call fails with
//! [`FromThreadError::Shutdown`] instead of blocking.

use super::oneshot;
use super::system::{self, SystemQueue};
use crate::cancel::ScopeState;
use crate::error::{Cancelled, Reason};
use crate::kernel::context::{current_id, with_core};
use crate::sync::Arc;
use crate::task::TaskInfo;
use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::panic::{Location, resume_unwind};

crate::sync::thread_local! {
    /// The handle of the `to_thread` job running on this worker thread, if any.
    pub(crate) static WORKER: RefCell<Option<Handle>> = const { RefCell::new(None) };
}

/// Why a `from_thread` call did not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FromThreadError {
    /// The runtime has shut down (before the call was queued, or before it finished).
    #[error("the quartet runtime has shut down; from_thread cannot run anything on it")]
    Shutdown,
    /// This thread is not a `to_thread` worker and no [`Handle`] was given.
    #[error(
        "from_thread needs a runtime: call it on a to_thread worker, or use a Handle obtained on the runtime thread"
    )]
    NoHandle,
    /// Called on the runtime's own thread, where blocking for the result would stop the loop
    /// forever. Await the future directly instead.
    #[error(
        "from_thread was called on the runtime's own thread, which it would block forever; await the future instead"
    )]
    OnRuntimeThread,
}

/// A `Send + Sync` handle to a runtime, for running futures and closures on it from other threads.
///
/// # Examples
/// ```no_run
/// use quartet_runtime::thread::{Handle, to_thread};
/// quartet_runtime::run(async {
///     let n = to_thread(|| {
///         // on a worker thread: ask the runtime to do something async
///         let h = Handle::current().expect("to_thread workers have a handle");
///         h.run(|| async { quartet_runtime::sleep(std::time::Duration::from_millis(1)).await.map(|_| 5) })
///     })
///     .await?;
///     assert_eq!(n.unwrap().unwrap(), 5);
///     Ok::<(), quartet_runtime::OpError>(())
/// }).unwrap().unwrap();
/// ```
#[derive(Clone)]
pub struct Handle {
    system: Arc<SystemQueue>,
    caller: Option<std::sync::Arc<ScopeState>>,
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle").field("system", &self.system).field("bound_to_task", &self.caller.is_some()).finish()
    }
}

impl Handle {
    /// A handle for `system`'s kernel; `caller` is the cancel scope of the task the calls act for
    /// (the `to_thread` caller), if any. Low-level: programs use [`Handle::current`].
    pub fn new(system: Arc<SystemQueue>, caller: Option<std::sync::Arc<ScopeState>>) -> Handle {
        Handle { system, caller }
    }

    /// The handle of this thread: on the runtime thread, a handle to its runtime (not bound to any
    /// task); on a `to_thread` worker while it runs a job, the job's handle (bound to the task that
    /// called `to_thread`). `None` elsewhere.
    pub fn current() -> Option<Handle> {
        if let Some(h) = with_core(|c| Handle::new(c.threads.system_queue(), None)) {
            return Some(h);
        }
        WORKER.with(|w| w.borrow().clone())
    }

    /// Runs the future made by `make` on the runtime and blocks this thread until it finishes.
    /// `make` runs on the runtime thread, so the future may use the runtime's `!Send` types. On a
    /// `to_thread` worker the future runs under the calling task's cancel scope: if that task was
    /// cancelled, the future's checkpoints fail with `Cancelled`.
    ///
    /// A panic in the future is resumed on this thread.
    ///
    /// # Errors
    /// [`FromThreadError::Shutdown`] if the runtime has shut down or shuts down before the future
    /// finishes (the future is then dropped); [`FromThreadError::OnRuntimeThread`] on the runtime
    /// thread itself.
    #[track_caller]
    pub fn run<M, Fut>(&self, make: M) -> Result<Fut::Output, FromThreadError>
    where
        M: FnOnce() -> Fut + Send + 'static,
        Fut: Future + 'static,
        Fut::Output: Send + 'static,
    {
        let core = self.system.core_id();
        if core != 0 && current_id() == core {
            return Err(FromThreadError::OnRuntimeThread);
        }
        let info = TaskInfo::new(Some("from_thread".into()), Location::caller());
        let (tx, rx) = oneshot::channel();
        let job = system::task(make, self.caller.clone(), info, tx);
        self.system.submit(job).map_err(|_| FromThreadError::Shutdown)?;
        match rx.recv_blocking() {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(panic)) => resume_unwind(panic),
            Err(_) => Err(FromThreadError::Shutdown),
        }
    }

    /// Runs `f` on the runtime thread and blocks this thread until it returns (Trio's
    /// `from_thread.run_sync`). Useful to touch state that lives on the runtime thread.
    ///
    /// # Errors
    /// As for [`run`](Self::run).
    #[track_caller]
    pub fn run_sync<F, R>(&self, f: F) -> Result<R, FromThreadError>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.run(move || std::future::ready(f()))
    }

    /// `Err(Cancelled)` if the task this handle acts for (the `to_thread` caller) has been
    /// cancelled or has stopped waiting, or if the runtime has shut down; `Ok(())` otherwise.
    /// Long jobs on a worker call this now and then to stop early (Trio's
    /// `from_thread.check_cancelled`). It does not block and never touches the runtime.
    ///
    /// # Errors
    /// The cancellation, with its reason.
    pub fn check_cancelled(&self) -> Result<(), Cancelled> {
        if let Some(s) = &self.caller {
            if s.cancel_called() {
                return Err(Cancelled::new(s.reason().unwrap_or(Reason::Explicit)));
            }
        }
        if self.system.is_closed() {
            return Err(Cancelled::new(Reason::Shutdown));
        }
        Ok(())
    }
}

/// Runs the future made by `make` on the runtime from a `to_thread` worker, blocking the worker
/// until it finishes (see [`Handle::run`]).
///
/// # Errors
/// [`FromThreadError::NoHandle`] if this thread is not a `to_thread` worker, and as for
/// [`Handle::run`].
#[track_caller]
pub fn from_thread<M, Fut>(make: M) -> Result<Fut::Output, FromThreadError>
where
    M: FnOnce() -> Fut + Send + 'static,
    Fut: Future + 'static,
    Fut::Output: Send + 'static,
{
    Handle::current().ok_or(FromThreadError::NoHandle)?.run(make)
}

/// Runs `f` on the runtime thread from a `to_thread` worker (see [`Handle::run_sync`]).
///
/// # Errors
/// As for [`from_thread`].
#[track_caller]
pub fn from_thread_sync<F, R>(f: F) -> Result<R, FromThreadError>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    Handle::current().ok_or(FromThreadError::NoHandle)?.run_sync(f)
}

/// On a `to_thread` worker: whether the task that called `to_thread` was cancelled (see
/// [`Handle::check_cancelled`]). Elsewhere `Ok(())`.
///
/// # Errors
/// The cancellation, with its reason.
pub fn check_cancelled() -> Result<(), Cancelled> {
    match WORKER.with(|w| w.borrow().clone()) {
        Some(h) => h.check_cancelled(),
        None => Ok(()),
    }
}
