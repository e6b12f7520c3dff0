//! Ported from Trio's `test_sync.py` (`test_Lock_and_StrictFIFOLock`: "attempt to re-acquire an
//! already held Lock") and `test_run.py` (`test_cancel_scope_misnesting`-style re-entry), plus
//! hostile use around them: a lock the calling task already holds is refused at once instead of
//! deadlocking; a cancel scope run inside its own block is refused on entry, also when the nested
//! block has no checkpoint.

use quartet::sync::{Condition, Lock};
use quartet::{BoxError, CancelScope, Cancelled, NurseryError, OpError, Reason, move_on_after, nursery, sleep};
use std::time::Duration;

fn is_reacquire(c: &Cancelled) -> bool {
    c.reason() == &Reason::LockReacquired && !quartet::is_cancellation(c)
}

/// Trio: `with pytest.raises(RuntimeError): await l.acquire()` while holding it. quartet: a typed
/// misuse error at once (it used to wait for itself forever: the scope below moved on instead).
#[quartet::test(mock_clock)]
async fn lock_reacquired_by_its_holder_is_refused_not_a_deadlock() -> Result<(), BoxError> {
    let lock = Lock::new(0);
    let mut guard = lock.lock().await?;
    let again = move_on_after(Duration::from_secs(10), async { Ok::<_, Cancelled>(lock.lock().await.map(drop)) }).await;
    let Ok(Some(Err(c))) = &again else { panic!("re-acquire by the holder: {again:?}") };
    assert!(is_reacquire(c), "{c:?}");
    *guard += 1;
    assert_eq!(lock.statistics().waiting, 0, "the refused acquire left no waiter behind");
    drop(guard);
    assert_eq!(*lock.lock().await?, 1, "released normally afterwards");
    // try_lock by the holder is a plain WouldBlock (it cannot deadlock).
    let g = lock.try_lock()?;
    assert!(lock.try_lock().is_err());
    drop(g);
    Ok(())
}

/// The same through a `Condition`'s lock, and after a `wait` handed the lock back to the task.
#[quartet::test(mock_clock)]
async fn condition_lock_reacquired_by_its_holder_is_refused() -> Result<(), BoxError> {
    let cond = Condition::new(());
    nursery(async |n| {
        let cond = &cond;
        n.spawn(async move {
            let g = cond.lock().await?;
            let g = cond.wait(g).await?;
            let again = cond.lock().await;
            assert!(matches!(&again, Err(c) if is_reacquire(c)), "{again:?}");
            drop(g);
            Ok::<_, BoxError>(())
        })?;
        quartet::testing::wait_all_tasks_blocked().await?;
        let g = cond.lock().await?;
        assert_eq!(cond.notify_all(), 1);
        drop(g);
        Ok::<_, BoxError>(())
    })
    .await?;
    Ok(())
}

/// Not refused: a lock handed to a waiting task, then asked for again by the task that released
/// it before the new holder ran; and a lock held by another task. Both wait, in order.
#[quartet::test(mock_clock)]
async fn lock_released_and_asked_again_or_held_by_another_task_waits() -> Result<(), BoxError> {
    let lock = Lock::new(Vec::new());
    nursery(async |n| {
        let lock = &lock;
        let g = lock.lock().await?;
        n.spawn(async move {
            lock.lock().await?.push("child");
            Ok::<_, Cancelled>(())
        })?;
        quartet::testing::wait_all_tasks_blocked().await?;
        assert_eq!(lock.statistics().waiting, 1);
        drop(g); // handed to the child, which has not run yet
        let mut again = lock.lock().await?; // waits behind the child, not refused
        again.push("parent");
        Ok::<_, BoxError>(())
    })
    .await?;
    assert_eq!(*lock.lock().await?, ["child", "parent"]);
    Ok(())
}

