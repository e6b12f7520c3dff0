//! Threads: CPU-bound or blocking work off the loop ([`to_thread`]), and back onto it from other
//! threads ([`from_thread`], [`Handle`]) (semantics §6).
//!
//! The loop must never block. Code that computes for long or calls a blocking API goes to a worker
//! thread with `to_thread(f).await`; the task waits for the result while the loop keeps running
//! everything else. How many jobs run at once is bounded by a [`CapacityLimiter`]: the runtime's
//! default one ([`default_limiter`], [`DEFAULT_THREAD_LIMIT`] tokens, set with
//! [`Builder::thread_limit`](crate::Builder::thread_limit)) or one given per call.
//!
//! Worker threads are started lazily, reused while idle, and exit after a few seconds without
//! work. At runtime shutdown idle workers exit at once; nothing is joined: a job that is
//! still running (abandoned, or whose caller was dropped by the shutdown) runs to its end on its
//! thread, its result is dropped, and its limiter token is released when it returns.
//!
//! The cross-thread pieces are small internal modules that loom checks (`runtime/tests/loom_*.rs`):
//! `oneshot` (result slots), `pool` (job queue and workers), `job` (the to_thread hand-off),
//! [`limiter`] and `system` (the from_thread queue).
//!
//! # Examples
//! ```no_run
//! use quartet_runtime::thread::to_thread;
//! quartet_runtime::run(async {
//!     let data = vec![1u64; 1 << 20];
//!     // moves `data` to a worker, sums it there, and gets the sum back
//!     let sum = to_thread(move || data.iter().sum::<u64>()).await?;
//!     assert_eq!(sum, 1 << 20);
//!     Ok::<(), quartet_runtime::OpError>(())
//! }).unwrap().unwrap();
//! ```

mod handle;
#[doc(hidden)] // internal (public for the loom models), as are oneshot, pool and system
pub mod job;
pub mod limiter;
pub(crate) mod local;
#[doc(hidden)]
pub mod oneshot;
#[doc(hidden)]
pub mod pool;
#[doc(hidden)]
pub mod system;

pub use handle::{FromThreadError, Handle, check_cancelled, from_thread, from_thread_sync};
pub use limiter::{AcquireError, Borrower, CapacityLimiter, LimiterStats, Token, TryAcquireError};
pub use local::DEFAULT_THREAD_LIMIT;

use crate::cancel;
use crate::error::OpError;
use crate::kernel::context::{Remote, current_id, with_core};
use job::{Outcome, Running};
use limiter::Acquire;
use std::fmt;
use std::future::Future;
use std::panic::resume_unwind;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::task::{Wake, Waker};

/// The runtime's default limiter for [`to_thread`], or `None` outside `run`.
///
/// # Examples
/// ```
/// quartet_runtime::run(async {
///     let limiter = quartet_runtime::thread::default_limiter().unwrap();
///     limiter.set_total(8); // at most 8 to_thread jobs at once from now on
/// }).unwrap();
/// ```
pub fn default_limiter() -> Option<CapacityLimiter> {
    with_core(|c| c.threads.limiter())
}

/// Counters of the runtime's worker pool, or `None` outside `run`.
///
/// # Examples
/// ```
/// quartet_runtime::run(async {
///     quartet_runtime::thread::to_thread(|| ()).await.unwrap();
///     let s = quartet_runtime::thread::pool_stats().unwrap();
///     assert!(s.started >= 1);
/// }).unwrap();
/// ```
pub fn pool_stats() -> Option<pool::PoolStats> {
    with_core(|c| c.threads.pool_stats())
}

