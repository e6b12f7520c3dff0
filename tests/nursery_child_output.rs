//! Children may return `()` (a child that cannot fail) or any `Result`; the value reaches the
//! join handle and an `Err` is still a failure of the nursery.

use crate::nursery_support;

use nursery_support::run;
use quartet::{BoxError, checkpoint, nursery};
use std::cell::Cell;

#[test]
fn child_returning_unit_runs_and_its_handle_yields_unit() {
    let ran = Cell::new(false);
    run(nursery(async |n| -> Result<(), BoxError> {
        let h = n.spawn(async {
            let _ = checkpoint().await; // nothing to propagate: the child cannot fail
            ran.set(true);
        })?;
        h.await?;
        Ok(())
    }))
    .unwrap();
    assert!(ran.get());
}

#[test]
fn child_returning_a_result_gives_its_value_or_fails_the_nursery() {
    let err = run(nursery(async |n| -> Result<(), BoxError> {
        let ok = n.spawn(async { Ok::<_, std::io::Error>(7) })?;
        assert_eq!(ok.await?, 7);
        n.spawn_named("bad", async { Err::<(), _>(std::io::Error::other("nope")) })?;
        Ok(())
    }))
    .unwrap_err();
    assert_eq!(err.failures().len(), 1, "{err}");
    assert!(err.failures()[0].origin().contains("'bad'"), "{err}");
}

#[test]
fn unit_children_are_cancelled_with_their_nursery() {
    let cancelled = Cell::new(0);
    let r = run(nursery(async |n| -> Result<(), BoxError> {
        for _ in 0..3 {
            n.spawn(async {
                if quartet::sleep(std::time::Duration::from_secs(3600)).await.is_err() {
                    cancelled.set(cancelled.get() + 1);
                }
            })?;
        }
        checkpoint().await?;
        n.cancel();
        Ok(())
    }));
    assert!(r.is_ok() || r.as_ref().is_err_and(|e| e.is_own_cancel()), "{r:?}");
    assert_eq!(cancelled.get(), 3);
}
