//! Errors of the synchronisation primitives.

use quartet_runtime::Cancelled;

/// A `try_` call found the primitive unavailable: it would have had to wait.
///
/// # Examples
/// ```
/// use quartet_nursery::sync::*;
/// let lock = Lock::new(0);
/// let _held = lock.try_lock()?;
/// assert_eq!(lock.try_lock().err(), Some(WouldBlock));
/// # Ok::<(), WouldBlock>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("would block: the primitive is not available right now")]
pub struct WouldBlock;

/// Why [`Condition::wait`](crate::sync::Condition::wait) returned without the lock.
///
/// # Examples
/// ```
/// use quartet_nursery::sync::*;
/// # quartet_runtime::run(async {
/// let a = Condition::new(());
/// let b = Condition::new(());
/// let guard_of_b = b.lock().await?;
/// assert_eq!(a.wait(guard_of_b).await.err(), Some(WaitError::ForeignGuard));
/// # Ok::<(), quartet_runtime::Cancelled>(()) }).unwrap().unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WaitError {
    /// An enclosing scope was cancelled before the wait was notified; no notification was used.
    #[error("condition wait was cancelled")]
    Cancelled(#[from] Cancelled),
    /// The guard passed in belongs to another lock than the condition's (the guard was dropped,
    /// releasing that lock).
    #[error("the guard passed to Condition::wait belongs to a different lock")]
    ForeignGuard,
}
