//! [`Handle`]: how another thread runs something on the runtime (`from_thread`).
//!
//! A handle holds the kernel's `from_thread` queue ([`SystemQueue`]), which wakes the kernel
//! through its remote-wake queue, and, on a `to_thread` worker, the cancel scope of the task that
//! started the thread. It never touches the kernel directly, so it is `Send + Sync` and may outlive
//! the runtime: once the runtime has shut down every call fails with
//! [`FromThreadError::Shutdown`] instead of blocking.

use super::oneshot::{self, Sender};
use super::system::{LocalTask, SystemJob, SystemQueue};
use crate::cancel::{self, ScopeState};
use crate::error::{Cancelled, Reason};
use crate::kernel::context::{current_id, with_core};
use crate::sync::Arc;
use crate::task::TaskInfo;
use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, Location, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::task::Poll;

crate::sync::thread_local! {
    /// The handle of the `to_thread` job running on this worker thread, if any.
    pub(crate) static WORKER: RefCell<Option<Handle>> = const { RefCell::new(None) };
}

/// Why a `from_thread` call did not run.
///
/// # Examples
/// ```
/// use quartet_runtime::thread::{FromThreadError, from_thread_sync};
/// // Not on a to_thread worker, so there is no runtime to call into:
/// assert_eq!(from_thread_sync(|| 1), Err(FromThreadError::NoHandle));
/// ```
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
    #[doc(hidden)] // takes internal types; programs use Handle::current
    pub fn new(system: Arc<SystemQueue>, caller: Option<std::sync::Arc<ScopeState>>) -> Handle {
        Handle { system, caller }
    }

    /// The handle of this thread: on the runtime thread, a handle to its runtime (not bound to any
    /// task); on a `to_thread` worker while it runs a job, the job's handle (bound to the task that
    /// called `to_thread`). `None` elsewhere.
    ///
    /// ```
    /// use quartet_runtime::thread::*;
    /// # quartet_runtime::run(async {
    /// let h = Handle::current().expect("on the runtime thread");
    /// // A plain std thread (not a to_thread worker) can use the handle it was given.
    /// let t = std::thread::spawn(move || h.run_sync(|| 6 * 7));
    /// // Never block the runtime thread on it (that would deadlock): wait from a worker.
    /// let answer = to_thread(move || t.join().unwrap()).await??;
    /// assert_eq!(answer, 42);
    /// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap().unwrap();
    /// ```
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
    ///
    /// ```
    /// use quartet_runtime::thread::*;
    /// # quartet_runtime::run(async {
    /// let h = Handle::current().unwrap();
    /// let t = std::thread::spawn(move || {
    ///     h.run(|| async {
    ///         quartet_runtime::nop().await?; // async work on the runtime, for a foreign thread
    ///         Ok::<_, quartet_runtime::OpError>("done")
    ///     })
    /// });
    /// // Await something so the runtime keeps turning while the thread waits for it.
    /// let r = to_thread(move || t.join().unwrap()).await???;
    /// assert_eq!(r, "done");
    /// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap().unwrap();
    /// ```
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
        let job = system_task(make, self.caller.clone(), info, tx);
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
    ///
    /// ```
    /// use quartet_runtime::thread::*;
    /// # quartet_runtime::run(async {
    /// let len = to_thread(|| {
    ///     let h = Handle::current().unwrap(); // on a to_thread worker
    ///     h.run_sync(|| quartet_runtime::stats().map(|s| s.timers))
    /// })
    /// .await??;
    /// assert!(len.is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap().unwrap();
    /// ```
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
    ///
    /// ```
    /// use quartet_runtime::thread::*;
    /// # quartet_runtime::run(async {
    /// let r = to_thread(|| Handle::current().unwrap().check_cancelled()).await?;
    /// assert!(r.is_ok()); // the caller was not cancelled
    /// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap().unwrap();
    /// ```
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
///
/// # Examples
/// ```
/// use quartet_runtime::thread::{from_thread, to_thread};
/// # quartet_runtime::run(async {
/// let n = to_thread(|| {
///     // blocking code on a worker that needs one async thing done on the runtime
///     from_thread(|| async { quartet_runtime::nop().await.map(|_| 7) })
/// })
/// .await???;
/// assert_eq!(n, 7);
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap().unwrap();
/// ```
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
///
/// # Examples
/// ```
/// use quartet_runtime::thread::{from_thread_sync, to_thread};
/// # quartet_runtime::run(async {
/// // Runs on the runtime thread, e.g. to touch state that lives there.
/// let on_loop = to_thread(|| from_thread_sync(|| quartet_runtime::stats().is_some())).await??;
/// assert!(on_loop);
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap().unwrap();
/// ```
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
///
/// # Examples
/// ```
/// use quartet_runtime::thread::{check_cancelled, to_thread};
/// # quartet_runtime::run(async {
/// let done = to_thread(|| {
///     for chunk in 0..100 {
///         check_cancelled()?; // stop early if the awaiting task was cancelled
///         let _ = chunk; // ... work on the chunk ...
///     }
///     Ok::<_, quartet_runtime::Cancelled>("all chunks")
/// })
/// .await??;
/// assert_eq!(done, "all chunks");
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap().unwrap();
/// ```
pub fn check_cancelled() -> Result<(), Cancelled> {
    match WORKER.with(|w| w.borrow().clone()) {
        Some(h) => h.check_cancelled(),
        None => Ok(()),
    }
}

/// Builds the system task for one `from_thread` call: runs the future made by `make` under
/// `caller`'s cancel scope (if any), catching panics, and sends the outcome.
fn system_task<M, Fut>(
    make: M,
    caller: Option<std::sync::Arc<ScopeState>>,
    info: TaskInfo,
    tx: Sender<std::thread::Result<Fut::Output>>,
) -> SystemJob
where
    M: FnOnce() -> Fut + Send + 'static,
    Fut: Future + 'static,
    Fut::Output: Send + 'static,
{
    Box::new(move || -> LocalTask {
        let mut make = Some(make);
        let mut fut: Option<Pin<Box<Fut>>> = None;
        let mut tx = Some(tx);
        // The job runs under the caller's scope: an activation of it in this kernel's tree.
        let mut activation = caller.map(cancel::Activation::new);
        Box::pin(std::future::poll_fn(move |cx| {
            if tx.as_ref().is_none_or(Sender::is_closed) {
                return Poll::Ready(()); // the submitter is gone
            }
            let _entered = activation.as_mut().map(cancel::Activation::enter);
            let polled = info.run_as(|| {
                let _timer = crate::monitor::PollTimer::start(Some(&info));
                catch_unwind(AssertUnwindSafe(|| {
                    let f = fut.get_or_insert_with(|| Box::pin(make.take().expect("made once")()));
                    f.as_mut().poll(cx)
                }))
            });
            let out = match polled {
                Ok(Poll::Pending) => return Poll::Pending,
                Ok(Poll::Ready(v)) => Ok(v),
                Err(p) => Err(p),
            };
            fut = None;
            if let Some(tx) = tx.take() {
                let _ = tx.send(out);
            }
            Poll::Ready(())
        }))
    })
}
