//! Every async operation of Lock, Semaphore, Event and Condition is a checkpoint and atomic with
//! respect to cancellation: cancelled at every possible poll point it holds nothing, keeps no
//! place in a queue and consumes no notification; one already served when the cancel arrives
//! returns its result.
use quartet::sync::{Condition, Event, Lock, Semaphore, WaitError};
use quartet::{BoxError, CancelScope, Cancelled, SpawnError, nursery, run, yield_now};
use std::cell::{Cell, RefCell};

use crate::cancel_grid;
use cancel_grid::{DELAYS, POINTS, Seen, cancelled_at};

/// Runs `body` under a generous liveness bound: a lost hand-off shows up as a failure instead of
/// a hang (not a timing assertion: a passing run takes microseconds).
fn bounded<T>(body: impl AsyncFnOnce() -> T) -> T {
    run(async {
        let limit = CancelScope::with_deadline(quartet::Instant::now() + std::time::Duration::from_secs(20));
        let mut out = None;
        let _ = limit
            .run(async {
                out = Some(body().await);
                Ok::<_, Cancelled>(())
            })
            .await;
        assert!(!limit.cancel_called(), "did not finish: a lost hand-off or wake-up left a task waiting");
        out.expect("finished")
    })
    .unwrap()
}

/// A holder takes the unit and gives it back after `delay` yields; the tested acquire (cancelled
/// at poll `at`) queues next, and a third task queues behind it. A cancelled acquire must leave
/// the unit to the third task; a successful one must come before it; nothing stays taken.
macro_rules! acquire_grid {
    ($what:expr, $make:expr, |$r:ident| $acquire:expr, |$f:ident| $is_free:expr) => {{
        let mut seen = Seen::default();
        for at in 0..POINTS {
            for delay in 0..DELAYS {
                let res = $make;
                let order = RefCell::new(Vec::new());
                let outcome = Cell::new(None);
                bounded(async || {
                    nursery(async |n| {
                        let (res, order, outcome) = (&res, &order, &outcome);
                        n.spawn(async move {
                            let $r = res;
                            let tok = $acquire.await?;
                            for _ in 0..delay {
                                yield_now().await;
                            }
                            drop(tok);
                            Ok::<_, Cancelled>(())
                        })?;
                        n.spawn(async move {
                            let $r = res;
                            let got = cancelled_at(at, $acquire).await;
                            outcome.set(Some(got.is_ok()));
                            if let Ok(tok) = got {
                                order.borrow_mut().push("tested");
                                yield_now().await;
                                drop(tok);
                            }
                            Ok::<_, Cancelled>(())
                        })?;
                        n.spawn(async move {
                            let $r = res;
                            let tok = $acquire.await?;
                            order.borrow_mut().push("third");
                            drop(tok);
                            Ok::<_, Cancelled>(())
                        })?;
                        Ok::<_, SpawnError>(())
                    })
                    .await
                })
                .unwrap();
                let ok = outcome.get().expect("the tested acquire finished");
                let expected: &[&str] = if ok { &["tested", "third"] } else { &["third"] };
                assert_eq!(order.into_inner(), expected, "{} cancelled at {at}, delay {delay}", $what);
                let $f = &res;
                assert!($is_free, "{} cancelled at {at}, delay {delay}: nothing stays taken", $what);
                seen.record(ok);
            }
        }
        seen.assert_both($what);
    }};
}

#[test]
fn lock_cancelled_at_every_poll_point_holds_nothing_and_keeps_fifo_order() {
    acquire_grid!("lock", Lock::new(()), |l| l.lock(), |l| !l.is_locked() && l.statistics().waiting == 0);
}

#[test]
fn semaphore_acquire_cancelled_at_every_poll_point_takes_no_unit() {
    acquire_grid!("semaphore", Semaphore::new(1), |s| s.acquire(), |s| s.value() == 1 && s.statistics().waiting == 0);
}

#[test]
fn event_wait_cancelled_at_every_poll_point_leaves_no_waiter() {
    let mut seen = Seen::default();
    for at in 0..POINTS {
        for delay in 0..DELAYS {
            let event = Event::new();
            let outcome = bounded(async || {
                nursery(async |n| {
                    let event = &event;
                    n.spawn(async move {
                        for _ in 0..delay {
                            yield_now().await;
                        }
                        event.set();
                        Ok::<_, Cancelled>(())
                    })?;
                    let r = cancelled_at(at, event.wait()).await;
                    assert_eq!(event.statistics().waiting, 0, "at {at}, delay {delay}: not left parked");
                    Ok::<_, SpawnError>(r.is_ok())
                })
                .await
            })
            .unwrap();
            seen.record(outcome);
        }
    }
    seen.assert_both("event wait");
}