/// Runs `f` on a worker thread and returns its result. Configure the call with
/// [`ToThread::limiter`] and [`ToThread::abandon_on_cancel`] before awaiting it.
///
/// `f` must be `Send + 'static`: it moves to another thread, and may not borrow from the task.
/// A borrow would be unsound here even though nurseries let children borrow: the awaiting future
/// can be leaked (`mem::forget`) or dropped at any time, and neither can stop a running thread, so
/// the thread could use the borrowed data after its owner is gone. (`std::thread::scope` can allow
/// borrows only because it blocks until its threads finish; a loop cannot block.)
///
/// A panic in `f` is resumed in the awaiting task.
///
/// # Cancellation
/// A checkpoint. Cancellation is checked on entry, while waiting for a limiter token, and by the
/// worker right before `f` starts: in each case `f` never runs and the result is
/// `Err(OpError::Cancelled)`. Once `f` is running it cannot be interrupted:
/// - by default the task keeps waiting and gets `f`'s result (the job did run, so this is not a
///   cancellation; the next checkpoint delivers it). Code in `f` can stop early by polling
///   [`check_cancelled`].
/// - with [`abandon_on_cancel(true)`](ToThread::abandon_on_cancel) the task gets `Cancelled` at
///   once; `f` keeps running, its result is dropped, and its limiter token is released only when
///   it really returns.
///
/// Dropping the future (rather than cancelling it) abandons a running job in the same way.
///
/// # Errors
/// `Cancelled` as above, `NoRuntime` outside `run`, `Io` if a worker thread could not be started.
///
/// # Examples
/// ```no_run
/// use quartet_runtime::thread::{CapacityLimiter, to_thread};
/// quartet_runtime::run(async {
///     let disk = CapacityLimiter::new(2); // at most two of these at once
///     let meta = to_thread(|| std::fs::metadata("/etc/hostname")).limiter(&disk).await??;
///     println!("{} bytes", meta.len());
///     Ok::<(), Box<dyn std::error::Error>>(())
/// }).unwrap().unwrap();
/// ```
pub fn to_thread<F, R>(f: F) -> ToThread<F, R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    ToThread {
        f: Some(f),
        limiter: None,
        abandon: false,
        state: State::Start,
        park: cancel::Park::waiting_for(crate::introspect::WaitKind::ThreadJob),
    }
}

/// The future of [`to_thread`].
///
/// # Examples
/// ```
/// use quartet_runtime::thread::{CapacityLimiter, to_thread};
/// # quartet_runtime::run(async {
/// let disk = CapacityLimiter::new(2);
/// let len = to_thread(|| std::fs::read("/proc/self/stat").map(|v| v.len()))
///     .limiter(&disk) // this kind of job: at most two at once
///     .abandon_on_cancel(false) // wait for the job if cancelled (the default)
///     .await??;
/// assert!(len > 0);
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap().unwrap();
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct ToThread<F, R> {
    f: Option<F>,
    limiter: Option<CapacityLimiter>,
    abandon: bool,
    state: State<R>,
    /// Parked on the cancel-status tree while the job runs.
    park: cancel::Park,
}

enum State<R> {
    Start,
    Acquiring(Acquire),
    Running { job: Running<R>, told: bool },
    Done,
}

// `F` is never pinned (it is moved out before it runs), and every other field is `Unpin`.
impl<F, R> Unpin for ToThread<F, R> {}

impl<F, R> fmt::Debug for ToThread<F, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Start => "start",
            State::Acquiring(_) => "acquiring",
            State::Running { .. } => "running",
            State::Done => "done",
        };
        f.debug_struct("ToThread").field("state", &state).field("abandon_on_cancel", &self.abandon).finish()
    }
}

impl<F, R> ToThread<F, R> {
    /// Takes the token from `limiter` instead of the runtime's default limiter.
    ///
    /// ```
    /// use quartet_runtime::thread::{CapacityLimiter, to_thread};
    /// # quartet_runtime::run(async {
    /// let one_at_a_time = CapacityLimiter::new(1);
    /// to_thread(|| ()).limiter(&one_at_a_time).await?;
    /// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
    /// ```
    pub fn limiter(mut self, limiter: &CapacityLimiter) -> Self {
        self.limiter = Some(limiter.clone());
        self
    }

