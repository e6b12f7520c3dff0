//! Cancel scopes (semantics §3.1, §3.2, §3.6, §3.7, §3.8): cancelled from anywhere, level-triggered,
//! shields block only outer cancellation, the cancelled scope catches its own `Cancelled`, and the
//! reason is carried by the error.

use crate::nursery_support;

use nursery_support::run;
use quartet::{
    BoxError, CancelScope, Cancelled, Instant, NurseryError, OpError, Reason, SpawnError, checkpoint, nop, nursery,
    shield, sleep, yield_now,
};
use std::cell::{Cell, RefCell};
use std::time::Duration;

const LONG: Duration = Duration::from_secs(3600);

#[test]
fn scope_cancelled_from_another_task() {
    let scope = CancelScope::new();
    run(async {
        nursery(async |n| {
            let handle = scope.handle();
            n.spawn(async move {
                sleep(Duration::from_millis(5)).await?;
                handle.cancel();
                Ok::<_, Cancelled>(())
            })?;
            let r = scope.run(sleep(LONG)).await;
            assert_eq!(r, Ok(None));
            Ok::<_, SpawnError>(())
        })
        .await
    })
    .unwrap();
    assert!(scope.cancel_called() && scope.cancelled_caught());
}

#[test]
fn scope_cancelled_from_another_thread() {
    let scope = CancelScope::new();
    let handle = scope.handle();
    let r = run(async {
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            handle.cancel_with(Reason::Other("from a thread".into()));
        });
        let r = scope
            .run(async {
                let e = sleep(LONG).await.unwrap_err();
                assert_eq!(e.reason(), &Reason::Other("from a thread".into()));
                Err::<(), _>(e)
            })
            .await;
        t.join().unwrap();
        r
    });
    assert_eq!(r, Ok(None));
    assert!(scope.cancelled_caught());
}

#[test]
fn nursery_cancelled_from_another_thread_cancels_every_child() {
    let cancelled = Cell::new(0);
    run(async {
        nursery(async |n| {
            for _ in 0..10 {
                let cancelled = &cancelled;
                n.spawn(async move {
                    let r = sleep(LONG).await;
                    cancelled.set(cancelled.get() + u32::from(r.is_err()));
                    r
                })?;
            }
            let handle = n.cancel_handle();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(10));
                handle.cancel();
            });
            Ok::<_, SpawnError>(())
        })
        .await
    })
    .unwrap();
    assert_eq!(cancelled.get(), 10);
}

#[test]
fn cancel_before_entering_raises_at_first_checkpoint_not_before() {
    let scope = CancelScope::new();
    scope.cancel();
    let before = Cell::new(false);
    let r = run(scope.run(async {
        before.set(true); // synchronous code before the first checkpoint runs
        checkpoint().await?;
        unreachable!("the checkpoint must raise");
    }));
    assert_eq!(r, Ok::<Option<()>, Cancelled>(None));
    assert!(before.get());
}

#[test]
fn swallowed_cancel_is_raised_again_at_every_later_checkpoint() {
    let scope = CancelScope::new();
    let results = run(scope.run(async {
        scope.cancel();
        let mut r = Vec::new();
        r.push(("sleep", sleep(LONG).await.is_err()));
        r.push(("checkpoint", checkpoint().await.is_err()));
        r.push(("sleep zero", sleep(Duration::ZERO).await.is_err()));
        r.push(("nop", nop().await.is_err_and(|e| e.is_cancelled())));
        r.push(("sleep again", sleep(LONG).await.is_err()));
        Ok::<_, Cancelled>(r)
    }))
    .unwrap()
    .expect("the block returned normally");
    for (what, cancelled) in results {
        assert!(cancelled, "{what} did not raise Cancelled after an earlier one was swallowed");
    }
    // The block returned Ok: the scope did not need to catch anything.
    assert!(scope.cancel_called() && !scope.cancelled_caught());
}

