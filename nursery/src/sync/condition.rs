//! [`Condition`]: a condition variable bound to its own [`Lock`], FIFO-fair.
//!
//! Its waiters live in the second queue of the lock's wait set, under the lock's own mutex, so
//! "release the lock and start waiting" is one atomic step and no notification can slip between.
//! `notify` moves waiters from the condition queue to the back of the lock queue (Trio's
//! `repark`) instead of waking them: each is woken only when the lock is handed to it. A waiter in
//! the lock queue has consumed its notification, so from then on it ignores cancellation until it
//! holds the lock again.

use super::acquire::{ACQUIRE_Q, Resource};
use super::error::{WaitError, WouldBlock};
use super::lock::{Lock, LockFuture, LockGuard, LockStats};
use super::waitset::{Key, Queue, Waiter};
use quartet_runtime::cancel;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The queue of waiters not yet notified.
const COND_Q: Queue = Queue::Second;

/// A condition variable with its lock: tasks [`wait`](Condition::wait) (atomically releasing the
/// lock) until another task [`notify`](Condition::notify)s them, then hold the lock again.
///
/// Waiters are notified in the order they started waiting. As with every condition variable,
/// re-check the predicate in a loop. There is no timeout argument: wrap the wait in a cancel
/// scope.
///
/// # Examples
/// ```no_run
/// use quartet_nursery::sync::Condition;
/// quartet_runtime::run(async {
///     let queue = Condition::new(Vec::<u32>::new());
///     quartet_nursery::nursery(async |n| {
///         n.spawn(async {
///             let mut items = queue.lock().await?;
///             while items.is_empty() {
///                 items = queue.wait(items).await?;
///             }
///             assert_eq!(items.pop(), Some(7));
///             Ok::<_, quartet_nursery::sync::WaitError>(())
///         })?;
///         queue.lock().await?.push(7);
///         queue.notify_one();
///         Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
///     })
///     .await
/// }).unwrap().unwrap();
/// ```
pub struct Condition<T> {
    lock: Lock<T>,
}

impl<T> Condition<T> {
    /// A condition whose lock guards `value`.
    ///
    /// ```
    /// use quartet_nursery::sync::*;
    /// let c = Condition::new(Vec::<u32>::new());
    /// assert_eq!(c.into_inner(), Vec::<u32>::new());
    /// ```
    pub fn new(value: T) -> Condition<T> {
        Condition { lock: Lock::new(value) }
    }

