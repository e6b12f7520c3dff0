//! Cancel-scope scenarios from Trio's own tests (`_core/_tests/test_run.py`, `test_cancelscope`,
//! `_tests/test_timeouts.py`) that the other `cancel_*`/`deadline_*` tests do not cover: the
//! `cancel_called` / `cancelled_caught` flags exactly as Trio defines them, cancels that arrive
//! too late, nested deadlines, deadlines moved while blocked, shields toggled while blocked, and a
//! scope run more than once. All timing is on the mock clock.

use quartet::testing::{advance, elapsed, wait_all_tasks_blocked};
use quartet::{BoxError, CancelScope, Cancelled, checkpoint, current_effective_deadline, now, nursery, shield, sleep};
use std::cell::{Cell, RefCell};
use std::time::Duration;

const SEC: Duration = Duration::from_secs(1);
const LONG: Duration = Duration::from_secs(3600);

#[quartet::test(mock_clock)]
async fn cancel_after_the_block_ended_sets_cancel_called_but_is_not_caught() -> Result<(), Cancelled> {
    let scope = CancelScope::new();
    let r = scope.run(async { checkpoint().await.map(|()| 7) }).await?;
    assert_eq!(r, Some(7));
    scope.cancel(); // too late to matter: no panic, no effect on what follows
    assert!(scope.cancel_called() && !scope.cancelled_caught());
    checkpoint().await // code after the scope is not cancelled
}

#[quartet::test(mock_clock)]
async fn deadline_passing_after_the_block_ended_does_not_set_cancel_called() -> Result<(), Cancelled> {
    // Trio: `cancel_called` only notices an expired deadline while the scope is open or before
    // it was entered; a deadline that passes after the block ended was never a cancel request.
    let scope = CancelScope::with_deadline(now() + SEC);
    assert_eq!(scope.run(async { Ok::<_, Cancelled>(1) }).await?, Some(1));
    sleep(2 * SEC).await?;
    assert!(!scope.cancel_called(), "the deadline passed after the scope closed");
    assert!(!scope.cancelled_caught());
    Ok(())
}

#[quartet::test(mock_clock)]
async fn past_deadline_before_entry_counts_as_cancel_called() {
    let scope = CancelScope::with_deadline(now() - SEC);
    assert!(scope.cancel_called(), "Trio: cancel_called is true once the deadline has passed");
    assert!(!scope.cancelled_caught());
}

#[quartet::test(mock_clock)]
async fn past_deadline_does_not_stop_a_block_without_checkpoints() -> Result<(), Cancelled> {
    let scope = CancelScope::with_deadline(now() - SEC);
    let r = scope.run(async { Ok::<_, Cancelled>("no checkpoint, so no cancel") }).await?;
    assert_eq!(r, Some("no checkpoint, so no cancel"));
    assert!(scope.cancel_called() && !scope.cancelled_caught());
    Ok(())
}

#[quartet::test(mock_clock)]
async fn cancel_arriving_while_the_body_returns_its_value_keeps_the_value() -> Result<(), Cancelled> {
    let scope = CancelScope::new();
    let r = scope
        .run(async {
            checkpoint().await?;
            scope.cancel(); // the body returns before any further checkpoint
            Ok::<_, Cancelled>(42)
        })
        .await?;
    assert_eq!(r, Some(42));
    assert!(scope.cancel_called() && !scope.cancelled_caught());
    Ok(())
}

#[quartet::test(mock_clock)]
async fn body_that_swallows_cancelled_and_returns_ok_is_not_caught() -> Result<(), Cancelled> {
    let scope = CancelScope::new();
    scope.cancel();
    let r = scope.run(async { Ok::<_, Cancelled>(checkpoint().await.is_err()) }).await?;
    assert_eq!(r, Some(true));
    assert!(!scope.cancelled_caught(), "nothing reached the scope, so it caught nothing");
    Ok(())
}

#[quartet::test(mock_clock)]
async fn real_error_out_of_a_cancelled_scope_passes_through() {
    let scope = CancelScope::new();
    scope.cancel();
    let r: Result<Option<()>, BoxError> = scope.run(async { Err("disk on fire".into()) }).await;
    assert_eq!(r.unwrap_err().to_string(), "disk on fire");
    assert!(!scope.cancelled_caught());
}

