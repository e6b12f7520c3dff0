//! [`Semaphore`]: a counter of units that tasks acquire and release, FIFO-fair, usable from any
//! thread.
//!
//! Invariants (under the state mutex): parked acquirers exist only while `value` is 0; a release
//! hands its unit straight to the oldest parked acquirer instead of incrementing `value`, so a
//! later arrival can never take it first; `value <= max` always.
//!
//! Bounded like Trio's `Semaphore(initial, max_value=...)`: an explicit [`Semaphore::release`]
//! that would raise the value past its maximum (`usize::MAX` when unbounded) fails with
//! [`SemaphoreError::ReleasedTooManyTimes`] instead of silently saturating, so an unbalanced
//! release is reported where it happens. A [`Permit`] dropped while the value is already at its
//! maximum (possible only after such extra releases) cannot fail, so its unit is discarded.

use super::acquire::{ACQUIRE_Q, Acquire, Resource, release};
use super::error::{SemaphoreError, WouldBlock};
use super::waitset::{WaitSet, Waiter};
use quartet_runtime::Cancelled;
use quartet_runtime::sync::{Mutex, MutexGuard, lock};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

#[derive(Debug)]
pub(crate) struct SemState {
    value: usize,
    /// The highest value a release may raise `value` to (`usize::MAX` when unbounded).
    max: usize,
    /// Whether `max` was given by the user ([`Semaphore::max_value`]).
    bounded: bool,
    waiters: WaitSet<Waiter<()>>,
}

/// A semaphore: [`acquire`](Semaphore::acquire) takes a unit (waiting while there is none) and
/// returns a [`Permit`] that gives it back on drop.
///
/// Units may also be added with [`release`](Semaphore::release) and kept with
/// [`Permit::forget`], for hand-offs that are not scoped. There is no timeout argument: wrap the
/// call in a cancel scope.
///
/// A semaphore may be given a maximum value ([`Semaphore::bounded`], Trio's `max_value`): a
/// release that would raise the value above it fails with
/// [`SemaphoreError::ReleasedTooManyTimes`]. An unbounded one ([`Semaphore::new`]) has the
/// maximum `usize::MAX`, so it never saturates silently either.
///
/// # Examples
/// ```no_run
/// use quartet_nursery::sync::Semaphore;
/// quartet_runtime::run(async {
///     let slots = Semaphore::new(2); // at most two downloads at once
///     quartet_nursery::nursery(async |n| {
///         for _ in 0..10 {
///             let slots = &slots;
///             n.spawn(async move {
///                 let _permit = slots.acquire().await?;
///                 quartet_runtime::sleep(std::time::Duration::from_millis(10)).await
///             })?;
///         }
///         Ok::<_, quartet_nursery::SpawnError>(())
///     })
///     .await
/// }).unwrap().unwrap();
/// ```
pub struct Semaphore {
    state: Mutex<SemState>,
}

impl Semaphore {
    /// A semaphore holding `value` units.
    ///
    /// ```
    /// use quartet_nursery::sync::*;
    /// let sem = Semaphore::new(3); // three at a time
    /// assert_eq!(sem.value(), 3);
    /// ```
    pub fn new(value: usize) -> Semaphore {
        Semaphore::with_state(value, usize::MAX, false)
    }

