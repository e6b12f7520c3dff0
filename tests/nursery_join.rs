//! Joining (semantics §1.1, §1.2): a nursery returns only when every child has finished, and a
//! `JoinHandle` is awaitable inside the scope; dropping it neither detaches nor cancels the child.

use crate::nursery_support;

use nursery_support::run;
use quartet::{BoxError, CancelScope, Cancelled, JoinError, SpawnError, checkpoint, nursery, sleep, yield_now};
use std::cell::{Cell, RefCell};
use std::time::Duration;

#[test]
fn nursery_waits_for_children_after_body_returns_early() {
    let finished = Cell::new(0);
    let out = run(async {
        nursery(async |n| {
            for i in 0..5u64 {
                let finished = &finished;
                n.spawn(async move {
                    sleep(Duration::from_millis(5 * i)).await?;
                    finished.set(finished.get() + 1);
                    Ok::<_, Cancelled>(())
                })?;
            }
            // the body is done long before the children
            Ok::<_, SpawnError>("body value")
        })
        .await
    });
    assert_eq!(out.unwrap(), "body value");
    assert_eq!(finished.get(), 5);
}

#[test]
fn nursery_waits_for_children_spawned_by_children_after_body_returned() {
    let log = RefCell::new(Vec::new());
    run(async {
        nursery(async |n| {
            let (n2, log) = (n.clone(), &log);
            n.spawn(async move {
                sleep(Duration::from_millis(5)).await?;
                // the body has returned by now; the nursery is still open
                n2.spawn(async move {
                    sleep(Duration::from_millis(5)).await?;
                    log.borrow_mut().push("grandchild");
                    Ok::<_, Cancelled>(())
                })
                .expect("nursery still open");
                log.borrow_mut().push("child");
                Ok::<_, Cancelled>(())
            })?;
            log.borrow_mut().push("body");
            Ok::<_, SpawnError>(())
        })
        .await
    })
    .unwrap();
    assert_eq!(*log.borrow(), ["body", "child", "grandchild"]);
}

#[test]
fn nursery_waits_for_cancelled_children_to_finish_their_cleanup() {
    let cleaned = Cell::new(false);
    let err = run(async {
        nursery(async |n| {
            let cleaned = &cleaned;
            n.spawn(async move {
                let r = sleep(Duration::from_secs(3600)).await;
                assert!(r.is_err(), "the sleeper must be cancelled");
                // bounded cleanup that takes a few scheduling rounds
                CancelScope::shielded()
                    .run(async {
                        for _ in 0..10 {
                            checkpoint().await?;
                        }
                        sleep(Duration::from_millis(5)).await
                    })
                    .await?;
                cleaned.set(true);
                r
            })?;
            sleep(Duration::from_millis(1)).await?;
            Err::<(), BoxError>(std::io::Error::other("body fails").into())
        })
        .await
    })
    .unwrap_err();
    assert!(cleaned.get(), "the nursery returned before its child finished cleaning up");
    assert_eq!(err.failures().len(), 1, "{err}");
}

#[test]
fn join_handle_returns_child_value_inside_the_scope() {
    let out = run(async {
        nursery(async |n| {
            let a = n.spawn(async {
                sleep(Duration::from_millis(2)).await?;
                Ok::<_, Cancelled>(40)
            })?;
            let b = n.spawn(async { Ok::<_, Cancelled>(2) })?;
            let (a, b) = (a.await, b.await);
            Ok::<_, BoxError>(a? + b?)
        })
        .await
    });
    assert_eq!(out.unwrap(), 42);
}

#[test]
fn dropping_join_handle_neither_detaches_nor_cancels_the_child() {
    let finished = Cell::new(false);
    let err = run(async {
        nursery(async |n| {
            let finished = &finished;
            let handle = n.spawn_named("dropped-handle", async move {
                sleep(Duration::from_millis(10)).await?;
                finished.set(true);
                Err::<(), _>(std::io::Error::other("late failure"))
            })?;
            drop(handle);
            // the child is still a child: still live, still joined, its failure still reported
            assert_eq!(n.live_children(), 1);
            Ok::<_, SpawnError>(())
        })
        .await
    })
    .unwrap_err();
    assert!(finished.get(), "dropping the handle cancelled or detached the child");
    assert_eq!(err.failures().len(), 1);
    assert!(err.failures()[0].origin().contains("dropped-handle"), "{err}");
}

#[test]
fn join_handle_that_escapes_its_nursery_refers_to_a_finished_child() {
    let handle = run(async {
        nursery(async |n| {
            let h = n.spawn(async {
                for _ in 0..3 {
                    yield_now().await;
                }
                Ok::<_, Cancelled>(7)
            })?;
            Ok::<_, SpawnError>(h)
        })
        .await
    })
    .unwrap();
    // No task outlives its nursery: the handle is finished and keeps the value.
    assert!(handle.is_finished());
    let v = run(handle);
    assert_eq!(v.unwrap(), 7);
}

#[test]
fn join_handle_reports_how_the_child_ended() {
    let (failed, cancelled) = run(async {
        let mut out = None;
        let r = nursery(async |n| {
            let failed = n.spawn(async { Err::<(), _>(std::io::Error::other("x")) })?;
            let cancelled = n.spawn(async { sleep(Duration::from_secs(3600)).await })?;
            // Wait for both inside a shield: the failure cancels the nursery (and so the body).
            let r = CancelScope::shielded().run(async { Ok::<_, Cancelled>((failed.await, cancelled.await)) }).await?;
            out = r;
            Ok::<_, BoxError>(())
        })
        .await;
        assert_eq!(r.unwrap_err().failures().len(), 1);
        out.expect("joined")
    });
    assert!(matches!(failed, Err(JoinError::Failed)), "{failed:?}");
    assert!(matches!(cancelled, Err(JoinError::ChildCancelled)), "{cancelled:?}");
}

#[test]
fn join_handle_of_panicked_child_reports_panicked() {
    let seen = RefCell::new(None);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run(async {
            nursery(async |n| {
                let h = n.spawn(async {
                    yield_now().await;
                    panic!("child panics");
                    #[allow(unreachable_code)]
                    Ok::<(), Cancelled>(())
                })?;
                let r = CancelScope::shielded().run(async { Ok::<_, Cancelled>(h.await) }).await?;
                *seen.borrow_mut() = r;
                Ok::<_, BoxError>(())
            })
            .await
        })
    }));
    assert!(r.is_err(), "the panic must be resumed in the nursery's owner");
    let seen = seen.into_inner().expect("the body joined the child");
    assert!(matches!(seen, Err(JoinError::Panicked)), "{seen:?}");
}
