//! The two structures shared between cores by `spawn_on`: a core's [`Mailbox`] of jobs and a
//! cross-core nursery's [`Tracker`] of remote children. Loom-checked in
//! `nursery/tests/loom_cores.rs`; they use the runtime's sync shim and nothing of a kernel.
//!
//! Both follow the one-lock protocol that keeps wake-ups from being lost: the waiting side checks
//! its condition and stores its waker in the *same* critical section; the other side changes the
//! state and takes the waker in one critical section, and wakes it after unlocking. A waker woken
//! on another core's thread goes through the owning kernel's remote-wake queue.
//!
//! # Invariants
//! - **MB1** A job pushed to a mailbox is either refused (given back to the pusher), or run by the
//!   mailbox's core, or dropped by [`Mailbox::close`] on the closing thread: never forgotten.
//!   (A job's drop finishes its child in the tracker, so the nursery waiting for it returns.)
//! - **MB2** After `close`, `poll_recv` returns `Ready(None)` and every push is refused.
//! - **K1** A tracker's waiter is woken when the count of live remote children reaches zero,
//!   whichever thread finishes the last one, and whenever the waiter parked.

use crate::error::Failure;
use quartet_runtime::sync::{Mutex, lock};
use std::any::Any;
use std::collections::VecDeque;
use std::fmt;
use std::task::{Context, Poll, Waker};

/// A core's queue of jobs pushed from any thread, received by that core's mailbox task.
pub struct Mailbox<J> {
    state: Mutex<MailboxState<J>>,
}

struct MailboxState<J> {
    /// `None` once closed.
    jobs: Option<VecDeque<J>>,
    waker: Option<Waker>,
}

impl<J> fmt::Debug for Mailbox<J> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = lock(&self.state);
        f.debug_struct("Mailbox").field("queued", &st.jobs.as_ref().map(VecDeque::len)).finish()
    }
}

impl<J> Default for Mailbox<J> {
    fn default() -> Self {
        Self::new()
    }
}

impl<J> Mailbox<J> {
    /// An open, empty mailbox.
    pub fn new() -> Mailbox<J> {
        Mailbox { state: Mutex::new(MailboxState { jobs: Some(VecDeque::new()), waker: None }) }
    }

    /// Queues `job` and wakes the receiver; gives the job back once the mailbox is closed (MB1).
    pub fn push(&self, job: J) -> Result<(), J> {
        let waker = {
            let mut st = lock(&self.state);
            match st.jobs.as_mut() {
                Some(q) => q.push_back(job),
                None => return Err(job),
            }
            st.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }

    /// The next job, `Ready(None)` once closed, or `Pending` with `cx`'s waker stored.
    pub fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<Option<J>> {
        let mut st = lock(&self.state);
        let Some(q) = st.jobs.as_mut() else {
            return Poll::Ready(None);
        };
        if let Some(job) = q.pop_front() {
            return Poll::Ready(Some(job));
        }
        // Planted bug (scripts/mutants.sh): the check and the waker's registration in two
        // critical sections, so a push in between finds no waker.
        if quartet_runtime::mutant::planted("mailbox_split_recv") {
            drop(st);
            st = lock(&self.state);
        }
        match &st.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => st.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// Refuses later pushes, wakes the receiver and drops the jobs still queued, on this thread
    /// and outside the lock (MB1, MB2). Idempotent.
    pub fn close(&self) {
        let (jobs, waker) = {
            let mut st = lock(&self.state);
            (st.jobs.take(), st.waker.take())
        };
        // Planted bug (scripts/mutants.sh): queued jobs are forgotten, so their children never
        // finish in their trackers.
        if quartet_runtime::mutant::planted("mailbox_close_forgets") {
            std::mem::forget(jobs);
        } else {
            drop(jobs);
        }
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// A panic payload carried from the core where a remote child panicked.
pub type Payload = Box<dyn Any + Send + 'static>;

/// What a cross-core nursery keeps about its remote children: how many are live, their
/// failures, the first panic, and the waker of the nursery waiting for the count to reach zero.
#[derive(Default)]
pub struct Tracker {
    state: Mutex<TrackerState>,
}

#[derive(Default)]
struct TrackerState {
    live: usize,
    failures: Vec<Failure>,
    panic: Option<Payload>,
    waker: Option<Waker>,
}

impl fmt::Debug for Tracker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = lock(&self.state);
        f.debug_struct("Tracker").field("live", &st.live).field("failures", &st.failures.len()).finish()
    }
}

/// How a remote child ended, as its nursery must know.
#[derive(Debug)]
pub enum Ended {
    /// Returned a value, or ended by cancellation, or was dropped before it ran.
    Quietly,
    /// Failed: reported by the nursery.
    Failed(Failure),
    /// Panicked: resumed by the nursery.
    Panicked(PanicPayload),
}

/// A `Debug` wrapper for a panic payload.
pub struct PanicPayload(pub Payload);

impl fmt::Debug for PanicPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PanicPayload")
    }
}

impl Tracker {
    /// A tracker with no children.
    pub fn new() -> Tracker {
        Tracker::default()
    }

    /// Counts a new child, before it is pushed anywhere.
    pub fn add(&self) {
        lock(&self.state).live += 1;
    }

    /// Records how one child ended and wakes the waiter if it was the last (K1).
    pub fn finish(&self, ended: Ended) {
        let waker = {
            let mut st = lock(&self.state);
            match ended {
                Ended::Quietly => {}
                Ended::Failed(f) => st.failures.push(f),
                Ended::Panicked(p) => {
                    if st.panic.is_none() {
                        st.panic = Some(p.0);
                    }
                }
            }
            // Planted bug (scripts/mutants.sh): the waker is taken in one critical section and
            // the count lowered in another, so a waiter that parks in between is never woken.
            if quartet_runtime::mutant::planted("tracker_split_finish") {
                let w = st.waker.take();
                drop(st);
                st = lock(&self.state);
                st.live -= 1;
                w
            } else {
                st.live -= 1;
                if st.live == 0 { st.waker.take() } else { None }
            }
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// `Ready` once no child is live; otherwise stores `cx`'s waker.
    pub fn poll_idle(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut st = lock(&self.state);
        if st.live == 0 {
            return Poll::Ready(());
        }
        match &st.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => st.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// Live children now.
    pub fn live(&self) -> usize {
        lock(&self.state).live
    }

    /// Takes the failures and the first panic recorded so far.
    pub fn take(&self) -> (Vec<Failure>, Option<Payload>) {
        let mut st = lock(&self.state);
        (std::mem::take(&mut st.failures), st.panic.take())
    }
}