#[test]
fn cleanup_after_swallowed_cancel_cannot_hang() {
    // Trio's send_goodbye_msg example: a task catches Cancelled and then does more I/O. With
    // level-triggered cancellation that I/O fails at once instead of hanging.
    let goodbye = RefCell::new(None);
    run(async {
        nursery(async |n| {
            let goodbye = &goodbye;
            n.spawn(async move {
                let (a, _b) = nursery_support::tcp_pair().await?;
                let r = a.recv(Vec::with_capacity(8)).await.0; // nobody ever sends
                assert!(r.is_err_and(|e| e.is_cancelled()));
                // "send goodbye, then wait for the ack": the wait would hang without a cancel
                let (s, _) = a.send_all(b"bye".to_vec()).await;
                let (ack, _) = a.recv(Vec::with_capacity(8)).await;
                *goodbye.borrow_mut() = Some((s.is_err(), ack.is_err()));
                Ok::<_, OpError>(())
            })?;
            sleep(Duration::from_millis(5)).await?;
            n.cancel();
            Ok::<_, BoxError>(())
        })
        .await
    })
    .unwrap();
    assert_eq!(*goodbye.borrow(), Some((true, true)));
}

#[test]
fn shield_blocks_outer_cancellation() {
    let outer = CancelScope::new();
    let inner_result = RefCell::new(None);
    run(outer.run(async {
        outer.cancel();
        let r = shield(async {
            sleep(Duration::from_millis(5)).await?;
            checkpoint().await?;
            Ok::<_, Cancelled>("shielded work done")
        })
        .await;
        *inner_result.borrow_mut() = Some(r);
        checkpoint().await // outside the shield the cancellation is visible again
    }))
    .unwrap();
    assert_eq!(*inner_result.borrow(), Some(Ok(Some("shielded work done"))));
    assert!(outer.cancelled_caught());
}

#[test]
fn shield_with_deadline_bounds_cleanup_in_a_cancelled_scope() {
    let outer = CancelScope::new();
    let cleanup = CancelScope::shielded();
    run(outer.run(async {
        outer.cancel();
        cleanup.set_deadline(Some(Instant::now() + Duration::from_millis(10)));
        let r = cleanup.run(sleep(LONG)).await; // would hang forever without its own deadline
        assert_eq!(r, Ok(None));
        checkpoint().await
    }))
    .unwrap();
    assert!(cleanup.cancelled_caught(), "the shield's own deadline is caught by the shield");
    assert!(outer.cancelled_caught());
    assert_eq!(cleanup.reason(), Some(Reason::Deadline));
}

#[test]
fn shield_does_not_block_cancellation_of_inner_scopes_or_itself() {
    let s = CancelScope::shielded();
    let inner = CancelScope::new();
    run(s.run(async {
        let r = inner
            .run(async {
                inner.cancel();
                sleep(LONG).await
            })
            .await;
        assert_eq!(r, Ok(None));
        s.cancel();
        sleep(LONG).await
    }))
    .unwrap();
    assert!(inner.cancelled_caught() && s.cancelled_caught());
}

#[test]
fn unshielding_exposes_a_pending_outer_cancellation_to_blocked_code() {
    let outer = CancelScope::new();
    let shielded = CancelScope::shielded();
    run(async {
        nursery(async |n| {
            let (outer, shielded) = (&outer, &shielded);
            n.spawn(async move {
                outer
                    .run(async {
                        // the shield outlives the outer cancel; the sleep is blocked inside it
                        shielded.run(sleep(LONG)).await?;
                        Ok::<_, Cancelled>(())
                    })
                    .await
                    .map(drop)
            })?;
            sleep(Duration::from_millis(2)).await?;
            outer.cancel();
            sleep(Duration::from_millis(2)).await?;
            shielded.set_shield(false);
            Ok::<_, BoxError>(())
        })
        .await
    })
    .unwrap();
    assert!(!shielded.cancelled_caught(), "the outer cancellation belongs to the outer scope");
    assert!(outer.cancelled_caught());
}

#[test]
fn shielded_nursery_children_ignore_outer_cancellation() {
    let outer = CancelScope::new();
    let finished = Cell::new(0);
    run(outer.run(async {
        let r = nursery(async |n| {
            n.cancel_scope().set_shield(true);
            for _ in 0..3 {
                let finished = &finished;
                n.spawn(async move {
                    sleep(Duration::from_millis(10)).await?;
                    finished.set(finished.get() + 1);
                    Ok::<_, Cancelled>(())
                })?;
            }
            outer.cancel();
            Ok::<_, SpawnError>(())
        })
        .await;
        assert!(r.is_ok(), "{r:?}");
        checkpoint().await
    }))
    .unwrap();
    assert_eq!(finished.get(), 3);
    assert!(outer.cancelled_caught());
}

