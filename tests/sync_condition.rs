//! `Condition`: waiting releases the lock, notifications go to the oldest waiters, notified
//! waiters get the lock back in order, and a foreign guard is refused.
use quartet::sync::{Condition, Lock, WaitError};
use quartet::{BoxError, SpawnError, nursery, run, yield_now};
use std::cell::RefCell;

#[test]
fn notify_one_wakes_waiters_oldest_first() {
    let order = RefCell::new(Vec::new());
    run(async {
        let cond = Condition::new(0u32);
        nursery(async |n| {
            for id in 0..4 {
                let (cond, order) = (&cond, &order);
                n.spawn(async move {
                    let mut g = cond.lock().await?;
                    g = cond.wait(g).await?;
                    *g += 1;
                    order.borrow_mut().push(id);
                    Ok::<_, WaitError>(())
                })?;
            }
            // each waiter gets the lock only after the previous one released it by waiting
            while cond.statistics().waiting < 4 {
                yield_now().await;
            }
            for done in 1..=4 {
                assert!(cond.notify_one());
                while order.borrow().len() < done {
                    yield_now().await;
                }
            }
            assert!(!cond.notify_one(), "nobody left");
            Ok::<_, SpawnError>(())
        })
        .await?;
        assert_eq!(cond.into_inner(), 4);
        Ok::<_, BoxError>(())
    })
    .unwrap()
    .unwrap();
    assert_eq!(order.into_inner(), [0, 1, 2, 3]);
}

#[test]
fn notified_waiters_get_the_lock_after_the_notifier_releases_it_in_order() {
    let order = RefCell::new(Vec::new());
    run(async {
        let cond = Condition::new(Vec::new());
        nursery(async |n| {
            for id in 0..3 {
                let (cond, order) = (&cond, &order);
                n.spawn(async move {
                    let mut g = cond.lock().await?;
                    while g.is_empty() {
                        g = cond.wait(g).await?;
                    }
                    order.borrow_mut().push(id);
                    Ok::<_, WaitError>(())
                })?;
            }
            while cond.statistics().waiting < 3 {
                yield_now().await;
            }
            let mut g = cond.lock().await?;
            g.push(1);
            assert_eq!(cond.notify_all(), 3);
            let s = cond.statistics();
            assert_eq!((s.waiting, s.lock.waiting, s.lock.locked), (0, 3, true), "moved to the lock's queue");
            drop(g);
            Ok::<_, BoxError>(())
        })
        .await
    })
    .unwrap()
    .unwrap();
    assert_eq!(order.into_inner(), [0, 1, 2]);
}

#[test]
fn notify_without_the_lock_hands_it_to_the_waiter() {
    run(async {
        let cond = Condition::new(false);
        nursery(async |n| {
            let cond = &cond;
            n.spawn(async move {
                let mut g = cond.lock().await?;
                while !*g {
                    g = cond.wait(g).await?;
                }
                Ok::<_, WaitError>(())
            })?;
            while cond.statistics().waiting < 1 {
                yield_now().await;
            }
            // set the flag through try_lock, then notify after releasing
            *cond.try_lock().map_err(|_| "free")? = true;
            assert!(cond.notify_one());
            assert!(cond.statistics().lock.locked, "the waiter was handed the free lock");
            Ok::<_, BoxError>(())
        })
        .await
    })
    .unwrap()
    .unwrap();
}

#[test]
fn wait_with_a_guard_of_another_lock_is_refused_and_releases_it() {
    run(async {
        let cond = Condition::new(());
        let other = Lock::new(());
        let g = other.lock().await.unwrap();
        assert_eq!(cond.wait(g).await.err(), Some(WaitError::ForeignGuard));
        assert!(!other.is_locked());
    })
    .unwrap();
}
