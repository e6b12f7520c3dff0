//! Cancel scopes: the unit of cancellation (semantics §3).
//!
//! A scope wraps a block. While the block is polled, the scope is on the thread's scope stack, so
//! every checkpoint inside sees it. `cancel()` (from anywhere, through a [`CancelHandle`] even
//! from another thread) makes every checkpoint inside fail with `Cancelled` until the block
//! returns; the scope then absorbs that cancellation (`cancelled_caught`), so code after it runs
//! normally. A deadline is a cancel that fires by itself. A shield hides outer cancellations.

use quartet_runtime::cancel::{self, ScopeState};
use quartet_runtime::sync::Arc;
use quartet_runtime::{Instant, Reason, Timer, is_cancellation};
use std::cell::Cell;
use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

pin_project_lite::pin_project! {
    /// Polls `fut` with `state` as the innermost scope and arms its deadline.
    pub(crate) struct Scoped<F> {
        state: Arc<ScopeState>,
        timer: Timer,
        #[pin]
        fut: F,
    }
}

impl<F> Scoped<F> {
    pub fn new(state: Arc<ScopeState>, fut: F) -> Self {
        Scoped { state, timer: Timer::new(), fut }
    }
}

impl<F: Future> Future for Scoped<F> {
    /// The output, and whether this scope owns a cancellation (it was cancelled, and no outer
    /// cancellation is visible to it), i.e. whether it should catch a `Cancelled`.
    type Output = (F::Output, bool);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _entered = cancel::enter(this.state);
        this.state.register(cx.waker());
        match this.state.deadline() {
            Some(d) => {
                let _ = this.timer.poll_at(d, cx);
            }
            None => this.timer.disarm(),
        }
        match this.fut.poll(cx) {
            Poll::Ready(v) => {
                let owns = this.state.cancel_called() && !cancel::outer_cancelled();
                Poll::Ready((v, owns))
            }
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
    pub fn new() -> CancelScope {
        CancelScope { state: ScopeState::new(), caught: Rc::new(Cell::new(false)) }
    }

    /// A scope that cancels itself at `deadline`.
    pub fn with_deadline(deadline: Instant) -> CancelScope {
        let s = Self::new();
        s.set_deadline(Some(deadline));
        s
    }

    /// A shielded scope: cancellations of outer scopes do not reach inside.
    pub fn shielded() -> CancelScope {
        let s = Self::new();
        s.set_shield(true);
        s
    }

    pub(crate) fn from_state(state: Arc<ScopeState>) -> CancelScope {
        CancelScope { state, caught: Rc::new(Cell::new(false)) }
    }

    /// Cancels the scope (reason: explicit). Idempotent.
    pub fn cancel(&self) {
        self.state.cancel(Reason::Explicit)
    }

    /// Cancels the scope with a reason that `Cancelled` errors will show.
    pub fn cancel_with(&self, reason: Reason) {
        self.state.cancel(reason)
    }

    /// A `Send + Sync` handle that can cancel this scope from anywhere.
    pub fn handle(&self) -> CancelHandle {
        CancelHandle { state: self.state.clone() }
    }

    /// True once a cancel was requested or the deadline passed.
    pub fn cancel_called(&self) -> bool {
        self.state.cancel_called()
    }

    /// True if this scope absorbed a `Cancelled` when its block ended.
    pub fn cancelled_caught(&self) -> bool {
        self.caught.get()
    }

    /// The deadline, if any.
    pub fn deadline(&self) -> Option<Instant> {
        self.state.deadline()
    }

    /// Moves the deadline (later or earlier), or removes it. Takes effect while the scope runs.
    pub fn set_deadline(&self, deadline: Option<Instant>) {
        self.state.set_deadline(deadline)
    }

    /// Whether outer cancellations are hidden.
    pub fn shield(&self) -> bool {
        self.state.shield()
    }

    /// Turns the shield on or off. Takes effect while the scope runs.
    pub fn set_shield(&self, on: bool) {
        self.state.set_shield(on)
    }

    /// Why the scope was cancelled, if it was.
    pub fn reason(&self) -> Option<Reason> {
        self.state.reason()
    }

    /// Runs `fut` inside the scope.
    ///
    /// Returns `Ok(Some(v))` if the block returned `Ok(v)`, `Ok(None)` if the block ended with a
    /// `Cancelled` that this scope owns (it was cancelled and no outer cancellation reaches it;
    /// then [`cancelled_caught`](Self::cancelled_caught) is true), and `Err(e)` otherwise: a real
    /// error, or a cancellation that belongs to an outer scope and keeps propagating.
    pub async fn run<T, E, F>(&self, fut: F) -> Result<Option<T>, E>
    where
        F: Future<Output = Result<T, E>>,
        E: StdError + 'static,
    {
        let (out, owns) = Scoped::new(self.state.clone(), fut).await;
        match out {
            Ok(v) => Ok(Some(v)),
            Err(e) if owns && is_cancellation(&e) => {
                self.caught.set(true);
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}

/// Cancels a scope from any task or thread.
#[derive(Clone)]
pub struct CancelHandle {
    state: Arc<ScopeState>,
}

impl fmt::Debug for CancelHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelHandle").field("cancel_called", &self.cancel_called()).finish()
    }
}

impl CancelHandle {
    /// Cancels the scope (reason: explicit).
    pub fn cancel(&self) {
        self.state.cancel(Reason::Explicit)
    }

    /// Cancels the scope with a reason.
    pub fn cancel_with(&self, reason: Reason) {
        self.state.cancel(reason)
    }

    /// True once a cancel was requested or the deadline passed.
    pub fn cancel_called(&self) -> bool {
        self.state.cancel_called()
    }
}

/// Runs `fut` shielded from outer cancellation (bounded cleanup: combine with a deadline, e.g.
/// `CancelScope::shielded()` + `set_deadline`). Returns what [`CancelScope::run`] returns.
pub async fn shield<T, E, F>(fut: F) -> Result<Option<T>, E>
where
    F: Future<Output = Result<T, E>>,
    E: StdError + 'static,
{
    CancelScope::shielded().run(fut).await
}