#[quartet::test(mock_clock)]
async fn inner_earlier_deadline_is_caught_by_the_inner_scope_only() -> Result<(), Cancelled> {
    let t0 = now();
    let outer = CancelScope::with_deadline(t0 + 10 * SEC);
    let inner = CancelScope::with_deadline(t0 + SEC);
    let r = outer
        .run(async {
            let i = inner.run(sleep(LONG)).await?;
            assert_eq!(i, None);
            assert_eq!(now() - t0, SEC);
            assert_eq!(current_effective_deadline(), Some(t0 + 10 * SEC));
            Ok::<_, Cancelled>("outer went on")
        })
        .await?;
    assert_eq!(r, Some("outer went on"));
    assert!(inner.cancelled_caught() && inner.cancel_called());
    assert!(!outer.cancelled_caught() && !outer.cancel_called());
    assert_eq!(elapsed().unwrap(), SEC);
    Ok(())
}

#[quartet::test(mock_clock)]
async fn outer_earlier_deadline_passes_through_the_inner_scope() -> Result<(), Cancelled> {
    let t0 = now();
    let outer = CancelScope::with_deadline(t0 + SEC);
    let inner = CancelScope::with_deadline(t0 + 10 * SEC);
    let after_inner = Cell::new(false);
    let r = outer
        .run(async {
            assert_eq!(current_effective_deadline(), Some(t0 + SEC));
            inner.run(sleep(LONG)).await?;
            after_inner.set(true);
            Ok::<_, Cancelled>(())
        })
        .await?;
    assert_eq!(r, None);
    assert!(!after_inner.get(), "the outer cancellation must propagate out of the inner scope");
    assert!(outer.cancelled_caught());
    assert!(!inner.cancelled_caught() && !inner.cancel_called(), "the inner deadline never passed");
    assert_eq!(elapsed().unwrap(), SEC);
    Ok(())
}

#[quartet::test(mock_clock)]
async fn deadline_moved_into_the_past_while_blocked_cancels_at_once() -> Result<(), BoxError> {
    let scope = CancelScope::with_deadline(now() + LONG);
    nursery(async |n| {
        let h = scope.handle();
        let s = &scope;
        n.spawn(async move {
            wait_all_tasks_blocked().await?;
            s.set_deadline(Some(now() - SEC));
            drop(h);
            Ok::<_, Cancelled>(())
        })?;
        assert_eq!(scope.run(sleep(LONG)).await?, None);
        assert_eq!(elapsed().unwrap(), Duration::ZERO, "no time had to pass");
        Ok::<_, BoxError>(())
    })
    .await?;
    assert!(scope.cancelled_caught());
    Ok(())
}

#[quartet::test(mock_clock)]
async fn expired_deadline_moved_later_does_not_uncancel() -> Result<(), Cancelled> {
    let scope = CancelScope::with_deadline(now() + SEC);
    let r = scope
        .run(async {
            assert!(sleep(2 * SEC).await.is_err());
            scope.set_deadline(Some(now() + LONG)); // a scope never becomes un-cancelled
            assert!(scope.cancel_called());
            sleep(SEC).await?;
            Ok::<_, Cancelled>("escaped")
        })
        .await?;
    assert_eq!(r, None);
    assert!(scope.cancelled_caught());
    assert_eq!(elapsed().unwrap(), SEC);
    Ok(())
}

#[quartet::test(mock_clock)]
async fn shield_turned_on_after_a_caught_outer_cancel_lets_cleanup_sleep() -> Result<(), Cancelled> {
    let outer = CancelScope::new();
    let inner = CancelScope::new();
    let r = outer
        .run(async {
            inner
                .run(async {
                    outer.cancel();
                    assert!(checkpoint().await.is_err(), "unshielded: the outer cancel is visible");
                    inner.set_shield(true);
                    sleep(SEC).await?; // shielded now: runs to completion
                    Ok::<_, Cancelled>(())
                })
                .await?;
            checkpoint().await // outside the shield again: the outer cancel is still there
        })
        .await?;
    assert_eq!(r, None);
    assert!(outer.cancelled_caught() && !inner.cancelled_caught() && !inner.cancel_called());
    assert_eq!(elapsed().unwrap(), SEC);
    Ok(())
}

