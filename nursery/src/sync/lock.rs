//! [`Lock`]: an async mutual-exclusion lock that guards a value, FIFO-fair, usable from any
//! thread.
//!
//! Invariants (under the state mutex): `held` is true while some guard (or a future that was
//! handed ownership and has not returned it yet) owns the lock; parked acquirers exist only while
//! `held` is true; release hands ownership straight to the oldest parked acquirer, so `held` stays
//! true and nobody can barge in. The second queue of the wait set holds
//! [`Condition`](super::Condition) waiters that are not yet notified.

use super::acquire::{ACQUIRE_Q, Acquire, Resource, release};
use super::cell::UnsafeCell;
use super::error::WouldBlock;
use super::waitset::{WaitSet, Waiter};
use quartet_runtime::sync::{Mutex, MutexGuard, lock};
use quartet_runtime::task::current_task_key;
use quartet_runtime::{Cancelled, Reason};
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// What is behind a lock's mutex.
#[derive(Debug, Default)]
pub(crate) struct LockState {
    pub held: bool,
    /// The task that holds the lock ([`current_task_key`]), once its acquire returned; 0 while
    /// nobody does, while a release has handed it to a waiter that has not run yet, or when the
    /// holder acquired it outside `run` (no task identity: never refused).
    pub holder: u64,
    pub waiters: WaitSet<Waiter<()>>,
}

impl LockState {
    /// Hands the lock to the oldest parked acquirer, or frees it.
    pub fn release(&mut self) -> Option<Waker> {
        self.holder = 0;
        match self.waiters.pop_front(ACQUIRE_Q) {
            Some(k) => self.waiters.get_mut(k).complete(),
            None => {
                self.held = false;
                None
            }
        }
    }
}

/// An async lock around a `T`: [`lock`](Lock::lock) waits for it, the returned guard gives access
/// and releases it on drop.
///
/// Fair: waiters get the lock in the order they started waiting, and a release hands it straight
/// to the oldest one. `Lock<T>` is `Send + Sync` when `T: Send`, so tasks on different runtimes
/// (threads) can share one through an `Arc`. There is no timeout argument: wrap the call in a
/// cancel scope (e.g. [`move_on_after`](crate::move_on_after)).
///
/// # Examples
/// ```no_run
/// use quartet_nursery::sync::Lock;
/// quartet_runtime::run(async {
///     let total = Lock::new(0u64);
///     quartet_nursery::nursery(async |n| {
///         for i in 0..10 {
///             let total = &total;
///             n.spawn(async move {
///                 *total.lock().await? += i;
///                 Ok::<_, quartet_runtime::Cancelled>(())
///             })?;
///         }
///         Ok::<_, quartet_nursery::SpawnError>(())
///     })
///     .await?;
///     assert_eq!(*total.lock().await?, 45);
///     Ok::<_, Box<dyn std::error::Error>>(())
/// }).unwrap().unwrap();
/// ```
pub struct Lock<T> {
    state: Mutex<LockState>,
    data: UnsafeCell<T>,
}

// The data is reached only through a `LockGuard`, and the state mutex guarantees at most one guard
// exists at a time, handed from owner to owner through that mutex (so each owner's accesses
// happen-before the next owner's).
// SAFETY: sharing the lock therefore only ever moves `T` between threads, which `T: Send` allows.
unsafe impl<T: Send> Sync for Lock<T> {}

impl<T> Lock<T> {
    /// An unlocked lock around `value`.
    ///
    /// ```
    /// use quartet_nursery::sync::*;
    /// let lock = Lock::new(String::new());
    /// assert!(!lock.is_locked());
    /// ```
    pub fn new(value: T) -> Lock<T> {
        Lock { state: Mutex::new(LockState::default()), data: UnsafeCell::new(value) }
    }