#[test]
fn condition_wait_cancelled_at_every_poll_point_consumes_no_notification() {
    let mut seen = Seen::default();
    for at in 0..POINTS {
        for delay in 0..DELAYS {
            let cond = Condition::new(());
            let notified = Cell::new(None);
            let waited = bounded(async || {
                nursery(async |n| {
                    let (cond, notified) = (&cond, &notified);
                    n.spawn(async move {
                        for _ in 0..delay {
                            yield_now().await;
                        }
                        let _g = cond.lock().await?;
                        notified.set(Some(cond.notify_one()));
                        Ok::<_, Cancelled>(())
                    })?;
                    let g = cond.lock().await?;
                    let r = cancelled_at(at, cond.wait(g)).await;
                    assert!(matches!(r, Ok(_) | Err(WaitError::Cancelled(_))), "at {at}, delay {delay}");
                    Ok::<_, BoxError>(r.is_ok())
                })
                .await
            })
            .unwrap();
            let notified = notified.get().expect("the notifier ran");
            assert_eq!(
                waited, notified,
                "at {at}, delay {delay}: returned Ok exactly when it consumed the notification"
            );
            assert!(!cond.statistics().lock.locked, "at {at}, delay {delay}: the lock is free afterwards");
            seen.record(waited);
        }
    }
    seen.assert_both("condition wait");
}

#[test]
fn acquire_handed_the_lock_before_it_notices_the_cancel_returns_the_guard() {
    run(async {
        let lock = Lock::new(0);
        nursery(async |n| {
            let guard = lock.lock().await?;
            let scope = CancelScope::new();
            let handle = scope.handle();
            let lock = &lock;
            let got = n.spawn(async move {
                let mut got = None;
                scope
                    .run(async {
                        got = Some(lock.lock().await.map(|mut g| *g += 1).is_ok());
                        Ok::<_, Cancelled>(())
                    })
                    .await?;
                Ok::<_, Cancelled>(got)
            })?;
            yield_now().await; // the acquire parks
            drop(guard); // hands the lock over...
            handle.cancel(); // ...and the cancel arrives before the acquirer runs again
            assert_eq!(got.await?, Some(true));
            assert_eq!(*lock.lock().await?, 1);
            Ok::<_, BoxError>(())
        })
        .await
    })
    .unwrap()
    .unwrap();
}

#[test]
fn notified_wait_ignores_a_later_cancel_and_returns_with_the_lock() {
    run(async {
        let cond = Condition::new(0);
        nursery(async |n| {
            let scope = CancelScope::new();
            let handle = scope.handle();
            let cond = &cond;
            let got = n.spawn(async move {
                let mut got = None;
                scope
                    .run(async {
                        let g = cond.lock().await?;
                        got = Some(cond.wait(g).await.map(|mut g| *g += 1).is_ok());
                        Ok::<_, Cancelled>(())
                    })
                    .await?;
                Ok::<_, Cancelled>(got)
            })?;
            while cond.statistics().waiting == 0 {
                yield_now().await;
            }
            let g = cond.lock().await?;
            assert!(cond.notify_one()); // the waiter now waits for the lock...
            handle.cancel(); // ...and must not give up its notification
            drop(g);
            assert_eq!(got.await?, Some(true));
            assert_eq!(*cond.lock().await?, 1);
            Ok::<_, BoxError>(())
        })
        .await
    })
    .unwrap()
    .unwrap();
}

#[test]
fn operations_fail_on_entry_in_a_cancelled_scope_even_when_they_could_complete() {
    run(async {
        let (lock, sem, event, cond) = (Lock::new(()), Semaphore::new(1), Event::new(), Condition::new(()));
        event.set();
        let scope = CancelScope::new();
        scope.cancel();
        let mut results = Vec::new();
        scope
            .run(async {
                results.push(lock.lock().await.is_err());
                results.push(sem.acquire().await.is_err());
                results.push(event.wait().await.is_err());
                let g = cond.try_lock().expect("free");
                results.push(matches!(cond.wait(g).await, Err(WaitError::Cancelled(_))));
                Ok::<_, Cancelled>(())
            })
            .await
            .unwrap();
        assert_eq!(results, [true; 4]);
        assert!(!lock.is_locked() && sem.value() == 1 && !cond.statistics().lock.locked);
    })
    .unwrap();
}

/// Runs `op` (which can complete at once) in one child and a flag-setter in a later child;
/// returns whether the flag was set when `op` completed, i.e. whether `op` yielded.
fn yields_even_when_ready(op: impl AsyncFnOnce()) -> bool {
    let flag = Cell::new(false);
    let seen = Cell::new(false);
    run(async {
        nursery(async |n| {
            let (flag, seen) = (&flag, &seen);
            n.spawn(async move {
                op().await;
                seen.set(flag.get());
                Ok::<_, Cancelled>(())
            })?;
            n.spawn(async move {
                flag.set(true);
                Ok::<_, Cancelled>(())
            })?;
            Ok::<_, SpawnError>(())
        })
        .await
    })
    .unwrap()
    .unwrap();
    seen.get()
}

#[test]
fn operations_yield_even_when_they_complete_at_once() {
    let (lock, sem, event) = (Lock::new(()), Semaphore::new(1), Event::new());
    event.set();
    assert!(yields_even_when_ready(async || drop(lock.lock().await.unwrap())), "free lock");
    assert!(yields_even_when_ready(async || drop(sem.acquire().await.unwrap())), "free unit");
    assert!(yields_even_when_ready(async || event.wait().await.unwrap()), "set event");
}
