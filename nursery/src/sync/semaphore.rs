//! [`Semaphore`]: a counter of units that tasks acquire and release, FIFO-fair, usable from any
//! thread.
//!
//! Invariants (under the state mutex): parked acquirers exist only while `value` is 0; a release
//! hands its unit straight to the oldest parked acquirer instead of incrementing `value`, so a
//! later arrival can never take it first.

use super::acquire::{ACQUIRE_Q, Acquire, Resource, release};
use super::error::WouldBlock;
use super::waitset::{WaitSet, Waiter};
use quartet_runtime::Cancelled;
use quartet_runtime::sync::{Mutex, MutexGuard, lock};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

#[derive(Debug, Default)]
pub(crate) struct SemState {
    value: usize,
    waiters: WaitSet<Waiter<()>>,
}

/// A semaphore: [`acquire`](Semaphore::acquire) takes a unit (waiting while there is none) and
/// returns a [`Permit`] that gives it back on drop.
///
/// Units may also be added with [`release`](Semaphore::release) and kept with
/// [`Permit::forget`], for hand-offs that are not scoped. There is no timeout argument: wrap the
/// call in a cancel scope.
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
        Semaphore { state: Mutex::new(SemState { value, waiters: WaitSet::default() }) }
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
    /// ```
    /// use quartet_nursery::sync::*;
    /// let sem = Semaphore::new(0);
    /// sem.release(); // adds a unit
    /// assert_eq!(sem.value(), 1);
    /// ```
    pub fn release(&self) {
        release(self);
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
        SemaphoreStats { value: st.value, waiting: st.waiters.len(ACQUIRE_Q) }
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
                st.value = st.value.saturating_add(1);
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

impl<'a> Future for SemaphoreAcquire<'a> {
    type Output = Result<Permit<'a>, Cancelled>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let sem = self.acquire.resource();
        Pin::new(&mut self.acquire).poll(cx).map_ok(|()| Permit { sem })
    }
}

/// One unit of a [`Semaphore`], given back when dropped.
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
    /// sem.release(); // give it back explicitly
    /// assert_eq!(sem.value(), 1);
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
