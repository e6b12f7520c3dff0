//! Timeout scenarios from Trio's `_tests/test_timeouts.py` not covered by `deadline_scope.rs`:
//! zero timeouts, a body that finishes exactly at (or just before) its deadline, deadlines far in
//! the past, nested timeouts expiring at the same instant, and a `fail_after` whose body is
//! cancelled from outside. All on the mock clock, so "exactly" is exact.

use quartet::testing::elapsed;
use quartet::{
    BoxError, CancelScope, Cancelled, TooSlow, checkpoint, current_effective_deadline, fail_after, fail_at,
    move_on_after, move_on_at, now, sleep,
};
use std::time::Duration;

const SEC: Duration = Duration::from_secs(1);
const NS: Duration = Duration::from_nanos(1);
const LONG_SLEEP: Duration = Duration::from_secs(3600);

fn is_too_slow(e: &BoxError) -> bool {
    e.downcast_ref::<TooSlow>().is_some()
}

#[quartet::test(mock_clock)]
async fn move_on_after_zero_lets_a_body_without_checkpoints_finish() {
    let r = move_on_after(Duration::ZERO, async { Ok::<_, Cancelled>("sync only") }).await;
    assert_eq!(r, Ok(Some("sync only")));
}

#[quartet::test(mock_clock)]
async fn move_on_after_zero_cancels_the_first_checkpoint() {
    let r = move_on_after(Duration::ZERO, async {
        checkpoint().await?;
        Ok::<_, Cancelled>("passed a checkpoint")
    })
    .await;
    assert_eq!(r, Ok(None));
    assert_eq!(elapsed().unwrap(), Duration::ZERO);
}

#[quartet::test(mock_clock)]
async fn fail_after_zero_with_a_checkpoint_is_too_slow() {
    let r: Result<(), BoxError> = fail_after(Duration::ZERO, async {
        sleep(Duration::ZERO).await?;
        Ok(())
    })
    .await;
    assert!(is_too_slow(&r.unwrap_err()));
}

#[quartet::test(mock_clock)]
async fn fail_after_body_finishing_a_nanosecond_early_returns_its_value() {
    let r: Result<u32, BoxError> = fail_after(SEC, async {
        sleep(SEC - NS).await?;
        Ok(5)
    })
    .await;
    assert_eq!(r.unwrap(), 5);
    assert_eq!(elapsed().unwrap(), SEC - NS);
}

#[quartet::test(explore = 40)]
async fn fail_after_body_sleeping_exactly_until_the_deadline_is_too_slow() {
    // Trio: `sleep(d)` inside `fail_after(d)` raises TooSlowError (the deadline is inclusive:
    // a scope is cancelled once `now >= deadline`).
    let r: Result<u32, BoxError> = fail_after(SEC, async {
        sleep(SEC).await?;
        Ok(5)
    })
    .await;
    assert!(is_too_slow(&r.unwrap_err()));
    assert_eq!(elapsed().unwrap(), SEC);
}

#[quartet::test(mock_clock)]
async fn body_that_reaches_the_deadline_without_a_checkpoint_keeps_its_value() {
    let r: Result<u32, BoxError> = fail_after(SEC, async {
        sleep(SEC - NS).await?;
        quartet::testing::advance(SEC).unwrap(); // time passes with no checkpoint after it
        Ok(9)
    })
    .await;
    assert_eq!(r.unwrap(), 9);
}

#[quartet::test(mock_clock)]
async fn deadline_exactly_now_cancels_at_the_first_checkpoint() {
    let scope = CancelScope::with_deadline(now());
    assert_eq!(scope.run(checkpoint()).await, Ok(None));
    assert!(scope.cancelled_caught());
}

#[quartet::test(mock_clock)]
async fn deadline_a_century_in_the_past_behaves_like_any_past_deadline() {
    let Some(past) = now().checked_sub(Duration::from_secs(100 * 365 * 86_400)) else { return };
    let r = move_on_at(past, sleep(SEC)).await;
    assert_eq!(r, Ok(None));
    let r: Result<(), BoxError> = fail_at(past, async { Ok(sleep(SEC).await?) }).await;
    assert!(is_too_slow(&r.unwrap_err()));
    assert_eq!(elapsed().unwrap(), Duration::ZERO);
}

