//! [`Reason`]: why a cancel scope was cancelled, and the few reasons that are not a
//! cancellation at all (misuse reported as a typed error rather than a panic or a hang).

use super::NO_RUNTIME;
use std::fmt;

/// Why a cancel scope was cancelled.
///
/// # Examples
/// ```
/// use quartet_runtime::{Cancelled, Reason};
/// let c = Cancelled::new(Reason::Other("shutting down for maintenance".into()));
/// assert_eq!(c.to_string(), "cancelled: shutting down for maintenance");
/// assert_eq!(Reason::Deadline.to_string(), "deadline expired");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// `cancel()` was called on the scope or one of its handles.
    Explicit,
    /// The scope's deadline passed.
    Deadline,
    /// A sibling task failed; the text names it.
    SiblingFailed(String),
    /// A signal (Ctrl-C / SIGTERM) asked the program to stop.
    Signal,
    /// The runtime is shutting down.
    Shutdown,
    /// A `fail_after`/`fail_at` deadline passed ([`TooSlow`](super::TooSlow) converted into a `Cancelled`, for
    /// bodies whose error type is `Cancelled`).
    TooSlow,
    /// A graceful cancellation's grace period ended before the code inside finished.
    GracePeriodEnded,
    /// A graceful cancellation reached a scope that ends on shutdown requests
    /// (`move_on_shutdown`): the wait inside it was idle work to give up.
    ShutdownRequested,
    /// Not a cancellation: a checkpoint ([`sleep`](crate::sleep), [`checkpoint`](crate::checkpoint))
    /// was polled outside `quartet::run`, where nothing could ever wake it. Converting the
    /// `Cancelled` into an [`OpError`](super::OpError) gives [`OpError::NoRuntime`](super::OpError::NoRuntime), and [`is_cancellation`](super::is_cancellation) does
    /// not count it, so no cancel scope absorbs it.
    NoRuntime,
    /// Not a cancellation: a cancel scope was run inside its own active block, in the same task.
    /// Trio refuses that ("Each CancelScope may only be used for a single 'with' block"); quartet
    /// lets a scope run one block after another or in several tasks at once, but a block nested
    /// in itself is refused: every checkpoint inside the nested block fails with this reason, and
    /// no scope absorbs it ([`is_cancellation`](super::is_cancellation) does not count it), so it reaches the caller.
    ScopeReentered,
    /// Not a cancellation: a future was polled again after it had returned `Ready` (a misuse of
    /// the future). quartet's waiting futures (receives, lock and semaphore acquires, event and
    /// condition waits) report this instead of panicking; no scope absorbs it.
    PolledAfterCompletion,
    /// Not a cancellation: a task waited for a `Lock` (`quartet::sync::Lock`, or a `Condition`'s
    /// lock) that it already holds, which would wait forever. Trio refuses
    /// it ("attempt to re-acquire an already held Lock"); quartet returns this reason at once
    /// instead of deadlocking, and no scope absorbs it.
    LockReacquired,
    /// A reason given by the program.
    Other(String),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Explicit => f.write_str("cancel() was called"),
            Reason::Deadline => f.write_str("deadline expired"),
            Reason::SiblingFailed(who) => write!(f, "sibling task {who} failed"),
            Reason::Signal => f.write_str("signal received"),
            Reason::Shutdown => f.write_str("runtime shutting down"),
            Reason::TooSlow => f.write_str("deadline exceeded (fail_after/fail_at)"),
            Reason::GracePeriodEnded => f.write_str("the grace period of a graceful cancellation ended"),
            Reason::ShutdownRequested => f.write_str("a graceful shutdown was requested"),
            Reason::NoRuntime => f.write_str(NO_RUNTIME),
            Reason::ScopeReentered => f.write_str(
                "a cancel scope was run inside its own active block in the same task (each block \
                 of a scope must end before the scope is run again in that task)",
            ),
            Reason::PolledAfterCompletion => f.write_str("a future was polled again after it completed"),
            Reason::LockReacquired => {
                f.write_str("a task tried to acquire a lock it already holds (it would wait for itself forever)")
            }
            Reason::Other(s) => f.write_str(s),
        }
    }
}
