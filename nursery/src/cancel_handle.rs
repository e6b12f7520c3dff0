//! Cancelling a scope from elsewhere: [`CancelHandle`] (any task or thread), and asking whether
//! graceful cancellation has reached the calling code ([`shutdown_requested`]).
//!
//! Apart from `scope.rs` because a handle is only the scope's shared state: it never enters the
//! scope, so it needs none of the activation machinery, and it is `Send + Sync`.

use quartet_runtime::Reason;
use quartet_runtime::hooks::ScopeState;
use std::fmt;
use std::sync::Arc;

/// Cancels a scope from any task or thread.
///
/// # Examples
/// ```
/// use quartet_nursery::*;
/// # quartet_runtime::run(async {
/// let scope = CancelScope::new();
/// let stop: CancelHandle = scope.handle();
/// let worker = std::thread::spawn(move || {
///     // e.g. a GUI thread or a signal handler thread
///     stop.cancel();
/// });
/// worker.join().unwrap();
/// let r = scope.run(quartet_runtime::sleep(std::time::Duration::from_secs(60))).await;
/// assert!(matches!(r, Ok(None)));
/// # }).unwrap();
/// ```
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
    pub(crate) fn from_state(state: Arc<ScopeState>) -> CancelHandle {
        CancelHandle { state }
    }

    /// Cancels the scope (reason: explicit).
    ///
    /// ```
    /// use quartet_nursery::*;
    /// let scope = CancelScope::new();
    /// scope.handle().cancel();
    /// assert!(scope.cancel_called());
    /// ```
    pub fn cancel(&self) {
        self.state.cancel(Reason::Explicit)
    }

    /// Cancels the scope with a reason.
    ///
    /// ```
    /// use quartet_nursery::*;
    /// use quartet_runtime::Reason;
    /// let scope = CancelScope::new();
    /// scope.handle().cancel_with(Reason::Signal);
    /// assert_eq!(scope.reason(), Some(Reason::Signal));
    /// ```
    pub fn cancel_with(&self, reason: Reason) {
        self.state.cancel(reason)
    }

    /// Requests graceful cancellation (see [`CancelScope::cancel_gracefully`]).
    pub fn cancel_gracefully(&self, grace: std::time::Duration) {
        self.state.cancel_gracefully(grace)
    }

    /// A handle to the root scope of the runtime running on this thread: cancelling it (or
    /// cancelling it gracefully, e.g. on SIGTERM) reaches every task. `None` outside `run`.
    ///
    /// # Examples
    /// ```no_run
    /// use quartet_nursery::CancelHandle;
    /// quartet_runtime::run(async {
    ///     let root = CancelHandle::root().expect("inside run");
    ///     std::thread::spawn(move || root.cancel()); // e.g. from a signal-handling thread
    ///     let r = quartet_runtime::sleep(std::time::Duration::from_secs(60)).await;
    ///     assert!(r.is_err());
    /// }).unwrap();
    /// ```
    pub fn root() -> Option<CancelHandle> {
        quartet_runtime::cancel::root().map(|state| CancelHandle { state })
    }

    /// True once a cancel was requested or the deadline passed.
    ///
    /// ```
    /// use quartet_nursery::*;
    /// let scope = CancelScope::new();
    /// let h = scope.handle();
    /// assert!(!h.cancel_called());
    /// scope.cancel();
    /// assert!(h.cancel_called());
    /// ```
    pub fn cancel_called(&self) -> bool {
        self.state.latch_cancel_called()
    }
}

/// True once graceful (or hard) cancellation reaches the calling code: an enclosing scope, a
/// nursery or the root was asked to shut down gracefully. Finish the work in hand and return.
///
/// # Examples
/// ```
/// use quartet_nursery::{CancelScope, shutdown_requested};
/// # quartet_runtime::run(async {
/// assert!(!shutdown_requested());
/// let scope = CancelScope::new();
/// scope.cancel_gracefully(std::time::Duration::from_secs(1));
/// let seen = scope.run(async { Ok::<_, quartet_runtime::Cancelled>(shutdown_requested()) }).await;
/// assert_eq!(seen, Ok(Some(true))); // finish the work in hand, then return
/// # }).unwrap();
/// ```
pub fn shutdown_requested() -> bool {
    quartet_runtime::cancel::shutdown_requested()
}

/// Waits until graceful cancellation reaches the calling code; `Err(Cancelled)` if it is
/// hard-cancelled first. See [`CancelScope::cancel_gracefully`].
///
/// # Examples
/// ```
/// use quartet_nursery::{CancelScope, wait_shutdown_requested};
/// # quartet_runtime::run(async {
/// let scope = CancelScope::new();
/// scope.cancel_gracefully(std::time::Duration::from_secs(1));
/// let r = scope.run(async { wait_shutdown_requested().await }).await;
/// assert_eq!(r, Ok(Some(())));
/// # }).unwrap();
/// ```
pub fn wait_shutdown_requested() -> quartet_runtime::cancel::ShutdownRequested {
    quartet_runtime::cancel::shutdown_requested_wait()
}
