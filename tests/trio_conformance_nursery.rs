//! Nursery scenarios from Trio's `_core/_tests/test_run.py` (`test_nursery_*`, `test_cancel_*`)
//! not covered by the `nursery_*` tests: failures that happen while the others are being
//! cancelled, slow shielded cleanup, nurseries opened in a cancelled scope, a `Drop` that panics,
//! cross-cancellation between nested nurseries, and `start` into a cancelled nursery. Timing is
//! on the mock clock.

use quartet::testing::{elapsed, wait_all_tasks_blocked};
use quartet::{
    BoxError, Builder, CancelScope, Cancelled, Nursery, NurseryError, Reason, SpawnError, TaskStatus, checkpoint,
    nursery, shield, sleep,
};
use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

const SEC: Duration = Duration::from_secs(1);
const LONG: Duration = Duration::from_secs(3600);

fn mock_run<T>(fut: impl Future<Output = T>) -> T {
    Builder::new().mock_clock(true).run(fut).expect("runtime")
}

#[quartet::test(mock_clock)]
async fn failure_during_the_cancellation_of_others_is_reported_too() {
    let err = nursery(async |n| {
        n.spawn_named("cleanup-fails", async {
            let c = sleep(LONG).await.unwrap_err();
            assert!(matches!(c.reason(), Reason::SiblingFailed(_)));
            Err::<(), BoxError>("cleanup failed".into())
        })?;
        n.spawn_named("fails-first", async {
            wait_all_tasks_blocked().await?;
            Err::<(), BoxError>("first failure".into())
        })?;
        Ok::<_, BoxError>(())
    })
    .await
    .unwrap_err();
    let mut msgs: Vec<String> = err.failures().iter().map(|f| f.error().to_string()).collect();
    msgs.sort();
    assert_eq!(msgs, ["cleanup failed", "first failure"], "{err}");
}

#[quartet::test(mock_clock)]
async fn child_with_slow_shielded_cleanup_holds_the_nursery_open() -> Result<(), NurseryError> {
    let cleaned = Cell::new(false);
    nursery(async |n| {
        n.spawn(async {
            let c = sleep(LONG).await;
            assert!(c.is_err());
            shield(async { sleep(5 * SEC).await.map(|()| cleaned.set(true)) }).await?;
            c
        })?;
        wait_all_tasks_blocked().await?;
        n.cancel();
        Ok::<_, BoxError>(())
    })
    .await?;
    assert!(cleaned.get());
    assert_eq!(elapsed().unwrap(), 5 * SEC);
    Ok(())
}

#[quartet::test(mock_clock)]
async fn nursery_opened_in_a_cancelled_scope_runs_body_and_children_until_their_first_checkpoint() {
    let log = RefCell::new(Vec::new());
    let scope = CancelScope::new();
    scope.cancel();
    let r = scope
        .run(nursery(async |n| {
            n.spawn(async {
                log.borrow_mut().push("child runs");
                checkpoint().await?;
                log.borrow_mut().push("child passed a checkpoint");
                Ok::<_, Cancelled>(())
            })?;
            log.borrow_mut().push("body runs");
            checkpoint().await?;
            log.borrow_mut().push("body passed a checkpoint");
            Ok::<_, BoxError>(())
        }))
        .await;
    assert!(matches!(r, Ok(None)), "{r:?}");
    assert!(scope.cancelled_caught());
    assert_eq!(*log.borrow(), ["body runs", "child runs"]);
}

struct PanicsOnDrop;

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("drop of a child's future panics");
    }
}

#[test]
fn panic_in_the_drop_of_a_child_future_is_resumed_after_siblings_finish() {
    let sibling_done = Cell::new(false);
    let r = catch_unwind(AssertUnwindSafe(|| {
        mock_run(async {
            nursery(async |n| {
                n.spawn(async {
                    let _guard = PanicsOnDrop;
                    checkpoint().await
                })?;
                n.spawn(async {
                    let c = sleep(LONG).await;
                    shield(async { sleep(SEC).await.map(|()| sibling_done.set(true)) }).await?;
                    c
                })?;
                Ok::<_, SpawnError>(())
            })
            .await
        })
    }));
    let payload = r.expect_err("the panic must reach the owner");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"drop of a child's future panics"));
    assert!(sibling_done.get(), "the sibling was cancelled and finished its cleanup first");
}

