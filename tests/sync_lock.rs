//! `Lock`: FIFO hand-off, `try_lock`, statistics, guard hand-over on drop, and use from several
//! runtime threads.
use quartet::sync::{Lock, WouldBlock};
use quartet::{BoxError, Cancelled, nursery, run, yield_now};
use std::cell::RefCell;
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Waker};

#[test]
fn waiters_get_the_lock_in_the_order_they_started_waiting() {
    let order = RefCell::new(Vec::new());
    run(async {
        let lock = Lock::new(());
        nursery(async |n| {
            let guard = lock.lock().await?;
            for id in 0..6 {
                let (lock, order) = (&lock, &order);
                n.spawn(async move {
                    let _g = lock.lock().await?;
                    order.borrow_mut().push(id);
                    yield_now().await; // hold it across a yield: others must keep waiting
                    Ok::<_, Cancelled>(())
                })?;
            }
            yield_now().await;
            assert_eq!(lock.statistics().waiting, 6);
            drop(guard);
            Ok::<_, BoxError>(())
        })
        .await
    })
    .unwrap()
    .unwrap();
    assert_eq!(order.into_inner(), [0, 1, 2, 3, 4, 5]);
}

#[test]
fn release_hands_the_lock_to_the_waiter_so_a_newcomer_cannot_barge_in() {
    run(async {
        let lock = Lock::new(0);
        nursery(async |n| {
            let guard = lock.lock().await?;
            let lock = &lock;
            n.spawn(async move {
                *lock.lock().await? += 1;
                Ok::<_, Cancelled>(())
            })?;
            yield_now().await;
            drop(guard);
            assert!(lock.is_locked(), "ownership went straight to the waiter");
            assert_eq!(lock.try_lock().err(), Some(WouldBlock));
            assert_eq!(*lock.lock().await?, 1, "the waiter ran first");
            Ok::<_, BoxError>(())
        })
        .await
    })
    .unwrap()
    .unwrap();
}

#[test]
fn try_lock_and_statistics_reflect_the_state() {
    let lock = Lock::new(vec![1]);
    let s = lock.statistics();
    assert!(!s.locked && s.waiting == 0);
    {
        let mut g = lock.try_lock().unwrap();
        g.push(2);
        assert!(lock.statistics().locked);
        assert!(lock.try_lock().is_err());
    }
    assert!(!lock.is_locked());
    let mut lock = lock;
    lock.get_mut().push(3);
    assert_eq!(lock.into_inner(), [1, 2, 3]);
}

#[test]
fn dropping_an_acquire_that_was_handed_the_lock_passes_it_on() {
    let lock = Lock::new(());
    let mut cx = Context::from_waker(Waker::noop());
    let guard = lock.try_lock().unwrap();
    let mut first = Box::pin(lock.lock());
    let mut second = Box::pin(lock.lock());
    assert!(first.as_mut().poll(&mut cx).is_pending());
    assert!(second.as_mut().poll(&mut cx).is_pending());
    drop(guard); // handed to `first`
    assert_eq!(lock.statistics().waiting, 1);
    drop(first); // never returned the guard: must pass the lock to `second`
    assert!(lock.is_locked());
    assert!(matches!(second.as_mut().poll(&mut cx), std::task::Poll::Ready(Ok(_))));
    assert!(!lock.is_locked(), "the returned guard was dropped");
}

#[test]
fn lock_is_shared_by_runtimes_on_several_threads() {
    let lock = Arc::new(Lock::new(0u64));
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let lock = lock.clone();
            std::thread::spawn(move || {
                run(async move {
                    for _ in 0..2000 {
                        let mut g = lock.lock().await?;
                        let v = *g;
                        yield_now().await; // hold the lock across a yield
                        *g = v + 1;
                    }
                    Ok::<_, Cancelled>(())
                })
                .unwrap()
                .unwrap()
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(*lock.try_lock().unwrap(), 4000);
}

#[test]
fn lock_and_guard_are_thread_safe_types() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Lock<Vec<u8>>>();
    send_sync::<quartet::sync::LockGuard<'static, Vec<u8>>>();
}