    /// Acquires the condition's lock (see [`Lock::lock`], including its `# Cancellation`).
    ///
    /// # Cancellation
    /// As [`Lock::lock`]: a checkpoint; `Cancelled` means the lock is not held.
    ///
    /// ```
    /// use quartet_nursery::sync::*;
    /// # quartet_runtime::run(async {
    /// let c = Condition::new(0);
    /// *c.lock().await? += 1;
    /// assert_eq!(*c.lock().await?, 1);
    /// # Ok::<(), quartet_runtime::Cancelled>(()) }).unwrap().unwrap();
    /// ```
    pub fn lock(&self) -> LockFuture<'_, T> {
        self.lock.lock()
    }

    /// Takes the condition's lock if it is free. Not a checkpoint.
    ///
    /// # Errors
    /// [`WouldBlock`] if the lock is held.
    ///
    /// ```
    /// use quartet_nursery::sync::*;
    /// let c = Condition::new(0);
    /// let g = c.try_lock().unwrap();
    /// assert!(c.try_lock().is_err());
    /// drop(g);
    /// ```
    pub fn try_lock(&self) -> Result<LockGuard<'_, T>, WouldBlock> {
        self.lock.try_lock()
    }

    /// Releases the lock held by `guard`, waits for a notification, and returns once this task
    /// holds the lock again.
    ///
    /// # Errors
    /// [`WaitError::ForeignGuard`] if `guard` belongs to another lock; [`WaitError::Cancelled`]
    /// (below).
    ///
    /// # Cancellation
    /// A checkpoint (it always waits). If it returns `Cancelled`, it consumed no notification and
    /// the lock is not held (the guard is gone, as when leaving the block that held it). Once
    /// notified, it no longer reports a cancellation: it waits, shielded, for the lock and returns
    /// the guard (the next checkpoint reports the cancellation). Dropping the future releases a
    /// lock handed to it.
    ///
    /// ```
    /// use quartet_nursery::sync::*;
    /// # quartet_runtime::run(async {
    /// use quartet_nursery::{BoxError, nursery};
    /// let jobs = Condition::new(Vec::new());
    /// nursery(async |n| -> Result<(), BoxError> {
    ///     n.spawn(async {
    ///         let mut g = jobs.lock().await?;
    ///         while g.is_empty() {
    ///             g = jobs.wait(g).await?; // releases the lock while it waits
    ///         }
    ///         assert_eq!(g.pop(), Some("job"));
    ///         Ok::<_, BoxError>(())
    ///     })?;
    ///     jobs.lock().await?.push("job");
    ///     jobs.notify_one();
    ///     Ok(())
    /// })
    /// .await?;
    /// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap().unwrap();
    /// ```
    pub fn wait<'a>(&'a self, guard: LockGuard<'a, T>) -> ConditionWait<'a, T> {
        ConditionWait {
            cond: self,
            phase: Phase::Start(guard),
            park: cancel::Park::waiting_for(quartet_runtime::introspect::WaitKind::Condition),
        }
    }

    /// Wakes up to `n` waiters, oldest first, and returns how many. Not a checkpoint. Usually
    /// called while holding the lock; the waiters then get the lock, in order, after the caller
    /// releases it.
    ///
    /// ```
    /// use quartet_nursery::sync::*;
    /// let c = Condition::new(());
    /// assert_eq!(c.notify(3), 0); // nobody waits: a notification is not stored
    /// ```
    pub fn notify(&self, n: usize) -> usize {
        let mut woken = Vec::new();
        let mut count = 0;
        {
            let mut st = self.lock.state();
            while count < n {
                let Some(k) = st.waiters.pop_front(COND_Q) else { break };
                count += 1;
                if std::mem::replace(&mut st.held, true) {
                    st.waiters.push_back(k, ACQUIRE_Q);
                } else {
                    woken.extend(st.waiters.get_mut(k).complete());
                }
            }
        }
        for w in woken {
            w.wake();
        }
        count
    }

    /// Wakes the oldest waiter; returns whether there was one.
    ///
    /// ```
    /// use quartet_nursery::sync::*;
    /// let c = Condition::new(());
    /// assert!(!c.notify_one());
    /// ```
    pub fn notify_one(&self) -> bool {
        self.notify(1) == 1
    }

    /// Wakes every waiter; returns how many.
    ///
    /// ```
    /// use quartet_nursery::sync::*;
    /// let c = Condition::new(());
    /// assert_eq!(c.notify_all(), 0);
    /// ```
    pub fn notify_all(&self) -> usize {
        self.notify(usize::MAX)
    }

    /// A snapshot: waiters not yet notified, and the lock's state.
    ///
    /// ```
    /// use quartet_nursery::sync::*;
    /// let c = Condition::new(());
    /// assert_eq!(c.statistics().waiting, 0);
    /// ```
    pub fn statistics(&self) -> ConditionStats {
        let waiting = self.lock.state().waiters.len(COND_Q);
        ConditionStats { waiting, lock: self.lock.statistics() }
    }

    /// Consumes the condition and returns the value.
    ///
    /// ```
    /// use quartet_nursery::sync::*;
    /// assert_eq!(Condition::new(5).into_inner(), 5);
    /// ```
    pub fn into_inner(self) -> T {
        self.lock.into_inner()
    }
}

impl<T: Default> Default for Condition<T> {
    fn default() -> Self {
        Condition::new(T::default())
    }
}

impl<T> fmt::Debug for Condition<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condition").field("stats", &self.statistics()).finish_non_exhaustive()
    }
}