#[quartet::test(mock_clock)]
async fn body_error_while_children_run_cancels_them_and_is_reported() {
    let cancelled = Cell::new(0);
    let err = nursery(async |n| {
        for _ in 0..3 {
            n.spawn(async {
                let r = sleep(LONG).await;
                cancelled.set(cancelled.get() + u32::from(r.is_err()));
                r
            })?;
        }
        checkpoint().await?;
        Err::<(), BoxError>("body failed".into())
    })
    .await
    .unwrap_err();
    assert_eq!(cancelled.get(), 3);
    assert_eq!(err.failures().len(), 1, "{err}");
    assert_eq!(err.failures()[0].error().to_string(), "body failed");
    assert_eq!(elapsed().unwrap(), Duration::ZERO);
}

#[quartet::test(mock_clock)]
async fn inner_child_cancelling_the_outer_nursery_unwinds_both() -> Result<(), NurseryError> {
    let reached = Cell::new(0);
    nursery(async |outer| {
        outer.spawn(async {
            sleep(LONG).await?;
            reached.set(100);
            Ok::<_, Cancelled>(())
        })?;
        nursery(async |inner| {
            inner.spawn(async {
                sleep(SEC).await?;
                outer.cancel();
                checkpoint().await?;
                reached.set(200);
                Ok::<_, Cancelled>(())
            })?;
            sleep(LONG).await?;
            reached.set(300);
            Ok::<_, BoxError>(())
        })
        .await?;
        reached.set(400);
        Ok::<_, BoxError>(())
    })
    .await?;
    assert_eq!(reached.get(), 0, "every task stopped at its next checkpoint");
    assert_eq!(elapsed().unwrap(), SEC);
    Ok(())
}

#[test]
fn start_into_a_cancelled_nursery_returns_the_value_and_the_child_is_cancelled_there() {
    // Trio: the child runs under the caller's scope until `started`, then moves into the target
    // nursery, whose cancellation it sees at its next checkpoint.
    let log = RefCell::new(Vec::new());
    let target: RefCell<Option<Nursery<'_>>> = RefCell::new(None);
    mock_run(async {
        nursery(async |outer| {
            outer.spawn(async {
                nursery(async |n| {
                    *target.borrow_mut() = Some(n.clone());
                    n.spawn(async {
                        let c = sleep(LONG).await;
                        shield(sleep(10 * SEC)).await?; // holds the cancelled nursery open
                        c
                    })?;
                    Ok::<_, BoxError>(())
                })
                .await
            })?;
            wait_all_tasks_blocked().await?;
            let n = target.borrow().clone().expect("handle");
            n.cancel();
            let v = n
                .start(|status: TaskStatus<u32>| async {
                    checkpoint().await?; // the caller is not cancelled: this passes
                    log.borrow_mut().push("before started");
                    status.started(7);
                    let r = checkpoint().await;
                    log.borrow_mut().push(if r.is_err() { "cancelled in target" } else { "not cancelled" });
                    r
                })
                .await?;
            assert_eq!(v, 7);
            Ok::<_, BoxError>(())
        })
        .await
        .unwrap();
    });
    assert_eq!(*log.borrow(), ["before started", "cancelled in target"]);
}

#[quartet::test(mock_clock)]
async fn started_child_is_out_of_the_callers_scope_within_the_same_poll() -> Result<(), BoxError> {
    let caller = CancelScope::new();
    let after = Cell::new(None);
    nursery(async |n| {
        caller
            .run(async {
                n.start(|status: TaskStatus<()>| async {
                    status.started(());
                    caller.cancel(); // the child already belongs to the nursery
                    after.set(Some(checkpoint().await.is_ok()));
                    Ok::<_, Cancelled>(())
                })
                .await?;
                Ok::<_, BoxError>(())
            })
            .await?;
        Ok::<_, BoxError>(())
    })
    .await?;
    assert_eq!(after.get(), Some(true));
    Ok(())
}

/// Trio `test_nursery_start_with_cancelled_nursery`: a started task with sleeping children of its
/// own moves into a nursery cancelled just before (or just after) `started`; the sleepers are
/// aborted and everything finishes.
fn start_sleeping_children_into(cancel_before_started: bool) {
    let log = RefCell::new(Vec::new());
    let target: RefCell<Option<Nursery<'_>>> = RefCell::new(None);
    mock_run(async {
        nursery(async |outer| {
            outer.spawn(async {
                nursery(async |n| {
                    *target.borrow_mut() = Some(n.clone());
                    sleep(LONG).await?;
                    Ok::<_, BoxError>(())
                })
                .await
            })?;
            wait_all_tasks_blocked().await?;
            let t = target.borrow().clone().expect("handle");
            let (th, log) = (t.cancel_handle(), &log);
            t.start(move |status: TaskStatus<()>| async move {
                nursery(async |inner| {
                    for _ in 0..2 {
                        inner.spawn(async move {
                            let r = sleep(LONG).await;
                            log.borrow_mut().push(if r.is_err() { "aborted" } else { "slept" });
                            r
                        })?;
                    }
                    wait_all_tasks_blocked().await?;
                    if cancel_before_started {
                        th.cancel();
                    }
                    status.started(());
                    Ok::<_, BoxError>(())
                })
                .await
            })
            .await?;
            if !cancel_before_started {
                t.cancel();
            }
            Ok::<_, BoxError>(())
        })
        .await
        .unwrap();
        assert_eq!(elapsed().unwrap(), Duration::ZERO);
    });
    assert_eq!(*log.borrow(), ["aborted", "aborted"]);
}

