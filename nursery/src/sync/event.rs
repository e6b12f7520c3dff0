//! [`Event`]: a one-shot flag that tasks wait for, settable from any thread.
//!
//! Protocol (why no wake-up is lost): `set` stores the flag, *then* locks the waiter set and wakes
//! everyone in it. A waiter checks the flag again under that lock before parking, and again under
//! it whenever it is polled: if its lock came after `set`'s, it sees the flag; if before, `set`
//! finds it in the set. The flag is stored with `Release` and loaded with `Acquire`, so whatever
//! the setter wrote before `set` is visible to a waiter that returns.

use super::waitset::{Key, Queue, WaitSet, Waiter};
use quartet_runtime::sync::{AtomicBool, Mutex, Ordering, lock};
use quartet_runtime::{Cancelled, cancel};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

const WAIT_Q: Queue = Queue::First;

/// A flag that starts unset, is [`set`](Event::set) once, and wakes every task that
/// [`wait`](Event::wait)s for it. It cannot be cleared.
///
/// `Event` is `Send + Sync`: `set` may be called from any thread (for instance a worker thread),
/// and tasks on any runtime may wait. There is no timeout argument: wrap `wait` in a cancel scope.
///
/// # Examples
/// ```no_run
/// use quartet_nursery::sync::Event;
/// quartet_runtime::run(async {
///     let ready = Event::new();
///     quartet_nursery::nursery(async |n| {
///         n.spawn(async { ready.wait().await })?;
///         ready.set();
///         Ok::<_, quartet_nursery::SpawnError>(())
///     })
///     .await
/// }).unwrap().unwrap();
/// ```
pub struct Event {
    flag: AtomicBool,
    waiters: Mutex<WaitSet<Waiter<()>>>,
}

impl Default for Event {
    fn default() -> Self {
        Event::new()
    }
}

impl Event {
    /// An unset event.
    ///
    /// ```
    /// use quartet_nursery::sync::*;
    /// let ev = Event::new();
    /// assert!(!ev.is_set());
    /// ```
    pub fn new() -> Event {
        Event { flag: AtomicBool::new(false), waiters: Mutex::new(WaitSet::default()) }
    }

    /// Sets the event and wakes every waiting task. Idempotent; not a checkpoint; any thread.
    ///
    /// ```
    /// use quartet_nursery::sync::*;
    /// let ev = Event::new();
    /// ev.set();
    /// ev.set(); // idempotent
    /// assert!(ev.is_set());
    /// ```
    pub fn set(&self) {
        if self.flag.swap(true, Ordering::AcqRel) {
            return;
        }
        let wakers = lock(&self.waiters).kick_all(WAIT_Q);
        for w in wakers {
            w.wake();
        }
    }

    /// Whether the event is set (the non-waiting variant of [`wait`](Event::wait)).
    ///
    /// ```
    /// use quartet_nursery::sync::*;
    /// assert!(!Event::new().is_set());
    /// ```
    pub fn is_set(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }

    /// Waits until the event is set.
    ///
    /// # Cancellation
    /// A checkpoint: it fails with `Cancelled` on entry in a cancelled scope, and otherwise yields
    /// at least once, even if the event is already set. Waiting takes nothing, so a cancelled wait
    /// changes nothing; once the event is set, the wait succeeds even if a cancellation arrived
    /// meanwhile (the next checkpoint reports it).
    ///
    /// ```
    /// use quartet_nursery::sync::*;
    /// # quartet_runtime::run(async {
    /// use quartet_nursery::{BoxError, nursery};
    /// let ready = Event::new();
    /// nursery(async |n| -> Result<(), BoxError> {
    ///     n.spawn(async {
    ///         ready.wait().await?; // parks until set
    ///         Ok::<_, BoxError>(())
    ///     })?;
    ///     ready.set(); // wakes every waiter
    ///     Ok(())
    /// })
    /// .await?;
    /// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap().unwrap();
    /// ```
    pub fn wait(&self) -> EventWait<'_> {
        EventWait {
            event: self,
            phase: Phase::Start,
            park: cancel::Park::waiting_for(quartet_runtime::introspect::WaitKind::Event),
        }
    }

    /// A snapshot of the event's state.
    ///
    /// ```
    /// use quartet_nursery::sync::*;
    /// let s = Event::new().statistics();
    /// assert_eq!((s.set, s.waiting), (false, 0));
    /// ```
    pub fn statistics(&self) -> EventStats {
        EventStats { set: self.is_set(), waiting: lock(&self.waiters).len(WAIT_Q) }
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event").field("stats", &self.statistics()).finish()
    }
}

/// A snapshot of an [`Event`].
///
/// # Examples
/// ```
/// use quartet_nursery::sync::*;
/// let ev = Event::new();
/// ev.set();
/// assert_eq!(ev.statistics(), ev.statistics());
/// assert!(ev.statistics().set);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct EventStats {
    /// Whether the event is set.
    pub set: bool,
    /// Tasks waiting for it.
    pub waiting: usize,
}

#[derive(Debug)]
enum Phase {
    Start,
    Set,
    Parked(Key),
    Done,
}

/// The future of [`Event::wait`].
///
/// # Examples
/// ```
/// use quartet_nursery::sync::*;
/// # quartet_runtime::run(async {
/// let ev = Event::new();
/// ev.set();
/// let wait: EventWait<'_> = ev.wait();
/// wait.await?; // already set: returns after one yield
/// # Ok::<(), quartet_runtime::Cancelled>(()) }).unwrap().unwrap();
/// ```
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct EventWait<'a> {
    event: &'a Event,
    phase: Phase,
    /// Parked on the cancel-status tree while waiting.
    park: cancel::Park,
}

impl Future for EventWait<'_> {
    type Output = Result<(), Cancelled>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let event = self.event;
        match self.phase {
            Phase::Start => {
                if let Some(c) = cancel::current() {
                    self.phase = Phase::Done;
                    return Poll::Ready(Err(c));
                }
                if !event.is_set() {
                    let mut waiters = lock(&event.waiters);
                    // Planted bug (scripts/mutants.sh): no re-check under the lock.
                    if quartet_runtime::mutant::planted("event_skip_recheck") || !event.is_set() {
                        let key = waiters.insert(WAIT_Q, Waiter::new(cx.waker(), None));
                        drop(waiters);
                        self.phase = Phase::Parked(key);
                        // Not cancelled a moment ago (checked above), so this registers.
                        let _ = self.park.park(cx);
                        return Poll::Pending;
                    }
                }
                self.phase = Phase::Set;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            Phase::Set => {
                self.phase = Phase::Done;
                Poll::Ready(Ok(()))
            }
            Phase::Parked(key) => {
                let mut waiters = lock(&event.waiters);
                let outcome = if event.is_set() { Some(Ok(())) } else { self.park.park(cx).err().map(Err) };
                if let Some(out) = outcome {
                    waiters.remove(key);
                    drop(waiters);
                    self.park.unpark();
                    self.phase = Phase::Done;
                    return Poll::Ready(out);
                }
                waiters.get_mut(key).set_waker(cx.waker());
                Poll::Pending
            }
            // Polled again after it returned (misuse): a typed error, not a panic.
            Phase::Done => Poll::Ready(Err(Cancelled::new(quartet_runtime::Reason::PolledAfterCompletion))),
        }
    }
}

impl Drop for EventWait<'_> {
    fn drop(&mut self) {
        if let Phase::Parked(key) = self.phase {
            lock(&self.event.waiters).remove(key);
        }
    }
}
