//! Cancel scopes: the unit of cancellation (semantics §3).
//!
//! A scope wraps a block. While the block is polled, the scope is on the thread's scope stack, so
//! every checkpoint inside sees it. `cancel()` (from anywhere, through a [`CancelHandle`] even
//! from another thread) makes every checkpoint inside fail with `Cancelled` until the block
//! returns; the scope then absorbs that cancellation (`cancelled_caught`), so code after it runs
//! normally. A deadline is a cancel that fires by itself. A shield hides outer cancellations.

pub use crate::cancel_handle::{CancelHandle, shutdown_requested, wait_shutdown_requested};
use crate::scope_error::{self, ScopeError};
use quartet_runtime::hooks::{Activation, ScopeState};
use quartet_runtime::{Cancelled, Instant, Reason};
use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};

pin_project_lite::pin_project! {
    /// Polls `fut` with an activation of `state` as the current cancel status. The activation is
    /// declared after `fut` so that it is freed after everything parked inside it.
    pub(crate) struct Scoped<F> {
        #[pin]
        fut: F,
        activation: Activation,
    }
}

impl<F> Scoped<F> {
    pub fn new(state: Arc<ScopeState>, fut: F) -> Self {
        Scoped { fut, activation: Activation::new(state) }
    }
}

impl<F: Future> Future for Scoped<F> {
    /// The output, and whether this scope owns a cancellation (it was cancelled, and no outer
    /// cancellation is visible to it), i.e. whether it should catch a `Cancelled`.
    type Output = (F::Output, bool);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let entered = this.activation.enter();
        let polled = this.fut.poll(cx);
        drop(entered);
        match polled {
            Poll::Ready(v) => Poll::Ready((v, this.activation.owns_cancellation())),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// A cancel scope. Create it, configure it, [`run`](CancelScope::run) a block in it, then inspect
/// it. Cloning gives another reference to the same scope.
///
/// # Examples
/// ```no_run
/// use quartet_nursery::CancelScope;
/// use quartet_runtime::sleep;
/// use std::time::Duration;
/// quartet_runtime::run(async {
///     let scope = CancelScope::new();
///     let handle = scope.handle();
///     std::thread::spawn(move || handle.cancel()); // cancel from another thread
///     let out = scope.run(async { sleep(Duration::from_secs(60)).await }).await;
///     assert!(matches!(out, Ok(None)) && scope.cancelled_caught());
/// }).unwrap();
/// ```
#[derive(Clone)]
pub struct CancelScope {
    state: Arc<ScopeState>,
    caught: Rc<Cell<bool>>,
}

impl Default for CancelScope {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for CancelScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelScope")
            .field("cancel_called", &self.cancel_called())
            .field("cancelled_caught", &self.cancelled_caught())
            .field("shield", &self.shield())
            .field("deadline", &self.deadline())
            .finish()
    }
}

impl CancelScope {
    /// A scope with no deadline and no shield.
    ///
    /// ```
    /// use quartet_nursery::*;
    /// let scope = CancelScope::new();
    /// assert!(!scope.cancel_called() && scope.deadline().is_none() && !scope.shield());
    /// ```
    pub fn new() -> CancelScope {
        CancelScope { state: ScopeState::new(), caught: Rc::new(Cell::new(false)) }
    }

    /// A scope that cancels itself at `deadline`.
    ///
    /// ```
    /// use quartet_nursery::*;
    /// # quartet_runtime::run(async {
    /// use std::time::Duration;
    /// let scope = CancelScope::with_deadline(quartet_runtime::Instant::now() + Duration::from_millis(5));
    /// let r = scope.run(quartet_runtime::sleep(Duration::from_secs(60))).await;
    /// assert!(matches!(r, Ok(None)) && scope.cancelled_caught());
    /// # }).unwrap();
    /// ```
    pub fn with_deadline(deadline: Instant) -> CancelScope {
        let s = Self::new();
        s.set_deadline(Some(deadline));
        s
    }