/// A snapshot of a [`Condition`].
///
/// # Examples
/// ```
/// use quartet_nursery::sync::*;
/// let cond = Condition::new(0);
/// let s = cond.statistics();
/// assert_eq!((s.waiting, s.lock.locked), (0, false));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConditionStats {
    /// Tasks waiting for a notification.
    pub waiting: usize,
    /// The condition's lock (its `waiting` includes notified tasks waiting to re-acquire it).
    pub lock: LockStats,
}

enum Phase<'a, T> {
    Start(LockGuard<'a, T>),
    Parked(Key),
    Done,
}

/// The future of [`Condition::wait`].
///
/// # Examples
/// ```
/// use quartet_nursery::sync::*;
/// # quartet_runtime::run(async {
/// use quartet_nursery::{BoxError, nursery};
/// let ready = Condition::new(false);
/// nursery(async |n| -> Result<(), BoxError> {
///     n.spawn(async {
///         let mut g = ready.lock().await?;
///         while !*g {
///             let wait: ConditionWait<'_, bool> = ready.wait(g);
///             g = wait.await?; // the lock is released while waiting, held again after
///         }
///         Ok::<_, BoxError>(())
///     })?;
///     *ready.lock().await? = true;
///     ready.notify_all();
///     Ok(())
/// })
/// .await?;
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap().unwrap();
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct ConditionWait<'a, T> {
    cond: &'a Condition<T>,
    phase: Phase<'a, T>,
    /// Parked on the cancel-status tree while waiting.
    park: cancel::Park,
}

impl<T> fmt::Debug for ConditionWait<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let phase = match self.phase {
            Phase::Start(_) => "start",
            Phase::Parked(_) => "parked",
            Phase::Done => "done",
        };
        f.debug_struct("ConditionWait").field("phase", &phase).finish()
    }
}

impl<'a, T> Future for ConditionWait<'a, T> {
    type Output = Result<LockGuard<'a, T>, WaitError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let cond: &'a Condition<T> = self.cond;
        let lock = &cond.lock;
        match std::mem::replace(&mut self.phase, Phase::Done) {
            Phase::Start(guard) => {
                if !std::ptr::eq(guard.lock, lock) {
                    return Poll::Ready(Err(WaitError::ForeignGuard));
                }
                if let Some(c) = cancel::current() {
                    return Poll::Ready(Err(c.into()));
                }
                let woken = {
                    let mut st = lock.state();
                    let key = st.waiters.insert(COND_Q, Waiter::new(cx.waker(), None));
                    self.phase = Phase::Parked(key);
                    st.release()
                };
                // Not cancelled a moment ago (checked above), so this registers.
                let _ = self.park.park(cx);
                // Ownership went back to the lock above; the guard must not release it again.
                std::mem::forget(guard);
                if let Some(w) = woken {
                    w.wake();
                }
                Poll::Pending
            }
            Phase::Parked(key) => {
                let mut st = lock.state();
                if st.waiters.get(key).done {
                    st.waiters.remove(key);
                    st.holder = quartet_runtime::task::current_task_key().unwrap_or(0);
                    drop(st);
                    self.park.unpark();
                    return Poll::Ready(Ok(LockGuard::new(lock)));
                }
                let cancelled = self.park.park(cx).err();
                if st.waiters.queue_of(key) == Some(COND_Q) {
                    if let Some(c) = cancelled {
                        st.waiters.remove(key);
                        return Poll::Ready(Err(c.into()));
                    }
                }
                st.waiters.get_mut(key).set_waker(cx.waker());
                self.phase = Phase::Parked(key);
                Poll::Pending
            }
            // Polled again after it returned (misuse): a typed error, not a panic.
            Phase::Done => {
                Poll::Ready(Err(quartet_runtime::Cancelled::new(quartet_runtime::Reason::PolledAfterCompletion).into()))
            }
        }
    }
}

impl<T> Drop for ConditionWait<'_, T> {
    fn drop(&mut self) {
        if let Phase::Parked(key) = self.phase {
            let woken = {
                let mut st = self.cond.lock.state();
                let w = st.waiters.remove(key);
                if w.done { st.release() } else { None }
            };
            if let Some(w) = woken {
                w.wake();
            }
        }
    }
}
