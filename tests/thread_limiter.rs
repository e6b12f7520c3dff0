//! `CapacityLimiter`: FIFO fairness, adjustable total, statistics, borrowers, cancellation.

use quartet::thread::{AcquireError, Borrower, TryAcquireError};
use quartet::{CancelScope, Cancelled, CapacityLimiter, SpawnError, nursery, run, sleep};
use std::cell::RefCell;
use std::time::Duration;

use crate::thread_support;
use thread_support::until;

#[test]
fn waiters_get_tokens_in_fifo_order() {
    let order = RefCell::new(Vec::new());
    run(async {
        let limiter = CapacityLimiter::new(1);
        let held = limiter.try_acquire().unwrap();
        nursery(async |n| {
            for i in 0..5 {
                let (limiter, order) = (&limiter, &order);
                n.spawn(async move {
                    let token = limiter.acquire().await?;
                    order.borrow_mut().push(i);
                    sleep(Duration::from_millis(1)).await?;
                    drop(token);
                    Ok::<_, Cancelled>(())
                })?;
            }
            until(|| limiter.stats().waiting == 5).await;
            drop(held);
            Ok::<_, SpawnError>(())
        })
        .await
        .unwrap();
    })
    .unwrap();
    assert_eq!(*order.borrow(), vec![0, 1, 2, 3, 4]);
}

#[test]
fn raising_total_wakes_waiters_and_lowering_keeps_borrowers() {
    run(async {
        let limiter = CapacityLimiter::new(1);
        let first = limiter.try_acquire().unwrap();
        let got = RefCell::new(Vec::new());
        nursery(async |n| {
            for _ in 0..2 {
                let (limiter, got) = (&limiter, &got);
                n.spawn(async move {
                    let token = limiter.acquire().await?;
                    got.borrow_mut().push(token);
                    Ok::<_, Cancelled>(())
                })?;
            }
            until(|| limiter.stats().waiting == 2).await;
            limiter.set_total(3);
            Ok::<_, SpawnError>(())
        })
        .await
        .unwrap();
        assert_eq!(limiter.stats().borrowed, 3);
        limiter.set_total(1);
        assert_eq!(limiter.available(), 0);
        let mut got = got.into_inner();
        got.pop();
        got.pop();
        // 1 borrowed, total 1: still nothing free
        assert!(matches!(limiter.try_acquire(), Err(TryAcquireError::NoCapacity { total: 1 })));
        drop(first);
        assert!(limiter.try_acquire().is_ok());
    })
    .unwrap();
}

#[test]
fn stats_report_borrowed_total_and_waiting() {
    run(async {
        let limiter = CapacityLimiter::new(2);
        let a = limiter.try_acquire().unwrap();
        let b = limiter.try_acquire().unwrap();
        nursery(async |n| {
            n.spawn(async {
                let _t = limiter.acquire().await?;
                Ok::<_, Cancelled>(())
            })?;
            until(|| limiter.stats().waiting == 1).await;
            let s = limiter.stats();
            assert_eq!((s.borrowed, s.total, s.waiting), (2, 2, 1));
            let mut borrowers = limiter.borrowers();
            borrowers.sort_by_key(|b| b.id());
            let mut expect = vec![a.borrower(), b.borrower()];
            expect.sort_by_key(|b| b.id());
            assert_eq!(borrowers, expect);
            drop(a);
            Ok::<_, SpawnError>(())
        })
        .await
        .unwrap();
        drop(b);
        assert_eq!(limiter.stats().borrowed, 0);
    })
    .unwrap();
}

#[test]
fn borrower_cannot_hold_two_tokens() {
    run(async {
        let limiter = CapacityLimiter::new(5);
        let me = Borrower::new();
        let _t = limiter.acquire_on_behalf_of(me).await.unwrap();
        assert_eq!(limiter.try_acquire_on_behalf_of(me).unwrap_err(), TryAcquireError::AlreadyBorrowing(me));
        assert_eq!(limiter.acquire_on_behalf_of(me).await.unwrap_err(), AcquireError::AlreadyBorrowing(me));
        assert_eq!(limiter.borrowed(), 1);
    })
    .unwrap();
}

#[test]
fn acquire_in_cancelled_scope_holds_nothing_even_with_free_tokens() {
    run(async {
        let limiter = CapacityLimiter::new(1);
        let scope = CancelScope::new();
        scope.cancel();
        let out = scope.run(async { limiter.acquire().await.map(drop) }).await;
        assert!(matches!(out, Ok(None)));
        assert_eq!(limiter.stats().borrowed, 0);
    })
    .unwrap();
}

#[test]
fn cancelled_waiter_leaves_the_queue() {
    run(async {
        let limiter = CapacityLimiter::new(1);
        let held = limiter.try_acquire().unwrap();
        let out = quartet::move_on_after(Duration::from_millis(10), async { limiter.acquire().await.map(drop) }).await;
        assert!(matches!(out, Ok(None)));
        assert_eq!(limiter.stats().waiting, 0);
        drop(held);
        assert_eq!(limiter.stats().borrowed, 0);
    })
    .unwrap();
}

#[test]
fn token_handed_to_cancelled_waiter_goes_to_the_next() {
    run(async {
        let limiter = CapacityLimiter::new(1);
        let held = limiter.try_acquire().unwrap();
        let first_scope = CancelScope::new();
        let (mut first, mut second) = (None, None);
        nursery(async |n| {
            let (lim, scope, first) = (&limiter, &first_scope, &mut first);
            n.spawn(async move {
                *first = Some(scope.run(async { lim.acquire().await.map(drop) }).await);
                Ok::<_, Cancelled>(())
            })?;
            until(|| limiter.stats().waiting == 1).await;
            let (limiter2, second) = (&limiter, &mut second);
            n.spawn(async move {
                let t = limiter2.acquire().await?;
                *second = Some(t.borrower());
                Ok::<_, Cancelled>(())
            })?;
            until(|| limiter.stats().waiting == 2).await;
            // In one step: the release hands the token to the first waiter, which is then
            // cancelled before it is polled again.
            drop(held);
            first_scope.cancel();
            Ok::<_, SpawnError>(())
        })
        .await
        .unwrap();
        assert!(matches!(first, Some(Ok(None))), "the first waiter was cancelled: {first:?}");
        assert!(second.is_some(), "the token went on to the second waiter");
        assert_eq!(limiter.stats().borrowed, 0);
    })
    .unwrap();
}

#[test]
fn release_on_another_thread_wakes_waiter() {
    run(async {
        let limiter = CapacityLimiter::new(1);
        let held = limiter.try_acquire().unwrap();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(10));
            drop(held);
        });
        let token = limiter.acquire().await.unwrap();
        assert_eq!(limiter.borrowed(), 1);
        drop(token);
        t.join().unwrap();
    })
    .unwrap();
}
