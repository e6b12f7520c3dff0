//! Direct ports of tests from Trio's `_core/_tests/test_run.py` (named after them), translated to
//! quartet's API: `with scope:` becomes `scope.run(async { .. })`, `mock_clock.jump` becomes
//! `testing::advance`, Trio's `-inf` effective deadline becomes "now" (quartet's documented
//! rendering of "already cancelled").

use quartet::testing::{advance, elapsed};
use quartet::{BoxError, CancelScope, Cancelled, SpawnError, checkpoint, current_effective_deadline, now, nursery, sleep};
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