    /// A semaphore holding `value` units that a [`release`](Semaphore::release) may never raise
    /// above `max_value` (Trio's `Semaphore(value, max_value=max_value)`): a bounded semaphore
    /// catches a task that releases a unit it never acquired.
    ///
    /// # Errors
    /// [`SemaphoreError::InitialAboveMax`] if `value > max_value`.
    ///
    /// ```
    /// use quartet_nursery::sync::*;
    /// let sem = Semaphore::bounded(1, 1)?;
    /// assert_eq!(sem.max_value(), Some(1));
    /// assert_eq!(sem.release(), Err(SemaphoreError::ReleasedTooManyTimes { max_value: 1 }));
    /// sem.try_acquire()?.forget();
    /// sem.release()?; // gives the forgotten unit back
    /// assert!(Semaphore::bounded(2, 1).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn bounded(value: usize, max_value: usize) -> Result<Semaphore, SemaphoreError> {
        if value > max_value {
            return Err(SemaphoreError::InitialAboveMax { value, max_value });
        }
        Ok(Semaphore::with_state(value, max_value, true))
    }

    fn with_state(value: usize, max: usize, bounded: bool) -> Semaphore {
        Semaphore { state: Mutex::new(SemState { value, max, bounded, waiters: WaitSet::default() }) }
    }

    /// The maximum value given to [`bounded`](Semaphore::bounded); `None` for a semaphore made by
    /// [`new`](Semaphore::new) (whose value still cannot pass `usize::MAX`).
    ///
    /// ```
    /// use quartet_nursery::sync::*;
    /// assert_eq!(Semaphore::new(3).max_value(), None);
    /// assert_eq!(Semaphore::bounded(0, 3).unwrap().max_value(), Some(3));
    /// ```
    pub fn max_value(&self) -> Option<usize> {
        let st = self.state();
        st.bounded.then_some(st.max)
    }

    /// Waits for a unit and takes it.
    ///
    /// # Cancellation
    /// A checkpoint: it fails with `Cancelled` on entry in a cancelled scope, and otherwise yields
    /// at least once, even when a unit is free. If it returns `Cancelled`, it took no unit and
    /// kept no place in the queue; if a unit was handed to it before it noticed the cancellation,
    /// it returns the permit. Dropping the future gives back a unit it was handed.
    ///
    /// ```
    /// use quartet_nursery::sync::*;
    /// # quartet_runtime::run(async {
    /// use quartet_nursery::{BoxError, nursery};
    /// let downloads = Semaphore::new(2);
    /// nursery(async |n| -> Result<(), BoxError> {
    ///     for _ in 0..5 {
    ///         n.spawn(async {
    ///             let _permit = downloads.acquire().await?; // at most two inside at once
    ///             quartet_runtime::checkpoint().await?;
    ///             Ok::<_, BoxError>(())
    ///         })?;
    ///     }
    ///     Ok(())
    /// })
    /// .await?;
    /// assert_eq!(downloads.value(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap().unwrap();
    /// ```
    pub fn acquire(&self) -> SemaphoreAcquire<'_> {
        SemaphoreAcquire { acquire: Acquire::new(self) }
    }

    /// Takes a unit if one is free. Not a checkpoint.
    ///
    /// # Errors
    /// [`WouldBlock`] if the value is 0.
    ///
    /// ```
    /// use quartet_nursery::sync::*;
    /// let sem = Semaphore::new(1);
    /// let _p = sem.try_acquire().unwrap();
    /// assert!(sem.try_acquire().is_err());
    /// ```
    pub fn try_acquire(&self) -> Result<Permit<'_>, WouldBlock> {
        if Self::take_now(&mut self.state()) { Ok(Permit { sem: self }) } else { Err(WouldBlock) }
    }

    /// Adds one unit: it goes to the oldest waiting task, or raises the value. Not a checkpoint.
    ///
    /// # Errors
    /// [`SemaphoreError::ReleasedTooManyTimes`] if the value is already at its maximum (the
    /// `max_value` of [`bounded`](Semaphore::bounded), or `usize::MAX`); nothing changes then.
    ///
    /// ```
    /// use quartet_nursery::sync::*;
    /// let sem = Semaphore::new(0);
    /// sem.release()?; // adds a unit
    /// assert_eq!(sem.value(), 1);
    /// # Ok::<(), SemaphoreError>(())
    /// ```
    pub fn release(&self) -> Result<(), SemaphoreError> {
        let waker = {
            let mut st = self.state();
            if st.value == st.max {
                return Err(SemaphoreError::ReleasedTooManyTimes { max_value: st.max });
            }
            Self::give_back(&mut st)
        };
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }

    /// Units free right now.
    ///
    /// ```
    /// use quartet_nursery::sync::*;
    /// assert_eq!(Semaphore::new(4).value(), 4);
    /// ```
    pub fn value(&self) -> usize {
        self.state().value
    }

    /// A snapshot of the semaphore's state.
    ///
    /// ```
    /// use quartet_nursery::sync::*;
    /// let s = Semaphore::new(1).statistics();
    /// assert_eq!((s.value, s.waiting), (1, 0));
    /// ```
    pub fn statistics(&self) -> SemaphoreStats {
        let st = self.state();
        SemaphoreStats { value: st.value, waiting: st.waiters.len(ACQUIRE_Q), max_value: st.bounded.then_some(st.max) }
    }
}