#[quartet::test(mock_clock)]
async fn shield_turned_on_while_blocked_protects_the_blocked_sleep() -> Result<(), BoxError> {
    let outer = CancelScope::new();
    let inner = CancelScope::new();
    let r = outer
        .run(async {
            nursery(async |n| {
                n.spawn(async {
                    wait_all_tasks_blocked().await?;
                    inner.set_shield(true);
                    outer.cancel();
                    Ok::<_, Cancelled>(())
                })?;
                let done = inner.run(async { sleep(SEC).await.map(|()| "slept") }).await?;
                assert_eq!(done, Some("slept"));
                Ok::<_, BoxError>(())
            })
            .await
        })
        .await?;
    // Nursery exit is never the source of `Cancelled`: nothing checkpointed after the shield.
    assert_eq!(r, Some(()));
    assert!(outer.cancel_called() && !outer.cancelled_caught());
    assert_eq!(elapsed().unwrap(), SEC);
    Ok(())
}

#[quartet::test(mock_clock)]
async fn cancelled_scope_run_again_is_cancelled_at_its_first_checkpoint() -> Result<(), Cancelled> {
    // Trio refuses a second `with` of a scope (RuntimeError); quartet allows sequential reuse and
    // the scope stays cancelled (S1), so the second block is cancelled too.
    let scope = CancelScope::new();
    scope.cancel();
    assert_eq!(scope.run(checkpoint()).await?, None);
    let ran = Cell::new(0);
    let r = scope
        .run(async {
            ran.set(1);
            checkpoint().await?;
            ran.set(2);
            Ok::<_, Cancelled>(())
        })
        .await?;
    assert_eq!((r, ran.get()), (None, 1));
    assert!(scope.cancelled_caught());
    Ok(())
}

#[quartet::test(mock_clock)]
async fn scope_entered_by_two_tasks_reaches_both() -> Result<(), BoxError> {
    let scope = CancelScope::new();
    let caught = Cell::new(0);
    nursery(async |n| {
        for _ in 0..2 {
            n.spawn(async {
                if scope.run(sleep(LONG)).await?.is_none() {
                    caught.set(caught.get() + 1);
                }
                Ok::<_, Cancelled>(())
            })?;
        }
        wait_all_tasks_blocked().await?;
        scope.cancel();
        Ok::<_, BoxError>(())
    })
    .await?;
    assert_eq!(caught.get(), 2);
    assert_eq!(elapsed().unwrap(), Duration::ZERO);
    Ok(())
}

/// Trio `test_basic_timeout`, with `advance` for `mock_clock.jump`.
#[quartet::test(mock_clock)]
async fn trio_basic_timeout() -> Result<(), BoxError> {
    let start = now();
    let scope = CancelScope::new();
    assert_eq!(scope.deadline(), None);
    scope
        .run(async {
            scope.set_deadline(Some(start + SEC));
            assert_eq!(scope.deadline(), Some(start + SEC));
            Ok::<_, Cancelled>(())
        })
        .await?;
    assert!(!scope.cancel_called());
    advance(2 * SEC)?;
    for _ in 0..3 {
        checkpoint().await?;
    }
    assert!(!scope.cancel_called());

    let start = now();
    let scope = CancelScope::with_deadline(start + SEC);
    let r = scope
        .run(async {
            advance(2 * SEC)?;
            sleep(LONG).await?;
            Ok::<_, BoxError>(())
        })
        .await?;
    assert_eq!(r, None);
    assert!(scope.cancel_called() && scope.cancelled_caught());

    let start = now();
    let scope = CancelScope::new();
    let r = scope
        .run(async {
            checkpoint().await?;
            scope.set_deadline(Some(start + 10 * SEC));
            checkpoint().await?;
            advance(5 * SEC)?;
            checkpoint().await?;
            scope.set_deadline(Some(start + SEC));
            assert!(checkpoint().await.is_err());
            assert!(checkpoint().await.is_err());
            Ok::<_, BoxError>(())
        })
        .await?;
    assert_eq!(r, Some(()));
    Ok(())
}

