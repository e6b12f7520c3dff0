//! The hand-off of one `to_thread` job: wrap the closure, queue it on the pool, and wait for its
//! outcome. Loom-checked in `runtime/tests/loom_to_thread.rs`; nothing here touches the ring.
//!
//! The caller and the worker share two things: a [`oneshot`] for the outcome, and
//! a cancel scope (`ScopeState`) that the caller cancels when it is cancelled or goes away. The
//! worker reads both right before it would start the closure: if the caller is gone or cancelled,
//! the closure never runs and the outcome is [`Outcome::NotStarted`]. Once it has started it runs
//! to the end (a thread cannot be interrupted); the code inside can poll
//! [`Handle::check_cancelled`](super::Handle::check_cancelled).
//!
//! The limiter token moves into the job and is dropped on the worker right after the closure
//! returns and before the outcome is sent, so it is released only when the thread really finished
//! the work, and a caller that has its result sees the token already back.

use super::handle::{Handle, WORKER};
use super::limiter::Token;
use super::oneshot::{self, Receiver, RecvError};
use super::pool::{Pool, PoolError};
use super::system::SystemQueue;
use crate::cancel::ScopeState;
use crate::error::{Cancelled, Reason};
use crate::sync::Arc;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::task::{Context, Poll};

/// What came back from a job.
#[derive(Debug)]
pub enum Outcome<R> {
    /// The closure ran; its return value or its panic payload.
    Done(std::thread::Result<R>),
    /// The caller was cancelled or gone before the closure started, so it never ran.
    NotStarted(Cancelled),
}

/// Queues `f` on `pool`, holding `token` until `f` has returned. `system` is the kernel's
/// `from_thread` queue, for the [`Handle`] that code on the worker gets from `Handle::current()`.
///
/// # Errors
/// From [`Pool::execute`]; the token and `f` have then been dropped.
pub fn start<F, R>(pool: &Pool, token: Token, f: F, system: Option<Arc<SystemQueue>>) -> Result<Running<R>, PoolError>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let (tx, rx) = oneshot::channel::<Outcome<R>>();
    let scope = ScopeState::new();
    let caller = scope.clone();
    let job = move || {
        if tx.is_closed() || caller.cancel_called() {
            drop(token);
            let c = Cancelled::new(caller.reason().unwrap_or(Reason::Explicit));
            let _ = tx.send(Outcome::NotStarted(c));
            return;
        }
        let previous = system.map(|s| WORKER.with(|w| w.replace(Some(Handle::new(s, Some(caller))))));
        let result = catch_unwind(AssertUnwindSafe(f));
        if let Some(previous) = previous {
            drop(WORKER.with(|w| w.replace(previous)));
        }
        drop(token);
        // A refused outcome (the caller is gone) is dropped here, on the worker.
        let _ = tx.send(Outcome::Done(result));
    };
    pool.execute(Box::new(job))?;
    Ok(Running { rx: Some(rx), scope })
}

/// The caller's side of a started job.
pub struct Running<R> {
    rx: Option<Receiver<Outcome<R>>>,
    scope: std::sync::Arc<ScopeState>,
}

impl<R> fmt::Debug for Running<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Running").field("waiting", &self.rx.is_some()).finish()
    }
}

impl<R> Running<R> {
    /// The outcome, once the worker has sent it.
    ///
    /// If the job was dropped unrun (its pool closed), the outcome is `NotStarted` with reason
    /// [`Reason::Shutdown`].
    pub fn poll_outcome(&mut self, cx: &mut Context<'_>) -> Poll<Outcome<R>> {
        let Some(rx) = self.rx.as_mut() else {
            return Poll::Ready(Outcome::NotStarted(Cancelled::new(Reason::Shutdown)));
        };
        let out = match rx.poll_recv(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Ok(o)) => o,
            Poll::Ready(Err(RecvError)) => Outcome::NotStarted(Cancelled::new(Reason::Shutdown)),
        };
        self.rx = None;
        Poll::Ready(out)
    }

    /// Tells the worker that the caller was cancelled: a job that has not started will not start,
    /// and [`Handle::check_cancelled`](super::Handle::check_cancelled) on the worker reports it.
    /// The first reason is kept.
    pub fn cancel(&self, reason: Reason) {
        self.scope.cancel(reason);
    }

    /// Stops waiting: the outcome is dropped when the worker sends it (abandon on cancel).
    pub fn abandon(&mut self) {
        if self.rx.take().is_some() {
            self.scope.cancel(Reason::Other("the task that called to_thread stopped waiting".into()));
        }
    }
}

impl<R> Drop for Running<R> {
    fn drop(&mut self) {
        self.abandon();
    }
}
