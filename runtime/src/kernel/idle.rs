//! The kernel's idle path in test mode: what happens when no task is ready and the loop would
//! otherwise block in the ring. Only reached when the testing state asks for it (a mock clock, or
//! a task in [`wait_all_tasks_blocked`](crate::testing::wait_all_tasks_blocked)); the normal loop
//! never comes here.
//!
//! # When time jumps (the guarantee)
//! quartet knows when it is idle: every waiting task is parked on a timer, a ring op, a remote
//! wake or an in-memory wait it can see. The clock jumps to the next timer only after
//! 1. [`EMPTY_PASSES`] submit-and-reap passes of the ring in a row (each a real `io_uring_enter`
//!    with `GETEVENTS` and a zero timeout, which also runs the kernel's deferred task work) found
//!    no completion and no remote wake, and
//! 2. if any ring op or worker-thread job is outstanding, one more wait of up to the *settle*
//!    time ([`Builder::autojump_settle`](crate::Builder::autojump_settle), default 200 µs of real
//!    time) found nothing either.
//!
//! A loopback peer in the same test is always seen before a jump: its send puts the bytes in the
//! receiving socket inside the sending `io_uring_enter`, and the receive's completion is posted by
//! task work that the next pass runs. An op the kernel completes on an io-wq worker, or a worker
//! thread's job, is seen if it finishes within the settle time. Anything slower (a peer outside
//! the process, a slow disk, a long `to_thread` job) may complete *after* a jump: a test that
//! mixes the mock clock with such I/O sees its timeouts fire as if that I/O took longer. With no
//! op or job outstanding no real time is spent at all, so a program without outside I/O runs
//! exactly and repeatably.
//!
//! Waiters of `wait_all_tasks_blocked` are woken before any jump: "everything is blocked" is
//! decided by the same passes, and the jump waits until they are done.

use super::context::Core;
use std::io;
use std::task::Waker;
use std::time::Duration;

/// Empty non-blocking passes before the loop counts as idle. `tests/testing_loopback_autojump.rs`
/// (TCP and UDP ping-pong under a timeout, settle wait off) fails with 0 passes and passes with 1
/// on the development kernel; 3 leave a margin for task work that needs another round.
pub(crate) const EMPTY_PASSES: u32 = 3;

/// One idle turn (the root and system tasks are not woken). Out of line and cold, so the
/// normal loop's `turn` stays as small (and as inlined) as without the toolkit.
#[cold]
#[inline(never)]
pub(super) fn turn(core: &Core, wakers: &mut Vec<Waker>) -> io::Result<()> {
    for _ in 0..EMPTY_PASSES {
        if pass(core, wakers, Some(Duration::ZERO))? {
            return Ok(());
        }
    }
    let t = &core.testing;
    let outstanding = core.driver.borrow().live_ops() > 0 || {
        let s = core.threads.pool_stats();
        s.threads > s.idle || s.queued > 0
    };
    if outstanding && !t.settle.is_zero() && pass(core, wakers, Some(t.settle))? {
        return Ok(());
    }
    // Idle. First those waiting for exactly this moment.
    let waiters = t.take_idle_waiters();
    if !waiters.is_empty() {
        for w in waiters {
            w.wake();
        }
        return Ok(());
    }
    if let Some(clock) = t.clock.as_ref().filter(|c| c.autojump) {
        let next = core.timers.borrow().next_deadline();
        if let Some(at) = next {
            clock.set(at);
            super::fire_timers_and_wake(core, wakers);
            return Ok(());
        }
    }
    // Nothing to jump to (or no autojump): wait for the ring or a remote wake, or, with a manual
    // mock clock, until someone advances it (which happens on this thread, so only the ring or a
    // remote wake can end this wait).
    let wait = match &t.clock {
        Some(_) => None,
        None => core.timers.borrow().next_deadline().map(|d| d.saturating_duration_since(t.now())),
    };
    pass(core, wakers, wait).map(drop)
}

/// One turn of the ring waiting at most `wait` (`None`: until something happens). True if it
/// found work: a completion, a remote wake, a due timer, or a task or system task woken.
fn pass(core: &Core, wakers: &mut Vec<Waker>, wait: Option<Duration>) -> io::Result<bool> {
    let turned = core.driver.borrow_mut().turn(Some(wait), wakers);
    drop(core.driver.borrow_mut().take_graveyard());
    turned?;
    if core.driver.borrow_mut().take_wake() | core.remote.flags().pending() {
        core.remote.drain(wakers);
    }
    super::fire_timers_and_wake(core, wakers);
    Ok(core.root_woken.get() || core.threads.system_woken())
}