    /// Waits for the lock and returns a guard that releases it on drop.
    ///
    /// # Cancellation
    /// A checkpoint: it fails with `Cancelled` on entry in a cancelled scope, and otherwise yields
    /// at least once, even when the lock is free. If it returns `Cancelled`, it does not hold the
    /// lock and nothing changed; if the lock was handed to it before it noticed the cancellation,
    /// it returns the guard (the next checkpoint reports the cancellation). Dropping the future
    /// releases a lock it was handed.
    ///
    /// # Errors
    /// `Cancelled` as above; and, not a cancellation, `Cancelled` with
    /// [`Reason::LockReacquired`](quartet_runtime::Reason::LockReacquired) at once if the calling
    /// task already holds this lock (Trio's "attempt to re-acquire an already held Lock"), which
    /// would otherwise wait for itself forever. The lock belongs to the task that acquired it
    /// (a nursery child, or the root future of `run`): two branches of a `join`/`select` inside
    /// one task are one task, so they cannot wait for each other's guard; run them as two
    /// children. Code polled outside `run` (by hand, or by another executor) has no task identity
    /// quartet can see, and is never refused.
    ///
    /// ```
    /// use quartet_nursery::sync::*;
    /// # quartet_runtime::run(async {
    /// let lock = Lock::new(0);
    /// let guard = lock.lock().await?;
    /// let again = lock.lock().await; // this task holds it: refused, not a deadlock
    /// assert_eq!(again.unwrap_err().reason(), &quartet_runtime::Reason::LockReacquired);
    /// drop(guard);
    /// assert!(lock.lock().await.is_ok());
    /// # Ok::<(), quartet_runtime::Cancelled>(()) }).unwrap().unwrap();
    /// ```
    ///
    /// ```
    /// use quartet_nursery::sync::*;
    /// # quartet_runtime::run(async {
    /// let counter = Lock::new(0u64);
    /// *counter.lock().await? += 1; // released at the end of the statement
    /// assert_eq!(*counter.lock().await?, 1);
    /// # Ok::<(), quartet_runtime::Cancelled>(()) }).unwrap().unwrap();
    /// ```
    pub fn lock(&self) -> LockFuture<'_, T> {
        LockFuture { acquire: Acquire::new(self) }
    }

    /// Takes the lock if it is free (nobody holds it or waits for it). Not a checkpoint.
    ///
    /// # Errors
    /// [`WouldBlock`] if the lock is held.
    ///
    /// ```
    /// use quartet_nursery::sync::*;
    /// let lock = Lock::new(());
    /// let held = lock.try_lock().unwrap();
    /// assert_eq!(lock.try_lock().err(), Some(WouldBlock));
    /// drop(held);
    /// assert!(lock.try_lock().is_ok());
    /// ```
    pub fn try_lock(&self) -> Result<LockGuard<'_, T>, WouldBlock> {
        let mut st = self.state();
        if st.held {
            return Err(WouldBlock);
        }
        st.held = true;
        st.holder = current_task_key().unwrap_or(0);
        Ok(LockGuard::new(self))
    }

    /// Whether some task holds the lock.
    ///
    /// ```
    /// use quartet_nursery::sync::*;
    /// let lock = Lock::new(());
    /// let _g = lock.try_lock().unwrap();
    /// assert!(lock.is_locked());
    /// ```
    pub fn is_locked(&self) -> bool {
        self.state().held
    }

    /// A snapshot of the lock's state.
    ///
    /// ```
    /// use quartet_nursery::sync::*;
    /// let s = Lock::new(()).statistics();
    /// assert_eq!((s.locked, s.waiting), (false, 0));
    /// ```
    pub fn statistics(&self) -> LockStats {
        let st = self.state();
        LockStats { locked: st.held, waiting: st.waiters.len(ACQUIRE_Q) }
    }

    /// The value, mutably (no locking needed: `&mut self` proves nobody else holds the lock).
    ///
    /// ```
    /// use quartet_nursery::sync::*;
    /// let mut lock = Lock::new(1);
    /// *lock.get_mut() = 2; // no locking needed: `&mut` proves nobody else holds it
    /// assert_eq!(lock.into_inner(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        // SAFETY: `&mut self` means no guard exists (guards borrow the lock), so this is the only
        // access.
        self.data.with_mut(|p| unsafe { &mut *p })
    }

    /// Consumes the lock and returns the value.
    ///
    /// ```
    /// use quartet_nursery::sync::*;
    /// assert_eq!(Lock::new("v").into_inner(), "v");
    /// ```
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: Default> Default for Lock<T> {
    fn default() -> Self {
        Lock::new(T::default())
    }
}

impl<T> fmt::Debug for Lock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lock").field("stats", &self.statistics()).finish_non_exhaustive()
    }
}

