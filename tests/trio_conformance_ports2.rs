//! Ported from Trio's `_core/_tests/test_run.py`: `test_trivial_yields` (a nursery in a cancelled
//! scope that never checkpoints is not cancelled), `test_cancel_scope_no_cancellederror` (a group
//! of real errors out of a cancelled scope is not caught), `test_locals_destroyed_promptly_on_cancel`
//! and `test_nursery_closure` (a child may spawn into its nursery while the body has ended).

use quartet::{BoxError, CancelScope, Cancelled, NurseryError, nursery};
use std::cell::Cell;
use std::rc::Rc;

/// Trio: opening and closing a nursery inside a cancelled scope does not check for cancellation
/// unless something inside does: an empty nursery, and one whose child never checkpoints, both
/// return normally and the scope catches nothing.
#[quartet::test]
async fn test_trivial_yields_nursery_in_a_cancelled_scope() {
    let cs = CancelScope::new();
    cs.cancel();
    let out = cs.run(nursery(async |_| Ok::<_, BoxError>(1))).await;
    assert!(matches!(out, Ok(Some(1))), "{out:?}");
    assert!(!cs.cancelled_caught());

    let cs = CancelScope::new();
    cs.cancel();
    let ran = Cell::new(false);
    let out = cs
        .run(nursery(async |n| {
            let ran = &ran;
            n.spawn(async move {
                ran.set(true);
                Ok::<_, Cancelled>(())
            })?;
            Ok::<_, BoxError>(())
        }))
        .await;
    assert!(matches!(out, Ok(Some(()))), "{out:?}");
    assert!(ran.get() && !cs.cancelled_caught());

    // The body's own error passes out of the cancelled scope (Trio: RaisesGroup(KeyError)).
    let cs = CancelScope::new();
    cs.cancel();
    let out = cs.run(nursery(async |_| Err::<(), _>(std::io::Error::other("KeyError")))).await;
    let err = out.unwrap_err();
    assert_eq!(err.failures().len(), 1, "{err:?}");
    assert!(!err.is_cancelled() && !cs.cancelled_caught());
}

/// Trio's `test_cancel_scope_no_cancellederror`: a cancelled scope whose block ends with a group
/// of real errors (no cancellation among them) passes the group on and does not set
/// `cancelled_caught`.
#[quartet::test]
async fn test_cancel_scope_no_cancellederror() {
    let scope = CancelScope::new();
    let out = scope
        .run(nursery(async |n| {
            n.spawn(async { Err::<(), _>(std::io::Error::other("test")) })?;
            n.spawn(async { Err::<(), _>(std::io::Error::other("test")) })?;
            scope.cancel();
            Ok::<_, BoxError>(())
        }))
        .await;
    let err: NurseryError = out.unwrap_err();
    assert_eq!(err.failures().len(), 2, "{err:?}");
    assert!(!quartet::is_cancellation(&err));
    assert!(scope.cancel_called() && !scope.cancelled_caught());
}

/// Trio's `test_locals_destroyed_promptly_on_cancel`: a cancelled child's locals are dropped by
/// the time its nursery returns.
#[quartet::test]
async fn test_locals_destroyed_promptly_on_cancel() {
    struct A(Rc<Cell<bool>>);
    impl Drop for A {
        fn drop(&mut self) {
            self.0.set(true);
        }
    }
    let destroyed = Rc::new(Cell::new(false));
    let d = destroyed.clone();
    let out = nursery(async |n| {
        n.spawn(async move {
            let _a = A(d);
            quartet::checkpoint().await?;
            quartet::sleep(std::time::Duration::from_secs(3600)).await
        })?;
        n.cancel();
        Ok::<_, BoxError>(())
    })
    .await;
    assert!(matches!(out, Ok(()) | Err(_)));
    assert!(destroyed.get(), "the child's locals were dropped before the nursery returned");
}

/// Trio's `test_nursery_closure`: a child may add tasks to its nursery after the body has
/// finished, as long as tasks are still running; each of them runs before the nursery returns.
#[quartet::test]
async fn test_nursery_closure() {
    let ran = Cell::new(0);
    nursery(async |n| {
        let (ran, n2) = (&ran, n.clone());
        n.spawn(async move {
            quartet::yield_now().await; // the body has ended by now
            let ran2 = ran;
            n2.spawn(async move {
                ran2.set(ran2.get() + 1);
                Ok::<_, Cancelled>(())
            })
            .map_err(|e| std::io::Error::other(e.to_string()))?;
            ran.set(ran.get() + 1);
            Ok::<_, std::io::Error>(())
        })?;
        Ok::<_, BoxError>(())
    })
    .await
    .unwrap();
    assert_eq!(ran.get(), 2);
}
