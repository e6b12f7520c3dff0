//! Hostile uses of the nursery API: spawning from cleanup code while the nursery is closing,
//! spawning from a `Drop`, a stray `Cancelled` returned by a child of a nursery nobody cancelled,
//! and dropping a `start` call right after the child started. None may panic inside the
//! runtime, hang, or lose a failure.

use quartet::testing::{elapsed, wait_all_tasks_blocked};
use quartet::{BoxError, Cancelled, Nursery, Reason, SpawnError, TaskStatus, checkpoint, nursery, shield, sleep};
use std::cell::RefCell;
use std::time::Duration;

const SEC: Duration = Duration::from_secs(1);
const LONG: Duration = Duration::from_secs(3600);

#[test]
fn child_spawned_during_cancellation_cleanup_starts_cancelled() {
    let log = RefCell::new(Vec::new());
    quartet::Builder::new()
        .mock_clock(true)
        .run(async {
            nursery(async |n| {
                let log = &log;
                let handle = n.clone();
                n.spawn(async move {
                    let c = sleep(LONG).await;
                    // Cleanup, after the body returned and the nursery was cancelled.
                    let spawned = handle.spawn(async move {
                        log.borrow_mut().push("late child runs");
                        checkpoint().await?;
                        log.borrow_mut().push("late child passed a checkpoint");
                        Ok::<_, Cancelled>(())
                    });
                    log.borrow_mut().push(if spawned.is_ok() { "spawned" } else { "refused" });
                    c
                })?;
                wait_all_tasks_blocked().await?;
                n.cancel();
                Ok::<_, BoxError>(())
            })
            .await
            .unwrap();
        })
        .unwrap();
    assert_eq!(*log.borrow(), ["spawned", "late child runs"]);
}

struct SpawnsOnDrop<'env> {
    n: Nursery<'env>,
    log: &'env RefCell<Vec<&'static str>>,
}

impl Drop for SpawnsOnDrop<'_> {
    fn drop(&mut self) {
        let log = self.log;
        let r = self.n.spawn(async move {
            log.borrow_mut().push("spawned from drop ran");
            Ok::<_, Cancelled>(())
        });
        log.borrow_mut().push(if r.is_ok() { "accepted" } else { "refused" });
    }
}

#[test]
fn spawn_from_the_drop_of_a_finished_child_runs_before_the_nursery_closes() {
    let log = RefCell::new(Vec::new());
    quartet::Builder::new()
        .mock_clock(true)
        .run(async {
            nursery(async |n| {
                let guard = SpawnsOnDrop { n: n.clone(), log: &log };
                n.spawn(async move {
                    let _guard = guard;
                    sleep(SEC).await
                })?;
                Ok::<_, SpawnError>(())
            })
            .await
            .unwrap();
        })
        .unwrap();
    assert_eq!(*log.borrow(), ["accepted", "spawned from drop ran"]);
}

#[test]
fn spawn_from_a_drop_while_the_nursery_is_being_dropped_is_refused() {
    let log = RefCell::new(Vec::new());
    quartet::Builder::new()
        .mock_clock(true)
        .run(async {
            // A select-style drop: the nursery future itself is dropped while its child runs.
            let fut = nursery(async |n| {
                let guard = SpawnsOnDrop { n: n.clone(), log: &log };
                n.spawn(async move {
                    let _guard = guard;
                    shield(sleep(LONG)).await
                })?;
                Ok::<_, SpawnError>(())
            });
            let mut fut = std::pin::pin!(fut);
            // Poll it once so the child exists, then drop it.
            assert!(futures_poll_once(fut.as_mut()).await.is_pending());
        })
        .unwrap();
    assert_eq!(*log.borrow(), ["refused"]);
}

async fn futures_poll_once<F: Future>(fut: std::pin::Pin<&mut F>) -> std::task::Poll<F::Output> {
    let mut fut = Some(fut);
    std::future::poll_fn(|cx| std::task::Poll::Ready(fut.take().expect("once").poll(cx))).await
}

#[quartet::test(mock_clock)]
async fn stray_cancelled_from_a_child_of_an_uncancelled_nursery_is_a_failure() {
    let err = nursery(async |n| {
        n.spawn_named("liar", async {
            checkpoint().await?;
            Err::<(), _>(Cancelled::new(Reason::Other("made up".into())))
        })?;
        Ok::<_, SpawnError>(())
    })
    .await
    .unwrap_err();
    assert_eq!(err.failures().len(), 1, "{err}");
    assert!(err.failures()[0].origin().contains("liar"));
}

#[quartet::test(mock_clock)]
async fn dropping_start_right_after_started_keeps_the_child_in_the_nursery() -> Result<(), BoxError> {
    let log = RefCell::new(Vec::new());
    nursery(async |n| {
        {
            let fut = n.start(|status: TaskStatus<u32>| async {
                status.started(1);
                sleep(SEC).await?;
                log.borrow_mut().push("child finished");
                Ok::<_, Cancelled>(())
            });
            let mut fut = std::pin::pin!(fut);
            let _ = futures_poll_once(fut.as_mut()).await; // the child is queued
            wait_all_tasks_blocked().await?; // ... and has started
        } // the start call is dropped before it returned the value
        log.borrow_mut().push("start dropped");
        Ok::<_, BoxError>(())
    })
    .await?;
    assert_eq!(*log.borrow(), ["start dropped", "child finished"]);
    assert_eq!(elapsed().unwrap(), SEC);
    Ok(())
}

#[quartet::test(mock_clock)]
async fn awaiting_a_join_handle_again_is_an_error_not_a_hang() -> Result<(), BoxError> {
    nursery(async |n| {
        let mut h = n.spawn(async { Ok::<_, Cancelled>(5) })?;
        assert_eq!((&mut h).await?, 5);
        assert!(h.is_finished(), "a joined child is finished");
        let again = (&mut h).await;
        assert!(matches!(again, Err(quartet::JoinError::AlreadyJoined)), "{again:?}");
        Ok::<_, BoxError>(())
    })
    .await?;
    Ok(())
}

#[test]
fn awaiting_a_core_join_handle_again_is_an_error_not_dropped() {
    use quartet::{Core, JoinError, PerCore, Pinning};
    let out = PerCore::new(1)
        .pin(Pinning::Off)
        .run(|core: Core| async move {
            core.nursery(async |n| {
                let mut h = n.spawn_on(0, || async { Ok::<_, BoxError>(7) })?;
                let first = (&mut h).await?;
                let again = (&mut h).await;
                Ok::<_, BoxError>((first, matches!(again, Err(JoinError::AlreadyJoined))))
            })
            .await
        })
        .unwrap();
    assert_eq!(out, [(7, true)]);
}
