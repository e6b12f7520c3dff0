//! The acquire operation shared by [`Lock`](super::Lock) and [`Semaphore`](super::Semaphore):
//! a checkpoint that takes one unit of a resource, FIFO-fair and atomic with respect to
//! cancellation.
//!
//! Protocol: on entry, a cancelled scope fails the acquire before it touches anything. If a unit
//! is free (which implies nobody waits), it is taken and the future yields once without checking
//! cancellation again (Trio's cancel-shielded schedule point). Otherwise the future parks at the
//! back of the queue. A release hands the unit straight to the oldest waiter (`done`), so a later
//! arrival can never take it first. A parked waiter that finds `done` returns success even if its
//! scope was cancelled meanwhile (the next checkpoint reports that); only a waiter that was not
//! handed the unit reports `Cancelled`. Dropping the future gives back a unit it was handed.

use super::waitset::{Key, Queue, WaitSet, Waiter};
use quartet_runtime::sync::MutexGuard;
use quartet_runtime::{Cancelled, cancel};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// The queue acquirers park in.
pub(crate) const ACQUIRE_Q: Queue = Queue::First;

/// A resource handed out in units under a mutex.
pub(crate) trait Resource {
    /// What a parked acquirer waits on, for the task-tree dump.
    const WAIT: quartet_runtime::introspect::WaitKind;
    /// The state behind the resource's mutex.
    type State;
    /// Locks the state.
    fn state(&self) -> MutexGuard<'_, Self::State>;
    /// The parked acquirers (in [`ACQUIRE_Q`]).
    fn waiters(st: &mut Self::State) -> &mut WaitSet<Waiter<()>>;
    /// Takes a unit if one is free.
    fn take_now(st: &mut Self::State) -> bool;
    /// Returns a unit: hands it to the oldest waiter (returning its waker) or makes it free.
    fn give_back(st: &mut Self::State) -> Option<Waker>;
    /// Called on entry, after the cancellation check: an acquire that could never succeed (the
    /// calling task already holds the lock) fails at once with the returned misuse error.
    fn refuse(_st: &Self::State) -> Option<Cancelled> {
        None
    }
    /// Called when the acquirer owns its unit, in the acquiring task's poll (a lock records its
    /// holder).
    fn taken(_st: &mut Self::State) {}
}

enum Phase {
    Start,
    Acquired,
    Parked(Key),
    Done,
}

/// Takes one unit of `R`; the caller wraps the success into its guard type.
pub(crate) struct Acquire<'a, R: Resource> {
    res: &'a R,
    phase: Phase,
    /// Parked on the cancel-status tree while queued.
    park: cancel::Park,
}

impl<'a, R: Resource> Acquire<'a, R> {
    pub fn new(res: &'a R) -> Self {
        Acquire { res, phase: Phase::Start, park: cancel::Park::waiting_for(R::WAIT) }
    }

    /// Whether the acquire has returned `Ready`.
    pub fn is_done(&self) -> bool {
        matches!(self.phase, Phase::Done)
    }

    /// The resource being acquired.
    pub fn resource(&self) -> &'a R {
        self.res
    }
}

/// Gives a unit back and wakes whoever it was handed to.
pub(crate) fn release<R: Resource>(res: &R) {
    let waker = R::give_back(&mut res.state());
    if let Some(w) = waker {
        w.wake();
    }
}

impl<R: Resource> Future for Acquire<'_, R> {
    type Output = Result<(), Cancelled>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.phase {
            Phase::Start => {
                if let Some(c) = cancel::current() {
                    self.phase = Phase::Done;
                    return Poll::Ready(Err(c));
                }
                let mut st = self.res.state();
                if let Some(refused) = R::refuse(&st) {
                    drop(st);
                    self.phase = Phase::Done;
                    return Poll::Ready(Err(refused));
                }
                if R::take_now(&mut st) {
                    R::taken(&mut st);
                    drop(st);
                    self.phase = Phase::Acquired;
                    cx.waker().wake_by_ref();
                } else {
                    let key = R::waiters(&mut st).insert(ACQUIRE_Q, Waiter::new(cx.waker(), None));
                    drop(st);
                    self.phase = Phase::Parked(key);
                    // Not cancelled a moment ago (checked above), so this registers.
                    let _ = self.park.park(cx);
                }
                Poll::Pending
            }
            Phase::Acquired => {
                self.phase = Phase::Done;
                Poll::Ready(Ok(()))
            }
            Phase::Parked(key) => {
                let mut st = self.res.state();
                let waiters = R::waiters(&mut st);
                let w = waiters.get_mut(key);
                if w.done {
                    waiters.remove(key);
                    R::taken(&mut st);
                    drop(st);
                    self.park.unpark();
                    self.phase = Phase::Done;
                    return Poll::Ready(Ok(()));
                }
                let cancelled = self.park.park(cx).err();
                if let Some(c) = cancelled {
                    waiters.remove(key);
                    drop(st);
                    self.phase = Phase::Done;
                    return Poll::Ready(Err(c));
                }
                w.set_waker(cx.waker());
                Poll::Pending
            }
            // Polled again after it returned (misuse): a typed error, not a panic.
            Phase::Done => Poll::Ready(Err(Cancelled::new(quartet_runtime::Reason::PolledAfterCompletion))),
        }
    }
}

impl<R: Resource> Drop for Acquire<'_, R> {
    fn drop(&mut self) {
        match self.phase {
            Phase::Acquired => release(self.res),
            Phase::Parked(key) => {
                let waker = {
                    let mut st = self.res.state();
                    let w = R::waiters(&mut st).remove(key);
                    // Planted bug (scripts/mutants.sh): a unit handed to a dropped waiter is kept.
                    let give_back = w.done && !quartet_runtime::mutant::planted("acquire_drop_keeps_unit");
                    if give_back { R::give_back(&mut st) } else { None }
                };
                if let Some(w) = waker {
                    w.wake();
                }
            }
            Phase::Start | Phase::Done => {}
        }
    }
}

impl<R: Resource> fmt::Debug for Acquire<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let phase = match self.phase {
            Phase::Start => "start",
            Phase::Acquired => "acquired",
            Phase::Parked(_) => "parked",
            Phase::Done => "done",
        };
        f.debug_struct("Acquire").field("phase", &phase).finish()
    }
}