/// A lock held by a child task: the parent waits for it (different tasks), and the child's own
/// second acquire is refused.
#[quartet::test(mock_clock)]
async fn lock_holder_is_the_child_task_not_its_parent() -> Result<(), BoxError> {
    let lock = Lock::new(0u8);
    nursery(async |n| {
        let lock = &lock;
        n.spawn(async move {
            let _g = lock.lock().await?;
            let again = lock.lock().await;
            assert!(matches!(&again, Err(c) if is_reacquire(c)), "{again:?}");
            sleep(Duration::from_secs(1)).await?;
            Ok::<_, Cancelled>(())
        })?;
        quartet::testing::wait_all_tasks_blocked().await?;
        *lock.lock().await? += 1; // the parent waits for the child's guard
        Ok::<_, BoxError>(())
    })
    .await?;
    assert_eq!(*lock.lock().await?, 1);
    Ok(())
}

/// A lock held on one runtime's root future and asked for by another runtime's root future (each
/// thread's root is its own task): a plain wait, served when the guard goes.
#[test]
fn lock_held_by_another_threads_root_future_is_waited_for() {
    let lock = std::sync::Arc::new(Lock::new(0u32));
    let held = std::sync::Arc::new(std::sync::Barrier::new(2));
    let (l2, h2) = (lock.clone(), held.clone());
    let other = std::thread::spawn(move || {
        quartet::run(async move {
            let mut g = l2.lock().await?;
            h2.wait();
            std::thread::sleep(Duration::from_millis(20));
            *g += 1;
            Ok::<_, Cancelled>(())
        })
    });
    held.wait();
    let got = quartet::run(async { lock.lock().await.map(|g| *g) }).unwrap();
    assert_eq!(got, Ok(1));
    other.join().unwrap().unwrap().unwrap();
}

/// Trio refuses `with scope: with scope:` on entry. quartet used to run the nested block and let
/// it fail at its first checkpoint, so a block without checkpoints finished silently; now the
/// nested run is refused before its body runs, for every error type that can hold the refusal.
#[quartet::test]
async fn scope_reentered_without_a_checkpoint_is_refused_on_entry() {
    let scope = CancelScope::new();
    let ran = std::cell::Cell::new(0);
    let out = scope
        .run(async {
            let inner = scope
                .run(async {
                    ran.set(ran.get() + 1);
                    Ok::<_, Cancelled>(1)
                })
                .await;
            assert!(matches!(&inner, Err(c) if c.reason() == &Reason::ScopeReentered), "{inner:?}");
            let op = scope.run(async { Ok::<_, OpError>(ran.replace(ran.get() + 1)) }).await;
            assert!(op.as_ref().is_err_and(|e| !quartet::is_cancellation(e)), "{op:?}");
            let io = scope.run(async { Ok::<_, std::io::Error>(ran.replace(ran.get() + 1)) }).await;
            assert!(io.is_err(), "{io:?}");
            let boxed = scope.run(async { Ok::<_, BoxError>(ran.replace(ran.get() + 1)) }).await;
            let err = boxed.unwrap_err();
            assert!(err.to_string().contains("own active block"), "{err}");
            let nursery_err = scope.run(async { Ok::<_, NurseryError>(ran.replace(ran.get() + 1)) }).await;
            assert!(nursery_err.is_err_and(|e| !e.is_cancelled()));
            Ok::<_, Cancelled>(())
        })
        .await;
    assert_eq!(out, Ok(Some(())));
    assert_eq!(ran.get(), 0, "no nested body ran");
    assert!(!scope.cancel_called(), "the refusal does not cancel the scope");
}

/// An error type that cannot hold the refusal: the nested body runs, but every checkpoint in it
/// reports the refusal (the behaviour for such types is unchanged).
#[quartet::test]
async fn scope_reentered_with_a_foreign_error_type_fails_its_checkpoints() {
    #[derive(Debug)]
    struct Mine(#[allow(dead_code)] Cancelled);
    impl std::fmt::Display for Mine {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("mine")
        }
    }
    impl std::error::Error for Mine {}
    let scope = CancelScope::new();
    let out = scope
        .run(async {
            let inner = scope.run(async { quartet::checkpoint().await.map_err(Mine) }).await;
            assert!(matches!(&inner, Err(Mine(c)) if c.reason() == &Reason::ScopeReentered), "{inner:?}");
            Ok::<_, Cancelled>(())
        })
        .await;
    assert_eq!(out, Ok(Some(())));
}
