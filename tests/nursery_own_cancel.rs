//! A nursery stopped from inside (`n.cancel()`, its cancel handle) exits normally, as in Trio,
//! whether or not its body had already returned; a cancellation from an enclosing scope is not
//! "own" and keeps propagating to the scope that owns it.

use crate::nursery_support;

use nursery_support::run;
use quartet::{BoxError, CancelScope, checkpoint, nursery, sleep};
use std::time::Duration;

const LONG: Duration = Duration::from_secs(3600);

#[test]
fn cancelled_while_the_body_still_runs_returns_ok() {
    let r = run(nursery(async |n| -> Result<(), BoxError> {
        let stop = n.cancel_handle();
        n.spawn(async move {
            checkpoint().await?;
            stop.cancel(); // e.g. the winner of a race
            Ok::<_, BoxError>(())
        })?;
        sleep(LONG).await?; // cancelled: the body never returns its own Ok
        Ok(())
    }));
    assert!(r.is_ok(), "{r:?}");
}

#[test]
fn cancelled_after_the_body_returned_returns_ok() {
    let r = run(nursery(async |n| -> Result<(), BoxError> {
        let stop = n.cancel_handle();
        n.spawn(async move {
            checkpoint().await?;
            checkpoint().await?; // the body has returned by now
            stop.cancel();
            sleep(LONG).await?;
            Ok::<_, BoxError>(())
        })?;
        Ok(())
    }));
    assert!(r.is_ok(), "{r:?}");
}

#[test]
fn body_cancelling_its_own_nursery_returns_ok() {
    let r = run(nursery(async |n| -> Result<(), BoxError> {
        n.spawn(sleep(LONG))?;
        n.cancel();
        checkpoint().await?;
        Ok(())
    }));
    assert!(r.is_ok(), "{r:?}");
}

#[test]
fn a_body_value_that_never_came_is_an_own_cancel_error() {
    let r = run(nursery(async |n| -> Result<u32, BoxError> {
        n.cancel();
        checkpoint().await?;
        Ok(5)
    }));
    let e = r.unwrap_err();
    assert!(e.is_own_cancel(), "{e}");
}

#[test]
fn cancellation_from_an_enclosing_scope_is_not_own_and_propagates() {
    let scope = CancelScope::new();
    let inner = std::cell::RefCell::new(None);
    let out = run(scope.run(async {
        let r = nursery(async |_n| -> Result<(), BoxError> {
            scope.cancel();
            sleep(LONG).await?;
            Ok(())
        })
        .await;
        *inner.borrow_mut() = Some(r.as_ref().map_err(|e| e.is_own_cancel()).err());
        r
    }));
    assert!(matches!(out, Ok(None)), "the enclosing scope caught it: {out:?}");
    assert_eq!(inner.into_inner(), Some(Some(false)), "the nursery reported a cancellation that is not its own");
}
