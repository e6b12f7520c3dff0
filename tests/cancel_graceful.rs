//! Graceful cancellation: a soft cancel with a grace period. Code inside sees the request (a flag
//! and an awaitable) and can finish its work; when the grace period ends the scope is cancelled as
//! usual; an explicit `cancel` makes it hard at once; shields hide it.

use crate::nursery_support;

use nursery_support::run;
use quartet::{
    BoxError, CancelHandle, CancelScope, Cancelled, Reason, SpawnError, nursery, shield, shutdown_requested, sleep,
    wait_shutdown_requested,
};
use std::cell::{Cell, RefCell};
use std::time::Duration;

#[test]
fn graceful_cancel_lets_tasks_finish_their_work() {
    let log = RefCell::new(Vec::new());
    run(async {
        let log = &log;
        nursery(async |n| {
            for i in 0..3 {
                n.spawn(async move {
                    assert!(!shutdown_requested());
                    wait_shutdown_requested().await?;
                    assert!(shutdown_requested());
                    // finish the work in hand: a short sleep still works inside the grace period
                    sleep(Duration::from_millis(5)).await?;
                    log.borrow_mut().push(i);
                    Ok::<_, Cancelled>(())
                })?;
            }
            sleep(Duration::from_millis(5)).await?;
            n.cancel_gracefully(Duration::from_secs(10));
            Ok::<_, BoxError>(())
        })
        .await
        .unwrap();
    });
    let mut done = log.into_inner();
    done.sort();
    assert_eq!(done, vec![0, 1, 2], "every task drained its work");
}

#[test]
fn grace_period_expiry_cancels_what_is_still_running() {
    let outcome = RefCell::new(None);
    run(async {
        let scope = CancelScope::new();
        let r = scope
            .run(async {
                scope.cancel_gracefully(Duration::from_millis(20));
                wait_shutdown_requested().await?;
                // ignores the request: keeps sleeping past the grace period
                let r = sleep(Duration::from_secs(3600)).await;
                *outcome.borrow_mut() = Some(r.clone());
                r
            })
            .await;
        assert_eq!(r, Ok(None), "the scope caught its own (hard) cancellation");
        assert!(scope.cancel_called());
        assert_eq!(scope.reason(), Some(Reason::GracePeriodEnded));
    });
    let r = outcome.into_inner().expect("the sleep returned");
    assert_eq!(r.unwrap_err().reason(), &Reason::GracePeriodEnded);
}

#[test]
fn explicit_cancel_after_a_graceful_one_is_hard_at_once() {
    run(async {
        let scope = CancelScope::new();
        let r = scope
            .run(async {
                scope.cancel_gracefully(Duration::from_secs(3600));
                assert!(shutdown_requested());
                assert!(!scope.cancel_called(), "graceful is not (yet) a cancellation");
                scope.cancel(); // the "second Ctrl-C"
                sleep(Duration::from_secs(3600)).await
            })
            .await;
        assert_eq!(r, Ok(None));
        assert_eq!(scope.reason(), Some(Reason::Explicit));
    });
}

#[test]
fn shield_hides_a_graceful_request() {
    let seen_inside = Cell::new(true);
    run(async {
        let scope = CancelScope::new();
        scope
            .run(async {
                scope.cancel_gracefully(Duration::from_secs(3600));
                shield(async {
                    seen_inside.set(shutdown_requested());
                    Ok::<_, Cancelled>(())
                })
                .await?;
                assert!(shutdown_requested(), "outside the shield it is visible");
                Ok::<_, Cancelled>(())
            })
            .await
            .unwrap();
    });
    assert!(!seen_inside.get(), "a shielded section does not see the outer shutdown request");
}

#[test]
fn graceful_cancel_of_the_root_from_another_thread_reaches_every_task() {
    let drained = Cell::new(0);
    let r = run(async {
        let root = CancelHandle::root().expect("inside run");
        let drained = &drained;
        nursery(async |n| {
            for _ in 0..4 {
                n.spawn(async move {
                    wait_shutdown_requested().await?;
                    drained.set(drained.get() + 1);
                    Ok::<_, Cancelled>(())
                })?;
            }
            let t = std::thread::spawn(move || root.cancel_gracefully(Duration::from_secs(5)));
            wait_shutdown_requested().await?;
            t.join().unwrap();
            Ok::<_, BoxError>(())
        })
        .await
    });
    r.unwrap();
    assert_eq!(drained.get(), 4);
}

#[test]
fn hard_cancel_ends_a_wait_for_the_shutdown_request() {
    run(async {
        nursery(async |n| {
            let stop = n.cancel_handle();
            n.spawn(async move {
                let r = wait_shutdown_requested().await;
                assert!(r.is_err(), "a hard cancel is a cancellation, not a shutdown request");
                r
            })?;
            sleep(Duration::from_millis(2)).await?;
            stop.cancel();
            Ok::<_, BoxError>(())
        })
        .await
        .unwrap();
    });
}

#[test]
fn graceful_request_reaches_a_child_started_later() {
    run(async {
        nursery(async |n| {
            n.cancel_gracefully(Duration::from_secs(3600));
            n.spawn(async {
                assert!(shutdown_requested(), "a scope's graceful state is level-triggered");
                wait_shutdown_requested().await
            })?;
            Ok::<_, SpawnError>(())
        })
        .await
        .unwrap();
    });
}