    /// A shielded scope: cancellations of outer scopes do not reach inside.
    ///
    /// ```
    /// use quartet_nursery::*;
    /// # quartet_runtime::run(async {
    /// use std::time::Duration;
    /// let outer = CancelScope::new();
    /// outer.cancel();
    /// let inner = outer
    ///     .run(async {
    ///         // Cleanup that must await, inside a cancelled scope: shielded, with its own bound.
    ///         let cleanup = CancelScope::shielded();
    ///         cleanup.set_deadline(Some(quartet_runtime::Instant::now() + Duration::from_secs(1)));
    ///         cleanup.run(quartet_runtime::sleep(Duration::from_millis(1))).await
    ///     })
    ///     .await;
    /// assert!(matches!(inner, Ok(Some(Some(())))));
    /// # }).unwrap();
    /// ```
    pub fn shielded() -> CancelScope {
        let s = Self::new();
        s.set_shield(true);
        s
    }

    pub(crate) fn from_state(state: Arc<ScopeState>) -> CancelScope {
        CancelScope { state, caught: Rc::new(Cell::new(false)) }
    }

    /// Cancels the scope (reason: explicit). Idempotent.
    ///
    /// ```
    /// use quartet_nursery::*;
    /// # quartet_runtime::run(async {
    /// let scope = CancelScope::new();
    /// let r = scope
    ///     .run(async {
    ///         scope.cancel();
    ///         quartet_runtime::checkpoint().await // fails: the scope is cancelled
    ///     })
    ///     .await;
    /// assert!(matches!(r, Ok(None)));
    /// # }).unwrap();
    /// ```
    pub fn cancel(&self) {
        self.state.cancel(Reason::Explicit)
    }

    /// Cancels the scope with a reason that `Cancelled` errors will show.
    ///
    /// ```
    /// use quartet_nursery::*;
    /// use quartet_runtime::Reason;
    /// let scope = CancelScope::new();
    /// scope.cancel_with(Reason::Other("user pressed stop".into()));
    /// assert_eq!(scope.reason(), Some(Reason::Other("user pressed stop".into())));
    /// ```
    pub fn cancel_with(&self, reason: Reason) {
        self.state.cancel(reason)
    }

    /// Requests graceful cancellation: code inside sees
    /// [`shutdown_requested`](crate::shutdown_requested) become true and
    /// [`wait_shutdown_requested`](crate::wait_shutdown_requested) complete, so it can finish its
    /// work; when `grace` has passed the scope is cancelled (reason
    /// [`Reason::GracePeriodEnded`]). A later [`cancel`](Self::cancel) makes it hard at once.
    ///
    /// # Examples
    /// ```no_run
    /// use quartet_nursery::{CancelScope, wait_shutdown_requested};
    /// use std::time::Duration;
    /// quartet_runtime::run(async {
    ///     let scope = CancelScope::new();
    ///     scope.cancel_gracefully(Duration::from_secs(1));
    ///     let r = scope.run(async {
    ///         wait_shutdown_requested().await?; // returns at once: shutdown was requested
    ///         Ok::<_, quartet_runtime::Cancelled>("drained")
    ///     }).await;
    ///     assert_eq!(r, Ok(Some("drained")));
    /// }).unwrap();
    /// ```
    pub fn cancel_gracefully(&self, grace: std::time::Duration) {
        self.state.cancel_gracefully(grace)
    }

    /// Makes a graceful cancellation that reaches this scope cancel it (reason
    /// [`Reason::ShutdownRequested`]); see [`move_on_shutdown`](crate::move_on_shutdown).
    pub fn set_cancel_on_shutdown_request(&self) {
        self.state.set_cancel_on_graceful(true)
    }

    /// A `Send + Sync` handle that can cancel this scope from anywhere.
    ///
    /// ```
    /// use quartet_nursery::*;
    /// let scope = CancelScope::new();
    /// let handle = scope.handle(); // Send + Sync + Clone
    /// std::thread::spawn(move || handle.cancel()).join().unwrap();
    /// assert!(scope.cancel_called());
    /// ```
    pub fn handle(&self) -> CancelHandle {
        CancelHandle::from_state(self.state.clone())
    }

