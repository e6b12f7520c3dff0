//! The kernel: drives the root future and turns the ring.
//!
//! One tick: poll the root task if it was woken (the root polls nurseries, which poll their ready
//! children, within a budget of [`BUDGET`] leaf polls), then turn the ring: submit everything the
//! tick queued in one `io_uring_enter`, and either reap without blocking (work is still ready) or
//! park until a completion, a remote wake or the next timer. Completions wake exactly the waker
//! registered by the op's future; that is the only way a completion reaches code.

pub(crate) mod context;
mod idle;
pub(crate) mod prefetch;
pub(crate) mod waker;

use crate::error::Error;
use context::{BUDGET, Core};
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// What `block_on` hands back besides the output: how shutdown went.
pub(crate) struct Finished<T> {
    pub output: std::thread::Result<T>,
}

pub(crate) fn block_on<F: Future>(core: &Core, fut: F, drain_bound: Duration) -> Result<Finished<F::Output>, Error> {
    let waker = Waker::from(std::sync::Arc::new(waker::RootWake { core_id: core.id, remote: core.remote.clone() }));
    let mut cx = Context::from_waker(&waker);
    let mut fut = Box::pin(fut);
    let mut wakers: Vec<Waker> = Vec::new();
    core.root_woken.set(true);
    // Anything that unwinds out of the loop (the root, a waker, a system task) is caught, so the
    // shutdown below always runs before the ring and the op slab are dropped (H4).
    let result = loop {
        if core.root_woken.replace(false) {
            core.budget.set(BUDGET);
            core.tick.set(Instant::now());
            core.tick_since.set(None);
            let timer = crate::monitor::PollTimer::start(None);
            let polled = catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(&mut cx)));
            drop(timer);
            match polled {
                Ok(Poll::Ready(v)) => break Ok(v),
                Ok(Poll::Pending) => {}
                Err(payload) => break Err(payload),
            }
        }
        match catch_unwind(AssertUnwindSafe(|| {
            core.threads.run_system();
            turn(core, &mut wakers)
        })) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                let _ = catch_unwind(AssertUnwindSafe(move || drop(fut)));
                shutdown(core, drain_bound);
                return Err(Error::Ring(e));
            }
            Err(payload) => break Err(payload),
        }
    };
    // Dropping the root drops every task; their in-flight ops are abandoned to the driver, which
    // queues a cancel for each and keeps their buffers until the kernel is done (H1, H3, H4).
    let dropped = catch_unwind(AssertUnwindSafe(move || drop(fut)));
    shutdown(core, drain_bound);
    let output = match (result, dropped) {
        (Ok(_), Err(p)) => Err(p),
        (r, _) => r,
    };
    Ok(Finished { output })
}

fn turn(core: &Core, wakers: &mut Vec<Waker>) -> std::io::Result<()> {
    let busy = core.root_woken.get() || core.threads.system_woken();
    if !busy && core.testing.wants_idle() {
        return idle::turn(core, wakers);
    }
    let wait = if busy {
        None
    } else {
        let next = core.timers.borrow().next_wake();
        Some(next.map(|d| coarsen(d.saturating_duration_since(core.testing.now()))))
    };
    let io_wait = crate::introspect::before_turn(core, wait);
    let turned = core.driver.borrow_mut().turn(wait, wakers);
    drop(core.driver.borrow_mut().take_graveyard());
    turned?;
    crate::introspect::after_turn(core, io_wait);
    // A wake queued for an awake kernel sent no unpark (RW1): the flag is the only sign of it.
    let remote_fired = core.driver.borrow_mut().take_wake() | core.remote.flags().pending();
    if remote_fired {
        core.driver.borrow_mut().arm_wake_spin();
        core.remote.drain(wakers);
    }
    fire_timers_and_wake(core, wakers);
    Ok(())
}

/// Fires the timers due at the (possibly virtual) current time, then wakes everything collected
/// (the turn's completions, remote wakes and the timers), prefetching ahead (`prefetch.rs`).
pub(super) fn fire_timers_and_wake(core: &Core, wakers: &mut Vec<Waker>) {
    let leaves = crate::cancel::leaf_lines();
    core.timers.borrow_mut().fire(
        core.testing.now(),
        wakers,
        |late| core.monitor.record_lag(late),
        |leaf| leaves.prefetch(leaf),
    );
    prefetch::wake_all(wakers);
}

/// Timer resolution: a park that waits for a timer wakes on the next whole millisecond, so timers
/// due within the same millisecond fire in one tick (one wake-up, one syscall) rather than one
/// tick each. Timers never fire early; they may fire up to this much late (tokio's wheel has the
/// same 1 ms resolution).
const TIMER_RESOLUTION_NS: u128 = 1_000_000;

fn coarsen(wait: Duration) -> Duration {
    let ns = wait.as_nanos().div_ceil(TIMER_RESOLUTION_NS) * TIMER_RESOLUTION_NS;
    Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
}

fn shutdown(core: &Core, bound: Duration) {
    // Each step is isolated: a panicking waker or thread must not skip the driver's drain.
    let _ = catch_unwind(AssertUnwindSafe(|| core.threads.shutdown()));
    let _ = catch_unwind(AssertUnwindSafe(|| drop(core.remote.close())));
    // Closed in place, not swapped out: no timer entry stays linked once the core is
    // uninstalled (E3 in time/entry.rs), and none links after this.
    let wakers = core.timers.borrow_mut().close();
    let _ = catch_unwind(AssertUnwindSafe(move || drop(wakers)));
    let report = core.driver.borrow_mut().shutdown(bound);
    let dead = core.driver.borrow_mut().take_graveyard();
    let _ = catch_unwind(AssertUnwindSafe(move || drop(dead)));
    if report.in_flight > 0 {
        context::mark_unclean(core.id);
        eprintln!(
            "quartet: shutdown drain timed out with {} op(s) in flight; leaked {} buffer(s) rather than free memory the kernel may still write",
            report.in_flight, report.leaked
        );
    }
}

/// Resumes a panic from the root future after shutdown.
pub(crate) fn finish<T>(f: Finished<T>) -> T {
    match f.output {
        Ok(v) => v,
        Err(p) => resume_unwind(p),
    }
}
