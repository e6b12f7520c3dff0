//! Direct ports of tests from Trio's `_core/_tests/test_run.py` (named after them), translated to
//! quartet's API: `with scope:` becomes `scope.run(async { .. })`, `mock_clock.jump` becomes
//! `testing::advance`, Trio's `-inf` effective deadline becomes "now" (quartet's documented
//! rendering of "already cancelled").

use quartet::testing::{advance, elapsed};
use quartet::{
    BoxError, CancelScope, Cancelled, SpawnError, checkpoint, current_effective_deadline, now, nursery, sleep,
};
use std::cell::RefCell;
use std::time::Duration;

const SEC: Duration = Duration::from_secs(1);
const LONG: Duration = Duration::from_secs(3600);

#[quartet::test(mock_clock)]
async fn test_cancel_shielding() -> Result<(), BoxError> {
    let outer = CancelScope::new();
    let inner = CancelScope::new();
    let innerest = CancelScope::new();
    let r = outer
        .run(async {
            inner
                .run(async {
                    checkpoint().await?;
                    outer.cancel();
                    assert!(checkpoint().await.is_err());
                    assert!(!inner.shield());
                    inner.set_shield(true);
                    assert!(inner.shield());
                    checkpoint().await?; // the shield protects us from `outer`
                    let r = innerest
                        .run(async {
                            innerest.cancel();
                            checkpoint().await // but not from a scope inside `inner`
                        })
                        .await?;
                    assert_eq!(r, None);
                    checkpoint().await?;
                    inner.set_shield(false);
                    assert!(checkpoint().await.is_err(), "the shield can be lowered again");
                    inner.set_shield(true);
                    checkpoint().await?;
                    inner.cancel(); // the shield does not protect from `inner` itself
                    checkpoint().await?;
                    Ok::<_, BoxError>("not reached")
                })
                .await?;
            assert!(inner.cancelled_caught());
            Ok::<_, BoxError>(())
        })
        .await?;
    // `outer` is still cancelled after `inner`: nursery-free code after `inner` passed no
    // checkpoint, so the body returned normally.
    assert_eq!(r, Some(()));
    assert!(!outer.cancelled_caught());
    Ok(())
}

#[quartet::test(mock_clock)]
async fn test_cancel_inheritance() -> Result<(), BoxError> {
    let record = RefCell::new(Vec::new());
    nursery(async |n| {
        for w in ["w1", "w2"] {
            let record = &record;
            n.spawn(async move {
                nursery(async |inner| {
                    for l in ["l1", "l2"] {
                        inner.spawn(async move {
                            if sleep(LONG).await.is_err() {
                                record.borrow_mut().push(format!("{w}-{l}"));
                            }
                            Ok::<_, Cancelled>(())
                        })?;
                    }
                    Ok::<_, SpawnError>(())
                })
                .await
            })?;
        }
        n.cancel();
        Ok::<_, SpawnError>(())
    })
    .await?;
    let mut got = record.into_inner();
    got.sort();
    assert_eq!(got, ["w1-l1", "w1-l2", "w2-l1", "w2-l2"]);
    assert_eq!(elapsed().unwrap(), Duration::ZERO);
    Ok(())
}

#[quartet::test(mock_clock)]
async fn test_yield_briefly_checks_for_timeout() -> Result<(), BoxError> {
    let scope = CancelScope::with_deadline(now() + 5 * SEC);
    let r = scope
        .run(async {
            checkpoint().await?;
            advance(10 * SEC)?;
            assert!(checkpoint().await.is_err());
            Ok::<_, BoxError>(())
        })
        .await?;
    assert_eq!(r, Some(()));
    Ok(())
}

#[quartet::test(mock_clock)]
async fn test_current_effective_deadline() -> Result<(), Cancelled> {
    let t0 = now();
    assert_eq!(current_effective_deadline(), None);
    let scope1 = CancelScope::with_deadline(t0 + 5 * SEC);
    let scope2 = CancelScope::with_deadline(t0 + 10 * SEC);
    scope1
        .run(async {
            scope2
                .run(async {
                    assert_eq!(current_effective_deadline(), Some(t0 + 5 * SEC));
                    scope2.set_deadline(Some(t0 + 3 * SEC));
                    assert_eq!(current_effective_deadline(), Some(t0 + 3 * SEC));
                    scope2.set_deadline(Some(t0 + 10 * SEC));
                    assert_eq!(current_effective_deadline(), Some(t0 + 5 * SEC));
                    scope2.set_shield(true);
                    assert_eq!(current_effective_deadline(), Some(t0 + 10 * SEC));
                    scope2.set_shield(false);
                    assert_eq!(current_effective_deadline(), Some(t0 + 5 * SEC));
                    scope1.cancel();
                    assert!(current_effective_deadline().is_some_and(|d| d <= now()), "-inf");
                    scope2.set_shield(true);
                    assert_eq!(current_effective_deadline(), Some(t0 + 10 * SEC));
                    Ok::<_, Cancelled>(())
                })
                .await?;
            assert!(current_effective_deadline().is_some_and(|d| d <= now()), "-inf");
            Ok::<_, Cancelled>(())
        })
        .await?;
    assert_eq!(current_effective_deadline(), None);
    Ok(())
}

