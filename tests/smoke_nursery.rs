//! Smoke tests of the nursery through the facade.
use quartet::{Cancelled, SpawnError, nursery, run, sleep};
use std::cell::Cell;
use std::time::Duration;

#[test]
fn children_borrow_and_join() {
    let count = Cell::new(0);
    run(async {
        nursery(async |n| {
            for i in 0..10u64 {
                let count = &count;
                n.spawn(async move {
                    sleep(Duration::from_millis(i)).await?;
                    count.set(count.get() + 1);
                    Ok::<_, Cancelled>(())
                })?;
            }
            Ok::<_, SpawnError>(())
        })
        .await
    })
    .unwrap()
    .unwrap();
    assert_eq!(count.get(), 10);
}

#[test]
fn failure_cancels_siblings() {
    let err = run(async {
        nursery(async |n| {
            n.spawn_named("sleeper", async { sleep(Duration::from_secs(10)).await })?;
            n.spawn_named("failer", async { Err::<(), _>(std::io::Error::other("boom")) })?;
            Ok::<_, SpawnError>(())
        })
        .await
    })
    .unwrap()
    .unwrap_err();
    assert_eq!(err.failures().len(), 1, "{err}");
    assert!(err.to_string().contains("failer"), "{err}");
}
