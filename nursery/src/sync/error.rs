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

/// A [`Semaphore`](crate::sync::Semaphore) refused a request that would break its bound.
///
/// # Examples
/// ```
/// use quartet_nursery::sync::*;
/// assert_eq!(
///     Semaphore::bounded(2, 1).err(),
///     Some(SemaphoreError::InitialAboveMax { value: 2, max_value: 1 })
/// );
/// let sem = Semaphore::bounded(1, 1)?;
/// assert_eq!(sem.release(), Err(SemaphoreError::ReleasedTooManyTimes { max_value: 1 }));
/// # Ok::<(), SemaphoreError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SemaphoreError {
    /// [`Semaphore::bounded`](crate::sync::Semaphore::bounded) was given an initial value above
    /// the maximum.
    #[error("a semaphore's max_value ({max_value}) must be >= its initial value ({value})")]
    InitialAboveMax {
        /// The initial value asked for.
        value: usize,
        /// The maximum asked for.
        max_value: usize,
    },
    /// [`Semaphore::release`](crate::sync::Semaphore::release) found the value at its maximum:
    /// more units were released than were acquired. Nothing changed.
    #[error("semaphore released too many times (its value is at its maximum, {max_value})")]
    ReleasedTooManyTimes {
        /// The semaphore's maximum value (`usize::MAX` for an unbounded one).
        max_value: usize,
    },
}