    /// True once a cancel was requested or the deadline passed.
    ///
    /// ```
    /// use quartet_nursery::*;
    /// let scope = CancelScope::new();
    /// scope.cancel();
    /// assert!(scope.cancel_called() && !scope.cancelled_caught()); // nothing ran in it yet
    /// ```
    pub fn cancel_called(&self) -> bool {
        self.state.latch_cancel_called()
    }

    /// True if this scope absorbed a `Cancelled` when its block ended.
    ///
    /// ```
    /// use quartet_nursery::*;
    /// # quartet_runtime::run(async {
    /// let scope = CancelScope::new();
    /// scope.cancel();
    /// let _ = scope.run(quartet_runtime::checkpoint()).await;
    /// assert!(scope.cancelled_caught());
    /// # }).unwrap();
    /// ```
    pub fn cancelled_caught(&self) -> bool {
        self.caught.get()
    }

    /// The deadline, if any.
    ///
    /// ```
    /// use quartet_nursery::*;
    /// let at = quartet_runtime::Instant::now() + std::time::Duration::from_secs(5);
    /// assert_eq!(CancelScope::with_deadline(at).deadline(), Some(at));
    /// ```
    pub fn deadline(&self) -> Option<Instant> {
        self.state.deadline()
    }

    /// Moves the deadline (later or earlier), or removes it. Takes effect while the scope runs.
    ///
    /// ```
    /// use quartet_nursery::*;
    /// # quartet_runtime::run(async {
    /// use quartet_runtime::Instant;
    /// use std::time::Duration;
    /// // A sliding idle timeout: every bit of progress pushes the deadline back.
    /// let idle = CancelScope::with_deadline(Instant::now() + Duration::from_millis(50));
    /// let r = idle
    ///     .run(async {
    ///         for _ in 0..3 {
    ///             quartet_runtime::sleep(Duration::from_millis(1)).await?;
    ///             idle.set_deadline(Some(Instant::now() + Duration::from_millis(50)));
    ///         }
    ///         Ok::<_, quartet_runtime::Cancelled>("made progress")
    ///     })
    ///     .await;
    /// assert_eq!(r, Ok(Some("made progress")));
    /// # }).unwrap();
    /// ```
    pub fn set_deadline(&self, deadline: Option<Instant>) {
        self.state.set_deadline(deadline)
    }

    /// Whether outer cancellations are hidden.
    ///
    /// ```
    /// use quartet_nursery::*;
    /// assert!(CancelScope::shielded().shield());
    /// ```
    pub fn shield(&self) -> bool {
        self.state.shield()
    }

    /// Turns the shield on or off. Takes effect while the scope runs.
    ///
    /// ```
    /// use quartet_nursery::*;
    /// let scope = CancelScope::new();
    /// scope.set_shield(true); // outer cancellations no longer reach inside
    /// assert!(scope.shield());
    /// ```
    pub fn set_shield(&self, on: bool) {
        self.state.set_shield(on)
    }

    /// Why the scope was cancelled, if it was.
    ///
    /// ```
    /// use quartet_nursery::*;
    /// use quartet_runtime::Reason;
    /// let scope = CancelScope::new();
    /// assert_eq!(scope.reason(), None);
    /// scope.cancel();
    /// assert_eq!(scope.reason(), Some(Reason::Explicit));
    /// ```
    pub fn reason(&self) -> Option<Reason> {
        self.state.reason()
    }