#[test]
fn start_moves_sleeping_children_into_a_nursery_cancelled_just_before_started() {
    start_sleeping_children_into(true);
}

#[test]
fn start_moves_sleeping_children_into_a_nursery_cancelled_just_after_started() {
    start_sleeping_children_into(false);
}

/// Trio `test_nursery_start_keeps_nursery_open`: a pending `start` keeps its target nursery open
/// after the target's body returned, also when the task fails before `started`.
#[quartet::test(mock_clock)]
async fn pending_start_keeps_the_target_nursery_open() -> Result<(), BoxError> {
    let t0 = quartet::now();
    nursery(async |n2| {
        let slow = |status: TaskStatus<()>| async move {
            sleep(2 * SEC).await?;
            status.started(());
            sleep(3 * SEC).await?;
            Ok::<_, Cancelled>(())
        };
        nursery(async |n1| {
            n1.spawn(async { n2.start(slow).await })?;
            sleep(SEC).await?;
            n1.spawn(async { n2.start(slow).await })?;
            Ok::<_, BoxError>(())
        })
        .await?;
        Ok::<_, BoxError>(())
    })
    .await?;
    assert_eq!(quartet::now() - t0, 6 * SEC);
    let t0 = quartet::now();
    let r = nursery(async |n2| {
        let crash = |_status: TaskStatus<()>| async move {
            sleep(7 * SEC).await?;
            Err::<(), BoxError>("KeyError".into())
        };
        nursery(async |n1| {
            n1.spawn(async {
                let e = n2.start(crash).await.unwrap_err();
                assert!(e.to_string().contains("KeyError"), "{e}");
                Ok::<_, Cancelled>(())
            })?;
            Ok::<_, BoxError>(())
        })
        .await?;
        Ok::<_, BoxError>(())
    })
    .await;
    assert!(r.is_ok(), "the failure went to the caller of start, not the nursery: {r:?}");
    assert_eq!(quartet::now() - t0, 7 * SEC);
    Ok(())
}

/// Trio `test_nursery_start`: in a cancelled caller, a task that calls `started` and exits with
/// no checkpoint completed successfully (`start` returns its value, nothing is caught); one that
/// checkpoints after `started` makes `start` raise `Cancelled`; one that fails after `started`
/// makes `start` raise its error.
#[quartet::test(mock_clock)]
async fn start_in_a_cancelled_caller_follows_how_the_task_ended() -> Result<(), BoxError> {
    nursery(async |n| {
        let cs = CancelScope::new();
        cs.cancel();
        let v = cs
            .run(async {
                n.start(|status: TaskStatus<&str>| async {
                    status.started("hi"); // and exits: no checkpoint after it
                    Ok::<_, Cancelled>(())
                })
                .await
            })
            .await?;
        assert_eq!(v, Some("hi"));
        assert!(!cs.cancelled_caught());

        let cs = CancelScope::new();
        cs.cancel();
        let r = cs
            .run(n.start(|status: TaskStatus<&str>| async {
                status.started("hi");
                checkpoint().await
            }))
            .await?;
        assert_eq!(r, None);
        assert!(cs.cancelled_caught());

        let cs = CancelScope::new();
        cs.cancel();
        let r = cs
            .run(async {
                let e = n
                    .start(|status: TaskStatus<()>| async {
                        status.started(());
                        Err::<(), BoxError>("whoopsiedaisy".into())
                    })
                    .await
                    .unwrap_err();
                assert!(e.to_string().contains("whoopsiedaisy") || format!("{e:?}").contains("whoopsiedaisy"), "{e:?}");
                Ok::<_, BoxError>(())
            })
            .await?;
        assert_eq!(r, Some(()));
        Ok::<_, BoxError>(())
    })
    .await?;
    Ok(())
}