/// Trio `_tests/test_sync.py::test_CapacityLimiter_zero_limit_tokens` (tokens are released by
/// dropping them; the borrowers are `Borrower` ids).
#[quartet::test(mock_clock)]
async fn test_capacity_limiter_zero_limit_tokens() -> Result<(), BoxError> {
    use quartet::runtime::thread::{Borrower, CapacityLimiter};
    use quartet::testing::wait_all_tasks_blocked;
    let c = CapacityLimiter::new(5);
    let ids: Vec<Borrower> = (0..7).map(|_| Borrower::new()).collect();
    let tokens = RefCell::new(Vec::new());
    let sorted = |mut v: Vec<Borrower>| {
        v.sort_by_key(|b| b.id());
        v
    };
    nursery(async |n| {
        c.set_total(0);
        for &b in &ids[..5] {
            let (c, tokens) = (&c, &tokens);
            n.spawn(async move {
                let t = c.acquire_on_behalf_of(b).await?;
                tokens.borrow_mut().push(t);
                Ok::<_, BoxError>(())
            })?;
            wait_all_tasks_blocked().await?;
        }
        assert!(c.borrowers().is_empty());
        assert_eq!(c.stats().waiting, 5);
        c.set_total(5);
        assert_eq!(sorted(c.borrowers()), ids[..5], "raising the total lends at once");
        let (cr, tr, b5) = (&c, &tokens, ids[5]);
        n.spawn(async move {
            let t = cr.acquire_on_behalf_of(b5).await?;
            tr.borrow_mut().push(t);
            Ok::<_, BoxError>(())
        })?;
        wait_all_tasks_blocked().await?;
        assert_eq!(c.stats().waiting, 1);
        let first_five: Vec<_> = tokens.borrow_mut().drain(..).collect();
        drop(first_five);
        assert_eq!(c.stats().waiting, 0);
        assert_eq!(c.borrowers(), [ids[5]]);
        wait_all_tasks_blocked().await?; // the granted task stores its token
        tokens.borrow_mut().clear();
        c.set_total(0);
        assert!(c.try_acquire().is_err(), "a zero limit lets nobody through");
        let (cr, tr, b6) = (&c, &tokens, ids[6]);
        n.spawn(async move {
            let t = cr.acquire_on_behalf_of(b6).await?;
            tr.borrow_mut().push(t);
            Ok::<_, BoxError>(())
        })?;
        wait_all_tasks_blocked().await?;
        assert_eq!((c.stats().waiting, c.borrowers().len()), (1, 0));
        c.set_total(1);
        assert_eq!((c.stats().waiting, c.borrowers()), (0, vec![ids[6]]));
        wait_all_tasks_blocked().await?; // the granted task stores its token
        tokens.borrow_mut().clear();
        // A waiter killed by cancellation leaves nothing behind (Trio's memleak_548).
        let held = c.acquire().await?;
        n.spawn(async {
            let _t = c.acquire().await?;
            Ok::<_, BoxError>(())
        })?;
        wait_all_tasks_blocked().await?;
        n.cancel();
        wait_all_tasks_blocked().await?;
        assert_eq!(c.stats().waiting, 0);
        drop(held);
        Ok::<_, BoxError>(())
    })
    .await?;
    assert_eq!((c.total(), c.borrowed(), c.stats().waiting), (1, 0, 0));
    Ok(())
}

#[quartet::test(mock_clock)]
async fn test_cancel_scope_nesting() -> Result<(), BoxError> {
    // Two scopes triggering at once: the outer one wins.
    let (scope1, scope2, scope3) = (CancelScope::new(), CancelScope::new(), CancelScope::new());
    let r = scope1
        .run(scope2.run(scope3.run(async {
            scope3.cancel();
            scope2.cancel();
            sleep(LONG).await
        })))
        .await?;
    assert_eq!(r, Some(None));
    assert!(scope3.cancel_called() && !scope3.cancelled_caught());
    assert!(scope2.cancel_called() && scope2.cancelled_caught());
    assert!(!scope1.cancel_called() && !scope1.cancelled_caught());

    // Shielding.
    let (scope1, scope2) = (CancelScope::new(), CancelScope::new());
    let r = scope1
        .run(scope2.run(async {
            scope1.cancel();
            assert!(checkpoint().await.is_err());
            assert!(checkpoint().await.is_err());
            scope2.set_shield(true);
            checkpoint().await?;
            scope2.cancel();
            checkpoint().await
        }))
        .await?;
    assert_eq!(r, Some(None), "scope2 (shielded, cancelled) caught its own cancel");
    assert!(scope2.cancelled_caught() && !scope1.cancelled_caught());

    // A pending cancel that is never delivered is not caught.
    let scope = CancelScope::new();
    let r = scope
        .run(async {
            scope.cancel();
            Ok::<_, Cancelled>(())
        })
        .await?;
    checkpoint().await?;
    assert_eq!(r, Some(()));
    assert!(!scope.cancelled_caught());
    Ok(())
}
