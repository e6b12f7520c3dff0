//! Futures of the public API polled again after they completed.
//!
//! Polling a future after it returned `Ready` breaks the `Future` contract, but safe code can do
//! it (a hand-written `select` loop that forgets a branch finished), and an `async fn`'s future
//! then panics ("`async fn` resumed after completion"). quartet's futures answer instead, as its
//! waiting futures (channel receives, `Lock`, `Semaphore`, ...) do:
//!
//! - an output that can carry an error gets a typed one at once: `Cancelled` with
//!   [`Reason::PolledAfterCompletion`] (inside an [`OpError`] or an `io::Error` where the output
//!   holds one of those). It is misuse reported as a `Cancelled`, not a cancellation:
//!   `is_cancellation` is false, so no scope absorbs it;
//! - an output with no error to give (an op that hands its buffer back has no buffer left; a
//!   wrapper whose output is the body's own type) stays `Pending` and never wakes.
//!
//! Either way the inner future is never polled again, so an op is never submitted twice. The
//! public `async fn`s of the I/O types are plain `fn`s that return [`once`] or [`once_pending`]
//! around an `async` block; the wrapper costs one flag test per poll.

use crate::error::{Cancelled, OpError, Reason};
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

/// An output that has a value for "polled after completion" ([`once`] returns it).
pub trait PolledAgain: Sized {
    /// What a poll after completion returns.
    ///
    /// ```
    /// use quartet_runtime::fused::PolledAgain;
    /// let again = <Result<u8, quartet_runtime::OpError>>::polled_again();
    /// assert!(again.is_err());
    /// ```
    fn polled_again() -> Self;
}

fn misuse() -> Cancelled {
    Cancelled::new(Reason::PolledAfterCompletion)
}

impl PolledAgain for Cancelled {
    fn polled_again() -> Self {
        misuse()
    }
}

impl PolledAgain for OpError {
    /// `Cancelled` with [`Reason::PolledAfterCompletion`] inside an `OpError::Io` (the usual
    /// conversion of a misuse reason, see `From<Cancelled> for OpError`).
    fn polled_again() -> Self {
        misuse().into()
    }
}

impl PolledAgain for std::io::Error {
    fn polled_again() -> Self {
        std::io::Error::other(misuse())
    }
}

impl<T, E: PolledAgain> PolledAgain for Result<T, E> {
    fn polled_again() -> Self {
        Err(E::polled_again())
    }
}

impl<T: PolledAgain> PolledAgain for Option<T> {
    fn polled_again() -> Self {
        Some(T::polled_again())
    }
}

/// What a [`Once`] does when polled after completion: the marker of [`once`] or [`once_pending`].
pub trait AfterCompletion<O> {
    /// `Some(value)` to return, or `None` to stay pending.
    fn output() -> Option<O>;
}

/// Returns the output's [`PolledAgain`] value (the marker of [`once`]).
#[derive(Debug)]
pub enum Typed {}

impl<O: PolledAgain> AfterCompletion<O> for Typed {
    fn output() -> Option<O> {
        Some(O::polled_again())
    }
}

/// Stays pending and never wakes (the marker of [`once_pending`]).
#[derive(Debug)]
pub enum StayPending {}

impl<O> AfterCompletion<O> for StayPending {
    fn output() -> Option<O> {
        None
    }
}

pin_project_lite::pin_project! {
    /// Polls the inner future until it completes, and never again (see the module docs).
    #[derive(Debug)]
    #[must_use = "futures do nothing unless awaited"]
    pub struct Once<F, A> {
        #[pin]
        fut: F,
        done: bool,
        after: PhantomData<A>,
    }
}

impl<F, A> Once<F, A> {
    /// True once the inner future has completed.
    ///
    /// ```
    /// # quartet_runtime::run(async {
    /// let mut fut = std::pin::pin!(quartet_runtime::fused::once(async { Ok::<u8, quartet_runtime::OpError>(1) }));
    /// assert!(!fut.is_terminated());
    /// assert_eq!(fut.as_mut().await.unwrap(), 1);
    /// assert!(fut.is_terminated());
    /// # }).unwrap();
    /// ```
    pub fn is_terminated(&self) -> bool {
        self.done
    }
}

impl<F: Future, A: AfterCompletion<F::Output>> Future for Once<F, A> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        if *this.done {
            return A::output().map_or(Poll::Pending, Poll::Ready);
        }
        let out = this.fut.poll(cx);
        *this.done = out.is_ready();
        out
    }
}

/// `fut`, answering a poll after completion with the output's typed misuse error.
///
/// ```
/// use quartet_runtime::{OpError, fused::once};
/// use std::task::{Context, Waker};
/// # quartet_runtime::run(async {
/// let mut fut = Box::pin(once(async { Ok::<u8, OpError>(1) }));
/// assert_eq!(fut.as_mut().await.unwrap(), 1);
/// let again = fut.as_mut().poll(&mut Context::from_waker(Waker::noop()));
/// assert!(matches!(again, std::task::Poll::Ready(Err(OpError::Io(_)))));
/// # }).unwrap();
/// ```
pub fn once<F: Future>(fut: F) -> Once<F, Typed>
where
    F::Output: PolledAgain,
{
    Once { fut, done: false, after: PhantomData }
}

/// `fut`, staying pending (and never waking) when polled after completion: for outputs with no
/// error to give.
///
/// ```
/// use quartet_runtime::fused::once_pending;
/// use std::task::{Context, Waker};
/// # quartet_runtime::run(async {
/// let mut fut = Box::pin(once_pending(async { 7 }));
/// assert_eq!(fut.as_mut().await, 7);
/// assert!(fut.as_mut().poll(&mut Context::from_waker(Waker::noop())).is_pending());
/// # }).unwrap();
/// ```
pub fn once_pending<F: Future>(fut: F) -> Once<F, StayPending> {
    Once { fut, done: false, after: PhantomData }
}
