//! Spawning (semantics §1.3, §1.5, §1.6): the nursery is a value that children use to spawn
//! siblings; children inherit the nursery's cancel scopes, not the spawner's; a finished nursery
//! refuses spawns; a child spawned into a cancelled nursery runs until its first checkpoint.

use crate::nursery_support;

use nursery_support::run;
use quartet::{
    CancelScope, Cancelled, Nursery, Reason, SpawnError, StartError, TaskStatus, checkpoint,
    current_effective_deadline, nursery, sleep, yield_now,
};
use std::cell::{Cell, RefCell};
use std::time::Duration;

#[test]
fn child_spawns_sibling_through_passed_handle() {
    let log = RefCell::new(Vec::new());
    run(async {
        nursery(async |n| {
            let log = &log;
            let handle = n.clone();
            n.spawn(async move {
                handle.spawn(async move {
                    log.borrow_mut().push("sibling");
                    Ok::<_, Cancelled>(())
                })?;
                log.borrow_mut().push("spawner");
                Ok::<_, SpawnError>(())
            })?;
            Ok::<_, SpawnError>(())
        })
        .await
    })
    .unwrap();
    assert_eq!(*log.borrow(), ["spawner", "sibling"]);
}

#[test]
fn sibling_inherits_nursery_scopes_not_the_spawners() {
    let sibling_outcome = RefCell::new(None);
    let sibling_deadline = Cell::new(Some(quartet::Instant::now()));
    run(async {
        nursery(async |n| {
            let (handle, outcome, deadline) = (n.clone(), &sibling_outcome, &sibling_deadline);
            n.spawn(async move {
                // The spawner is inside a cancelled scope with a deadline when it spawns.
                let scope = CancelScope::with_deadline(quartet::Instant::now() + Duration::from_secs(60));
                scope.cancel();
                scope
                    .run(async {
                        handle
                            .spawn(async move {
                                deadline.set(current_effective_deadline());
                                let r = sleep(Duration::from_millis(10)).await;
                                *outcome.borrow_mut() = Some(r);
                                Ok::<_, Cancelled>(())
                            })
                            .expect("open");
                        checkpoint().await
                    })
                    .await?;
                assert!(scope.cancelled_caught());
                Ok::<_, Cancelled>(())
            })?;
            Ok::<_, SpawnError>(())
        })
        .await
    })
    .unwrap();
    assert_eq!(*sibling_outcome.borrow(), Some(Ok(())), "the sibling inherited the spawner's cancelled scope");
    assert_eq!(sibling_deadline.get(), None, "the sibling inherited the spawner's deadline");
}

#[test]
fn child_spawned_from_another_nursery_lives_under_the_target_nursery() {
    // A task of nursery A spawns into nursery B. Cancelling A must not touch the child; cancelling
    // B must.
    let outcome = RefCell::new(Vec::new());
    run(async {
        nursery(async |b| {
            let outcome = &outcome;
            let b_handle = b.clone();
            nursery(async |a| {
                let b_handle = b_handle.clone();
                a.spawn(async move {
                    b_handle.spawn(async move {
                        let first = sleep(Duration::from_millis(20)).await;
                        outcome.borrow_mut().push(("first", first.is_ok()));
                        let second = sleep(Duration::from_secs(3600)).await;
                        outcome.borrow_mut().push(("second", second.is_ok()));
                        Ok::<_, Cancelled>(())
                    })?;
                    Ok::<_, SpawnError>(())
                })?;
                // cancel A as soon as the spawner is done
                yield_now().await;
                yield_now().await;
                a.cancel();
                Ok::<_, SpawnError>(())
            })
            .await
            .unwrap();
            sleep(Duration::from_millis(200)).await?;
            b.cancel();
            Ok::<_, Cancelled>(())
        })
        .await
    })
    .unwrap();
    assert_eq!(*outcome.borrow(), [("first", true), ("second", false)]);
}