#[quartet::test(mock_clock)]
async fn nested_timeouts_expiring_together_are_caught_by_the_outer_one() -> Result<(), BoxError> {
    let t0 = now();
    let outer = CancelScope::with_deadline(t0 + SEC);
    let r = outer
        .run(async {
            let inner: Result<(), BoxError> = fail_at(t0 + SEC, async { Ok(sleep(10 * SEC).await?) }).await;
            // Both are cancelled: the outer scope owns the cancellation, so the inner one lets
            // it through as a cancellation, not as TooSlow.
            let e = inner.unwrap_err();
            assert!(!is_too_slow(&e), "{e}");
            Err::<(), _>(e)
        })
        .await?;
    assert_eq!(r, None);
    assert!(outer.cancelled_caught());
    assert_eq!(elapsed().unwrap(), SEC);
    Ok(())
}

#[quartet::test(mock_clock)]
async fn fail_after_cancelled_from_outside_propagates_the_cancel_not_too_slow() {
    let outer = CancelScope::new();
    let r = outer
        .run(async {
            let r: Result<(), BoxError> = fail_after(10 * SEC, async {
                outer.cancel();
                Ok(sleep(SEC).await?)
            })
            .await;
            let e = r.unwrap_err();
            assert!(quartet::is_cancellation(&*e) && !is_too_slow(&e), "{e}");
            Err::<(), _>(e)
        })
        .await;
    assert!(matches!(r, Ok(None)));
    assert_eq!(elapsed().unwrap(), Duration::ZERO);
}

#[quartet::test(mock_clock)]
async fn effective_deadline_follows_a_deadline_moved_while_open() {
    let t0 = now();
    let scope = CancelScope::with_deadline(t0 + 10 * SEC);
    let r = scope
        .run(async {
            assert_eq!(current_effective_deadline(), Some(t0 + 10 * SEC));
            scope.set_deadline(Some(t0 + 2 * SEC));
            assert_eq!(current_effective_deadline(), Some(t0 + 2 * SEC));
            scope.set_deadline(None);
            assert_eq!(current_effective_deadline(), None);
            sleep(20 * SEC).await?;
            Ok::<_, Cancelled>("no deadline left")
        })
        .await;
    assert_eq!(r, Ok(Some("no deadline left")));
    assert_eq!(elapsed().unwrap(), 20 * SEC);
}

/// Trio `test_timeouts.py::test_move_on_after_moves_on_even_if_shielded` and
/// `test_fail_after_fails_even_if_shielded`: a shielded timeout inside a cancelled scope still
/// expires at its own deadline.
#[quartet::test(mock_clock)]
async fn shielded_timeouts_expire_at_their_own_deadline_inside_a_cancelled_scope() -> Result<(), BoxError> {
    let outer = CancelScope::new();
    let r = outer
        .run(async {
            outer.cancel();
            let moved_on = CancelScope::shielded();
            moved_on.set_deadline(Some(now() + SEC));
            assert_eq!(moved_on.run(sleep(LONG_SLEEP)).await?, None);
            assert_eq!(elapsed().unwrap(), SEC);
            let failed = CancelScope::shielded();
            failed.set_deadline(Some(now() + SEC));
            let r: Result<Option<()>, BoxError> = failed.run(async { Ok(sleep(LONG_SLEEP).await?) }).await;
            assert_eq!(r?, None);
            assert!(failed.cancelled_caught());
            assert_eq!(elapsed().unwrap(), 2 * SEC);
            checkpoint().await?; // the outer cancel is still there
            Ok::<_, BoxError>(())
        })
        .await?;
    assert_eq!(r, None);
    Ok(())
}

/// Trio `test_timeouts.py::test_context_shields_from_outer`.
#[quartet::test(mock_clock)]
async fn shielded_timeout_scope_blocks_the_outer_cancel_until_unshielded() {
    let outer = CancelScope::new();
    let inner = CancelScope::shielded();
    inner.set_deadline(Some(now() + 10 * SEC));
    let r = outer
        .run(inner.run(async {
            outer.cancel();
            checkpoint().await?; // the shield works
            inner.set_shield(false);
            assert!(checkpoint().await.is_err());
            Ok::<_, Cancelled>(())
        }))
        .await;
    assert_eq!(r, Ok(Some(Some(()))));
    assert!(!inner.cancelled_caught());
}