    /// Runs `fut` inside the scope.
    ///
    /// Returns `Ok(Some(v))` if the block returned `Ok(v)`, `Ok(None)` if the block ended with a
    /// `Cancelled` that this scope owns (it was cancelled and no outer cancellation reaches it;
    /// then [`cancelled_caught`](Self::cancelled_caught) is true), and `Err(e)` otherwise: a real
    /// error, or a cancellation that belongs to an outer scope and keeps propagating.
    ///
    /// Unlike Trio, which refuses a second `with` of a scope, a scope may be run more than once,
    /// one run after another or at the same time in several tasks: a cancel reaches every run in
    /// progress, a cancellation is permanent (so every later run starts cancelled), and
    /// `cancelled_caught` stays true once any run caught one.
    ///
    /// A run nested inside a block of the same scope in the same task is refused, as in Trio,
    /// with a `Cancelled` whose reason is [`Reason::ScopeReentered`]. When the body's error type
    /// can hold it ([`ScopeError::refusal`]: `Cancelled`, `OpError`, `io::Error`, `NurseryError`,
    /// `BoxError` and the other boxes, `anyhow::Error`), the run returns it at once without
    /// running the body; with another error type the body runs, but not as a block of this
    /// scope: every checkpoint inside it fails with the refusal. That is not a cancellation (no
    /// scope absorbs it, [`is_cancellation`](quartet_runtime::is_cancellation) is false), so a
    /// body that propagates it with `?` hands it up to the caller of the outer run.
    ///
    /// # Examples
    /// ```
    /// use quartet_nursery::*;
    /// # quartet_runtime::run(async {
    /// let scope = CancelScope::new();
    /// let r = scope
    ///     .run(async {
    ///         quartet_runtime::checkpoint().await?;
    ///         Ok::<_, BoxError>(5) // any error type users return works, BoxError included
    ///     })
    ///     .await;
    /// assert_eq!(r.unwrap(), Some(5));
    /// # }).unwrap();
    /// ```
    pub fn run<T, E, F, Via>(&self, fut: F) -> impl std::future::Future<Output = Result<Option<T>, E>>
    where
        F: Future<Output = Result<T, E>>,
        E: ScopeError<Via>,
    {
        quartet_runtime::fused::once_pending(async move {
            if quartet_runtime::cancel::active_in_current_task(&self.state) {
                // Refused on entry when the error type can say so (Trio raises at the `with`);
                // otherwise the body runs in a scope whose checkpoints all report the refusal.
                if let Some(e) = E::refusal(Cancelled::new(Reason::ScopeReentered)) {
                    return Err(e);
                }
                return Scoped::new(refused_reentry(), fut).await.0.map(Some);
            }
            let (out, owns) = Scoped::new(self.state.clone(), fut).await;
            match out {
                Ok(v) => Ok(Some(v)),
                Err(e) if owns && scope_error::is_cancelled(&e) => {
                    self.caught.set(true);
                    Ok(None)
                }
                Err(e) => Err(e),
            }
        })
    }
}

/// The scope a refused nested run's block runs in instead (see [`CancelScope::run`]): shielded,
/// so no outer cancellation replaces its reason, and already cancelled with
/// [`Reason::ScopeReentered`], so every checkpoint inside reports the refusal.
fn refused_reentry() -> Arc<ScopeState> {
    let state = ScopeState::new();
    state.set_shield(true);
    state.cancel(Reason::ScopeReentered);
    state
}

/// Runs `fut` shielded from outer cancellation (bounded cleanup: combine with a deadline, e.g.
/// `CancelScope::shielded()` + `set_deadline`). Returns what [`CancelScope::run`] returns.
///
/// # Examples
/// ```
/// use quartet_nursery::*;
/// # quartet_runtime::run(async {
/// use std::time::Duration;
/// let outer = CancelScope::new();
/// let r = outer
///     .run(async {
///         outer.cancel();
///         // Runs to completion although the enclosing scope is cancelled.
///         let done = shield(async {
///             quartet_runtime::sleep(Duration::from_millis(1)).await?;
///             Ok::<_, quartet_runtime::Cancelled>("flushed")
///         })
///         .await?;
///         assert_eq!(done, Some("flushed"));
///         quartet_runtime::checkpoint().await // the cancellation is still there afterwards
///     })
///     .await;
/// assert!(matches!(r, Ok(None)));
/// # }).unwrap();
/// ```
pub fn shield<T, E, F, Via>(fut: F) -> impl std::future::Future<Output = Result<Option<T>, E>>
where
    F: Future<Output = Result<T, E>>,
    E: ScopeError<Via>,
{
    quartet_runtime::fused::once_pending(async move { CancelScope::shielded().run(fut).await })
}