impl<T> Resource for Lock<T> {
    const WAIT: quartet_runtime::introspect::WaitKind = quartet_runtime::introspect::WaitKind::Lock;
    type State = LockState;

    fn state(&self) -> MutexGuard<'_, LockState> {
        lock(&self.state)
    }

    fn waiters(st: &mut LockState) -> &mut WaitSet<Waiter<()>> {
        &mut st.waiters
    }

    fn take_now(st: &mut LockState) -> bool {
        !std::mem::replace(&mut st.held, true)
    }

    fn give_back(st: &mut LockState) -> Option<Waker> {
        st.release()
    }

    fn refuse(st: &LockState) -> Option<Cancelled> {
        let refused = st.held && st.holder != 0 && Some(st.holder) == current_task_key();
        refused.then(|| Cancelled::new(Reason::LockReacquired))
    }

    fn taken(st: &mut LockState) {
        st.holder = current_task_key().unwrap_or(0);
    }
}

/// A snapshot of a [`Lock`] (or a [`Condition`](super::Condition)'s lock).
///
/// # Examples
/// ```
/// use quartet_nursery::sync::*;
/// let lock = Lock::new(());
/// let _g = lock.try_lock().unwrap();
/// assert!(lock.statistics().locked);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct LockStats {
    /// Whether the lock is held.
    pub locked: bool,
    /// Tasks waiting to acquire it.
    pub waiting: usize,
}

/// The future of [`Lock::lock`].
///
/// # Examples
/// ```
/// use quartet_nursery::sync::*;
/// # quartet_runtime::run(async {
/// let lock = Lock::new(1);
/// let fut: LockFuture<'_, i32> = lock.lock();
/// let mut guard = fut.await?;
/// *guard += 1;
/// # Ok::<(), quartet_runtime::Cancelled>(()) }).unwrap().unwrap();
/// ```
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct LockFuture<'a, T> {
    acquire: Acquire<'a, Lock<T>>,
}

impl<T> LockFuture<'_, T> {
    /// True once the future has returned `Ready`: polling it again then returns
    /// `Err(Cancelled)` with [`Reason::PolledAfterCompletion`](quartet_runtime::Reason::PolledAfterCompletion)
    /// (not a cancellation), never a panic or a second guard.
    pub fn is_terminated(&self) -> bool {
        self.acquire.is_done()
    }
}

impl<'a, T> Future for LockFuture<'a, T> {
    type Output = Result<LockGuard<'a, T>, Cancelled>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let lock = self.acquire.resource();
        Pin::new(&mut self.acquire).poll(cx).map_ok(|()| LockGuard::new(lock))
    }
}

/// Access to a locked [`Lock`]'s value; releases the lock (handing it to the oldest waiter) when
/// dropped.
///
/// # Examples
/// ```
/// use quartet_nursery::sync::*;
/// # quartet_runtime::run(async {
/// let lock = Lock::new(vec![1]);
/// {
///     let mut g: LockGuard<'_, Vec<i32>> = lock.lock().await?;
///     g.push(2); // DerefMut to the value
/// } // released here
/// assert_eq!(*lock.lock().await?, [1, 2]);
/// # Ok::<(), quartet_runtime::Cancelled>(()) }).unwrap().unwrap();
/// ```
pub struct LockGuard<'a, T> {
    pub(crate) lock: &'a Lock<T>,
    /// `Send`/`Sync` exactly when `&mut T` is.
    _marker: PhantomData<&'a mut T>,
}

impl<'a, T> LockGuard<'a, T> {
    /// Only for a caller that has just taken ownership of the lock.
    pub(crate) fn new(lock: &'a Lock<T>) -> Self {
        LockGuard { lock, _marker: PhantomData }
    }
}

impl<T> Deref for LockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: this guard owns the lock, so no other guard can reach the data (see the `Sync`
        // impl); the reference cannot outlive the guard.
        self.lock.data.with(|p| unsafe { &*p })
    }
}

impl<T> DerefMut for LockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` makes this the only access through the guard.
        self.lock.data.with_mut(|p| unsafe { &mut *p })
    }
}

impl<T> Drop for LockGuard<'_, T> {
    fn drop(&mut self) {
        release(self.lock);
    }
}

impl<T: fmt::Debug> fmt::Debug for LockGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("LockGuard").field(&**self).finish()
    }
}
