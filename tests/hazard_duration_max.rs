//! Every `Duration` (and far-future `Instant`) a program can hand the public API works, up to
//! `Duration::MAX`: none panics with "overflow when adding duration to instant", and a wait that
//! long is simply a wait that something else ends.

use crate::hazard_support;

use hazard_support::{tcp_pair, watchdog};
use quartet::runtime::thread::pool::Pool;
use quartet::{
    Builder, CancelScope, OpError, TooSlow, fail_after, fail_at, move_on_after, move_on_at, sleep, sleep_until,
};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// An instant further away than any `Instant + Duration` in the runtime could reach by itself.
fn far_instant() -> Instant {
    let now = Instant::now();
    [u64::MAX / 2, 1 << 40, 1 << 32].into_iter().find_map(|s| now.checked_add(Duration::from_secs(s))).unwrap()
}

#[derive(Debug)]
enum Failed {
    Op(OpError),
    TooSlow(TooSlow),
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failed::Op(e) => e.fmt(f),
            Failed::TooSlow(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for Failed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Failed::Op(e) => Some(e),
            Failed::TooSlow(e) => Some(e),
        }
    }
}

impl From<OpError> for Failed {
    fn from(e: OpError) -> Failed {
        Failed::Op(e)
    }
}

impl From<TooSlow> for Failed {
    fn from(e: TooSlow) -> Failed {
        Failed::TooSlow(e)
    }
}

impl From<quartet::Cancelled> for Failed {
    fn from(c: quartet::Cancelled) -> Failed {
        Failed::Op(c.into())
    }
}

#[test]
fn shutdown_drain_of_duration_max_waits_for_the_drain_without_panicking() {
    let _w = watchdog(Duration::from_secs(30), "shutdown_drain(Duration::MAX)");
    let out = Builder::new()
        .shutdown_drain(Duration::MAX)
        .run(async {
            // An op still in flight when the root returns: it is abandoned to the driver, and
            // the drain really waits (for its cancel).
            let (stream, _peer) = tcp_pair().await?;
            let mut recv = Box::pin(stream.recv(Vec::with_capacity(8)));
            assert!(hazard_support::poll_once(recv.as_mut()).await.is_pending());
            Ok::<_, OpError>(7)
        })
        .unwrap()
        .unwrap();
    assert_eq!(out, 7);
}

#[test]
fn slow_poll_threshold_of_duration_max_never_reports() {
    let _w = watchdog(Duration::from_secs(30), "slow_poll_threshold(Duration::MAX)");
    Builder::new().slow_poll_threshold(Some(Duration::MAX)).run(quartet::nop()).unwrap().unwrap();
}

#[test]
fn timeouts_of_duration_max_and_far_deadlines_do_not_fire() {
    let _w = watchdog(Duration::from_secs(30), "timeouts of Duration::MAX");
    Builder::new()
        .run(async {
            let far = far_instant();
            assert_eq!(move_on_after(Duration::MAX, async { Ok::<_, OpError>(1) }).await?, Some(1));
            assert_eq!(fail_after(Duration::MAX, async { Ok::<_, Failed>(2) }).await?, 2);
            assert_eq!(move_on_at(far, async { Ok::<_, OpError>(3) }).await?, Some(3));
            assert_eq!(fail_at(far, async { Ok::<_, Failed>(4) }).await?, 4);
            let scope = CancelScope::with_deadline(far);
            assert_eq!(scope.run(async { quartet::nop().await.map(|()| 5) }).await?, Some(5));
            assert!(scope.deadline().is_some_and(|d| d > Instant::now()), "the deadline stays in the future");
            // Sleeps that long are ended by an enclosing timeout, not by a panic or a wrap-around.
            let slept =
                move_on_after(Duration::from_millis(5), async { sleep(Duration::MAX).await.map_err(Failed::from) })
                    .await?;
            assert!(slept.is_none(), "sleep(Duration::MAX) was still sleeping");
            let slept =
                move_on_after(Duration::from_millis(5), async { sleep_until(far).await.map_err(Failed::from) }).await?;
            assert!(slept.is_none(), "sleep_until(far future) was still sleeping");
            // A nested Duration::MAX timeout inside a short one: the short one wins.
            let nested = move_on_after(Duration::from_millis(5), async {
                fail_after(Duration::MAX, async { sleep(Duration::MAX).await.map_err(Failed::from) }).await
            })
            .await?;
            assert!(nested.is_none());
            Ok::<_, Failed>(())
        })
        .unwrap()
        .unwrap();
}

#[test]
fn worker_pool_with_an_idle_timeout_of_duration_max_runs_jobs_and_closes() {
    let _w = watchdog(Duration::from_secs(30), "Pool::new(Duration::MAX)");
    let pool = Pool::new(Duration::MAX);
    let (tx, rx) = mpsc::channel();
    pool.execute(Box::new(move || tx.send(42).unwrap())).unwrap();
    assert_eq!(rx.recv().unwrap(), 42);
    pool.close();
}

/// The loop parks with the earliest timer as its timeout; a lone far-future timer (the only thing
/// the loop waits for, apart from a thread job) must give a valid park, not a ring error.
#[test]
fn loop_parks_with_only_a_far_future_timer_pending() {
    let _w = watchdog(Duration::from_secs(30), "park with a far-future timer");
    for far in [None, Some(far_instant())] {
        Builder::new()
            .run(async {
                let sleeper = async {
                    match far {
                        Some(at) => sleep_until(at).await,
                        None => sleep(Duration::MAX).await,
                    }
                };
                let job = quartet::to_thread(|| std::thread::sleep(Duration::from_millis(20)));
                // The job's completion (a remote wake) ends the wait; the sleep is still pending.
                let raced = quartet::nursery(async |n| {
                    let scope = CancelScope::new();
                    let handle = scope.handle();
                    n.spawn(async move { scope.run(async { sleeper.await.map_err(OpError::from) }).await })?;
                    job.await?;
                    handle.cancel();
                    Ok::<_, quartet::BoxError>(())
                })
                .await;
                raced.map_err(|e| OpError::Io(std::io::Error::other(e.to_string())))
            })
            .expect("the ring accepted the park")
            .unwrap();
    }
}