#[quartet::test(mock_clock)]
async fn first_checkpoint_after_the_clock_jumps_past_the_deadline_is_cancelled() -> Result<(), BoxError> {
    let scope = CancelScope::with_deadline(now() + SEC);
    let passed = Cell::new(0);
    let r = scope
        .run(async {
            advance(2 * SEC)?;
            assert!(scope.cancel_called());
            checkpoint().await?;
            passed.set(1);
            checkpoint().await?;
            passed.set(2);
            Ok::<_, BoxError>(())
        })
        .await?;
    assert_eq!((r, passed.get()), (None, 0));
    Ok(())
}

/// Trio `test_cancel_unbound`, last part: an observed expired deadline stays a cancellation.
#[quartet::test(mock_clock)]
async fn expired_deadline_seen_before_entry_stays_cancelled_when_moved_later() {
    let scope = CancelScope::with_deadline(now() + SEC);
    assert!(!scope.cancel_called());
    scope.set_deadline(Some(now()));
    assert!(scope.cancel_called());
    scope.set_deadline(Some(now() + SEC));
    assert!(scope.cancel_called(), "a scope never becomes un-cancelled");
    assert_eq!(scope.run(checkpoint()).await, Ok(None));
}

#[quartet::test(mock_clock)]
async fn expired_deadline_seen_inside_stays_cancelled_when_moved_later() -> Result<(), BoxError> {
    let scope = CancelScope::with_deadline(now() + SEC);
    let r = scope
        .run(async {
            advance(2 * SEC)?; // no checkpoint yet: the deadline timer has not fired
            assert!(scope.handle().cancel_called());
            scope.set_deadline(Some(now() + LONG));
            checkpoint().await?;
            Ok::<_, BoxError>("escaped")
        })
        .await?;
    assert_eq!(r, None);
    Ok(())
}

/// Trio `test_cancel_shield_abort`: un-shielding a nursery's scope aborts a child's sleep.
#[quartet::test(mock_clock)]
async fn unshielding_a_nursery_aborts_its_sleeping_child() -> Result<(), BoxError> {
    let outer = CancelScope::new();
    let record = RefCell::new(Vec::new());
    let r = outer
        .run(nursery(async |n| {
            outer.cancel();
            n.cancel_scope().set_shield(true);
            n.spawn(async {
                record.borrow_mut().push("sleeping");
                if sleep(LONG).await.is_err() {
                    record.borrow_mut().push("cancelled");
                }
                Ok::<_, Cancelled>(())
            })?;
            wait_all_tasks_blocked().await?;
            assert_eq!(*record.borrow(), ["sleeping"]);
            n.cancel_scope().set_shield(false);
            shield(async {
                wait_all_tasks_blocked().await?;
                assert_eq!(*record.borrow(), ["sleeping", "cancelled"]);
                Ok::<_, Cancelled>(())
            })
            .await?;
            Ok::<_, BoxError>(())
        }))
        .await?;
    assert_eq!(r, Some(()));
    Ok(())
}

/// Trio `test_unshield_while_cancel_propagating` (the shield is raised after the `Cancelled`).
#[quartet::test(mock_clock)]
async fn shield_raised_while_a_cancel_propagates_does_not_make_the_inner_scope_catch_it() {
    let outer = CancelScope::new();
    let inner = CancelScope::new();
    let r = outer
        .run(async {
            inner
                .run(async {
                    outer.cancel();
                    let r = checkpoint().await;
                    inner.set_shield(true);
                    r
                })
                .await
        })
        .await;
    assert_eq!(r, Ok(None));
    assert!(outer.cancelled_caught() && !inner.cancelled_caught());
}

/// Trio `test_cancel_edge_cases`: `cancel` is idempotent and cancellation level-triggered.
#[quartet::test(mock_clock)]
async fn double_cancel_is_idempotent_and_every_sleep_fails() {
    let scope = CancelScope::new();
    let r = scope
        .run(async {
            scope.cancel();
            scope.cancel();
            assert!(sleep(LONG).await.is_err());
            assert!(sleep(LONG).await.is_err());
            checkpoint().await
        })
        .await;
    assert_eq!(r, Ok(None));
    assert!(scope.cancel_called() && scope.cancelled_caught());
    assert_eq!(elapsed().unwrap(), Duration::ZERO);
}