impl Resource for Semaphore {
    const WAIT: quartet_runtime::introspect::WaitKind = quartet_runtime::introspect::WaitKind::Semaphore;
    type State = SemState;

    fn state(&self) -> MutexGuard<'_, SemState> {
        lock(&self.state)
    }

    fn waiters(st: &mut SemState) -> &mut WaitSet<Waiter<()>> {
        &mut st.waiters
    }

    fn take_now(st: &mut SemState) -> bool {
        if st.value == 0 {
            return false;
        }
        st.value -= 1;
        true
    }

    fn give_back(st: &mut SemState) -> Option<Waker> {
        match st.waiters.pop_front(ACQUIRE_Q) {
            Some(k) => st.waiters.get_mut(k).complete(),
            None => {
                // At the maximum only after unbalanced `release` calls: the unit is discarded
                // (a drop cannot report an error; the extra `release` already counted it).
                if st.value < st.max {
                    st.value += 1;
                }
                None
            }
        }
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore").field("stats", &self.statistics()).finish()
    }
}

/// A snapshot of a [`Semaphore`].
///
/// # Examples
/// ```
/// use quartet_nursery::sync::*;
/// let sem = Semaphore::new(3);
/// let _p = sem.try_acquire().unwrap();
/// assert_eq!(sem.statistics().value, 2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SemaphoreStats {
    /// Units free right now.
    pub value: usize,
    /// Tasks waiting for a unit.
    pub waiting: usize,
    /// The maximum value, for a [`Semaphore::bounded`] one.
    pub max_value: Option<usize>,
}

/// The future of [`Semaphore::acquire`].
///
/// # Examples
/// ```
/// use quartet_nursery::sync::*;
/// # quartet_runtime::run(async {
/// let sem = Semaphore::new(1);
/// let acquire: SemaphoreAcquire<'_> = sem.acquire();
/// let permit = acquire.await?;
/// assert_eq!(sem.value(), 0);
/// drop(permit);
/// assert_eq!(sem.value(), 1);
/// # Ok::<(), quartet_runtime::Cancelled>(()) }).unwrap().unwrap();
/// ```
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct SemaphoreAcquire<'a> {
    acquire: Acquire<'a, Semaphore>,
}

impl SemaphoreAcquire<'_> {
    /// True once the future has returned `Ready`: polling it again then returns
    /// `Err(Cancelled)` with [`Reason::PolledAfterCompletion`](quartet_runtime::Reason::PolledAfterCompletion)
    /// (not a cancellation), never a panic or a second permit.
    pub fn is_terminated(&self) -> bool {
        self.acquire.is_done()
    }
}

impl<'a> Future for SemaphoreAcquire<'a> {
    type Output = Result<Permit<'a>, Cancelled>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let sem = self.acquire.resource();
        Pin::new(&mut self.acquire).poll(cx).map_ok(|()| Permit { sem })
    }
}

/// One unit of a [`Semaphore`], given back when dropped.
///
/// If the semaphore's value is already at its maximum when the permit drops (only after
/// [`Semaphore::release`] was called for units nobody gave back), the unit is discarded rather
/// than raising the value past the maximum.
///
/// # Examples
/// ```
/// use quartet_nursery::sync::*;
/// let sem = Semaphore::new(2);
/// let p: Permit<'_> = sem.try_acquire().unwrap();
/// p.forget(); // keep the unit taken
/// assert_eq!(sem.value(), 1);
/// ```
#[must_use = "dropping a permit gives its unit back at once"]
pub struct Permit<'a> {
    sem: &'a Semaphore,
}

impl Permit<'_> {
    /// Keeps the unit taken: it is not given back (call [`Semaphore::release`] to add it later).
    ///
    /// ```
    /// use quartet_nursery::sync::*;
    /// let sem = Semaphore::new(1);
    /// sem.try_acquire().unwrap().forget();
    /// assert_eq!(sem.value(), 0);
    /// sem.release()?; // give it back explicitly
    /// assert_eq!(sem.value(), 1);
    /// # Ok::<(), SemaphoreError>(())
    /// ```
    pub fn forget(self) {
        std::mem::forget(self);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        release(self.sem);
    }
}

impl fmt::Debug for Permit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit").finish_non_exhaustive()
    }
}