#[test]
fn spawn_into_finished_nursery_is_an_error() {
    let ran = Cell::new(false);
    let escaped: RefCell<Option<Nursery<'_>>> = RefCell::new(None);
    run(async {
        nursery(async |n| {
            *escaped.borrow_mut() = Some(n.clone());
            Ok::<_, SpawnError>(())
        })
        .await
        .unwrap();
        let n = escaped.borrow_mut().take().expect("handle");
        assert!(n.is_closed());
        let r = n.spawn(async {
            ran.set(true);
            Ok::<_, Cancelled>(())
        });
        assert_eq!(r.unwrap_err(), SpawnError);
        let started = n.start(|status: TaskStatus<()>| async move {
            status.started(());
            Ok::<_, Cancelled>(())
        });
        assert!(matches!(started.await, Err(StartError::Closed(SpawnError))));
        sleep(Duration::from_millis(1)).await.unwrap();
        assert!(!ran.get(), "a spawn into a closed nursery ran");
    });
}

#[test]
fn child_spawned_into_cancelled_nursery_runs_until_its_first_checkpoint() {
    let log = RefCell::new(Vec::new());
    let out = run(async {
        nursery(async |n| {
            n.cancel();
            let log = &log;
            n.spawn(async move {
                log.borrow_mut().push("started");
                let r = checkpoint().await;
                log.borrow_mut().push(if r.is_err() { "cancelled at first checkpoint" } else { "not cancelled" });
                // it can still clean up (synchronously, or shielded)
                log.borrow_mut().push("cleaned up");
                r
            })?;
            Ok::<_, SpawnError>(5)
        })
        .await
    });
    assert_eq!(out.unwrap(), 5, "the nursery's own cancellation is not an error");
    assert_eq!(*log.borrow(), ["started", "cancelled at first checkpoint", "cleaned up"]);
}

#[test]
fn child_spawned_into_nursery_cancelled_long_ago_sees_cancel_reason() {
    let reason = RefCell::new(None);
    run(async {
        nursery(async |n| {
            n.cancel_scope().cancel_with(Reason::Other("shutting down".into()));
            // let the cancellation settle (children woken, seen) before spawning
            for _ in 0..3 {
                yield_now().await;
            }
            let reason = &reason;
            n.spawn(async move {
                let e = sleep(Duration::from_secs(3600)).await.unwrap_err();
                *reason.borrow_mut() = Some(e.reason().clone());
                Err::<(), _>(e)
            })?;
            Ok::<_, SpawnError>(())
        })
        .await
    })
    .unwrap();
    assert_eq!(*reason.borrow(), Some(Reason::Other("shutting down".into())));
}

#[test]
fn children_borrow_mutable_state_from_the_enclosing_function() {
    let mut totals = vec![0u64; 4];
    let cells: Vec<Cell<u64>> = totals.iter().map(|_| Cell::new(0)).collect();
    run(async {
        nursery(async |n| {
            for (i, cell) in cells.iter().enumerate() {
                n.spawn(async move {
                    for _ in 0..=i {
                        checkpoint().await?;
                        cell.set(cell.get() + 1);
                    }
                    Ok::<_, Cancelled>(())
                })?;
            }
            Ok::<_, SpawnError>(())
        })
        .await
    })
    .unwrap();
    for (t, c) in totals.iter_mut().zip(&cells) {
        *t = c.get();
    }
    assert_eq!(totals, [1, 2, 3, 4]);
}

#[test]
fn dropping_a_running_nursery_drops_its_children() {
    struct Guard<'a>(&'a Cell<u32>);
    impl Drop for Guard<'_> {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }
    let dropped = Cell::new(0);
    run(async {
        let fut = nursery(async |n| {
            for _ in 0..3 {
                let dropped = &dropped;
                n.spawn(async move {
                    let _g = Guard(dropped);
                    // ignores cancellation: only dropping the nursery ends it
                    loop {
                        let _ = sleep(Duration::from_millis(1)).await;
                        yield_now().await;
                    }
                    #[allow(unreachable_code)]
                    Ok::<_, Cancelled>(())
                })?;
            }
            Ok::<_, SpawnError>(())
        });
        // Poll the nursery a few times by hand, then drop it while its children are running.
        let mut fut = std::pin::pin!(fut);
        for _ in 0..5 {
            let _ = nursery_support::poll_once(fut.as_mut()).await;
            sleep(Duration::from_millis(1)).await.unwrap();
        }
        assert_eq!(dropped.get(), 0);
    });
    assert_eq!(dropped.get(), 3, "every child is dropped with its nursery");
}