#[test]
fn cancelled_scope_catches_its_own_cancel_and_code_after_it_runs() {
    let scope = CancelScope::new();
    let after = run(async {
        let r = scope
            .run(async {
                scope.cancel();
                sleep(LONG).await?;
                unreachable!()
            })
            .await;
        assert_eq!(r, Ok::<Option<()>, Cancelled>(None));
        // after the scope, checkpoints work normally
        checkpoint().await.unwrap();
        sleep(Duration::from_millis(1)).await.unwrap();
        "after"
    });
    assert_eq!(after, "after");
    assert!(scope.cancel_called() && scope.cancelled_caught());
}

#[test]
fn inner_scope_does_not_catch_an_outer_cancellation() {
    let outer = CancelScope::new();
    let inner = CancelScope::new();
    run(outer.run(async {
        let r = inner
            .run(async {
                outer.cancel();
                sleep(LONG).await
            })
            .await;
        assert!(r.is_err(), "the inner scope must let the outer cancellation through: {r:?}");
        r
    }))
    .unwrap();
    assert!(!inner.cancel_called() && !inner.cancelled_caught());
    assert!(outer.cancelled_caught());
}

#[test]
fn when_both_are_cancelled_the_outer_scope_catches() {
    let outer = CancelScope::new();
    let inner = CancelScope::new();
    run(outer.run(async {
        inner
            .run(async {
                inner.cancel();
                outer.cancel();
                sleep(LONG).await
            })
            .await
    }))
    .unwrap();
    assert!(inner.cancel_called() && !inner.cancelled_caught());
    assert!(outer.cancelled_caught());
}

#[test]
fn cancel_called_is_distinct_from_cancelled_caught() {
    let scope = CancelScope::new();
    let r = run(scope.run(async {
        scope.cancel();
        Ok::<_, Cancelled>(1) // no checkpoint: nothing raised, nothing caught
    }));
    assert_eq!(r, Ok(Some(1)));
    assert!(scope.cancel_called());
    assert!(!scope.cancelled_caught());
}

#[test]
fn cancel_reasons_are_shown_by_cancelled() {
    let explicit = CancelScope::new();
    let e = run(explicit.run(async {
        explicit.cancel();
        Ok::<_, Cancelled>(sleep(LONG).await.unwrap_err())
    }))
    .unwrap()
    .unwrap();
    assert_eq!(e.reason(), &Reason::Explicit);

    let deadline = CancelScope::with_deadline(Instant::now());
    let e = run(deadline.run(async { Ok::<_, Cancelled>(checkpoint().await.unwrap_err()) })).unwrap().unwrap();
    assert_eq!(e.reason(), &Reason::Deadline);
    assert!(e.to_string().contains("deadline"), "{e}");

    let custom = CancelScope::new();
    custom.cancel_with(Reason::Signal);
    custom.cancel_with(Reason::Other("second reason is ignored".into()));
    let e = run(custom.run(async { Ok::<_, Cancelled>(nop().await.unwrap_err()) })).unwrap().unwrap();
    assert!(matches!(e, OpError::Cancelled(ref c) if c.reason() == &Reason::Signal), "{e:?}");
    assert_eq!(custom.reason(), Some(Reason::Signal));
}

#[test]
fn sibling_failure_reason_names_the_failed_task() {
    let seen = RefCell::new(None);
    let err: NurseryError = run(async {
        nursery(async |n| {
            let seen = &seen;
            n.spawn(async move {
                let e = sleep(LONG).await.unwrap_err();
                *seen.borrow_mut() = Some(e.to_string());
                Err::<(), _>(e)
            })?;
            n.spawn_named("the culprit", async {
                yield_now().await;
                Err::<(), _>(std::io::Error::other("x"))
            })?;
            Ok::<_, SpawnError>(())
        })
        .await
    })
    .unwrap_err();
    assert_eq!(err.failures().len(), 1);
    let seen = seen.into_inner().expect("sibling ran");
    assert!(seen.contains("the culprit"), "{seen}");
}