    /// If `yes`, a cancellation while `f` runs returns `Cancelled` at once and leaves `f` running
    /// (Trio's `abandon_on_cancel`). Default: wait for `f`.
    ///
    /// ```
    /// use quartet_runtime::thread::to_thread;
    /// # quartet_runtime::run(async {
    /// // A blocking DNS lookup nobody needs to wait for once the caller gives up.
    /// let r = to_thread(|| std::net::ToSocketAddrs::to_socket_addrs("localhost:80").map(|a| a.count()))
    ///     .abandon_on_cancel(true)
    ///     .await?;
    /// # let _ = r;
    /// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
    /// ```
    pub fn abandon_on_cancel(mut self, yes: bool) -> Self {
        self.abandon = yes;
        self
    }
}

impl<F, R> Future for ToThread<F, R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    type Output = Result<R, OpError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        loop {
            match &mut this.state {
                State::Start => {
                    if let Some(c) = cancel::current() {
                        this.state = State::Done;
                        return Poll::Ready(Err(c.into()));
                    }
                    let Some(limiter) = this.limiter.take().or_else(default_limiter) else {
                        this.state = State::Done;
                        return Poll::Ready(Err(OpError::NoRuntime));
                    };
                    this.state = State::Acquiring(limiter.acquire());
                }
                State::Acquiring(acquire) => {
                    let token = match Pin::new(acquire).poll(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Err(c)) => {
                            this.state = State::Done;
                            return Poll::Ready(Err(c.into()));
                        }
                        Poll::Ready(Ok(token)) => token,
                    };
                    this.state = State::Done;
                    let f = this.f.take().expect("f is taken once");
                    let Some((pool, system)) = with_core(|c| (c.threads.pool(), c.threads.system_queue())) else {
                        return Poll::Ready(Err(OpError::NoRuntime));
                    };
                    match job::start(&pool, token, f, Some(system)) {
                        Ok(job) => this.state = State::Running { job, told: false },
                        Err(e) => return Poll::Ready(Err(OpError::Io(e.into()))),
                    }
                }
                State::Running { job, told } => {
                    if let Poll::Ready(outcome) = job.poll_outcome(cx) {
                        this.park.unpark();
                        this.state = State::Done;
                        return Poll::Ready(match outcome {
                            Outcome::Done(Ok(v)) => Ok(v),
                            Outcome::Done(Err(panic)) => resume_unwind(panic),
                            Outcome::NotStarted(c) => Err(c.into()),
                        });
                    }
                    let Err(c) = this.park.park(cx) else { return Poll::Pending };
                    if !*told {
                        *told = true;
                        job.cancel(c.reason().clone());
                    }
                    if !this.abandon {
                        return Poll::Pending;
                    }
                    this.state = State::Done; // drops the job: its outcome is dropped when it comes
                    return Poll::Ready(Err(c.into()));
                }
                // Polled again after it returned (misuse): a typed error, not a panic.
                State::Done => {
                    return Poll::Ready(Err(crate::Cancelled::new(crate::Reason::PolledAfterCompletion).into()));
                }
            }
        }
    }
}

/// The waker of the system tasks: on the kernel thread it marks them woken; elsewhere it goes
/// through the remote-wake queue and does that when the kernel re-wakes it.
pub(crate) struct SystemWake {
    core_id: u64,
    remote: crate::sync::Arc<Remote>,
}

impl Wake for SystemWake {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref()
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        if current_id() == self.core_id {
            with_core(|c| c.threads.woken.set(true));
        } else {
            self.remote.push(Waker::from(self.clone()));
        }
    }
}

/// The waker of kernel `core_id`'s `from_thread` system tasks.
pub(crate) fn system_waker(core_id: u64, remote: crate::sync::Arc<Remote>) -> Waker {
    Waker::from(std::sync::Arc::new(SystemWake { core_id, remote }))
}
