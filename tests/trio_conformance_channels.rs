//! Memory-channel and sync-primitive scenarios from Trio's `_tests/test_channel.py` and
//! `_tests/test_sync.py` not covered by the `channel_*` and `sync_*` tests: cancelled rendezvous
//! sends, closing among clones while others are blocked, dropped values on break, and primitives
//! held by tasks that get cancelled. On the mock clock; "blocked" means
//! `wait_all_tasks_blocked`.

use quartet::channel::{RecvError, SendError, TryRecvError, TrySendError, channel, unbounded_channel};
use quartet::sync::{Condition, Lock, Semaphore};
use quartet::testing::wait_all_tasks_blocked;
use quartet::{BoxError, CancelScope, Cancelled, CapacityLimiter, nursery, sleep};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(3600);

#[quartet::test(mock_clock)]
async fn cancelled_rendezvous_send_returns_its_value_and_nobody_receives_it() -> Result<(), BoxError> {
    let (tx, rx) = channel::<String>(0);
    let scope = CancelScope::new();
    nursery(async |n| {
        n.spawn(async {
            let r = scope.run(async { tx.send("hello".to_owned()).await.map_err(BoxError::from) }).await;
            assert!(matches!(r, Ok(None)), "the send is cancelled");
            Ok::<_, BoxError>(())
        })?;
        wait_all_tasks_blocked().await?;
        scope.cancel();
        Ok::<_, BoxError>(())
    })
    .await?;
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    // The value comes back in the error when the caller keeps it.
    let scope = CancelScope::new();
    scope.cancel();
    let back = scope.run(async { Ok::<_, Cancelled>(tx.send("again".to_owned()).await) }).await?;
    match back {
        Some(Err(SendError::Cancelled { value, .. })) => assert_eq!(value, "again"),
        other => panic!("{other:?}"),
    }
    Ok(())
}

#[quartet::test(mock_clock)]
async fn closing_one_sender_clone_keeps_receivers_waiting_and_the_last_ends_them_all() -> Result<(), BoxError> {
    let (tx, rx) = channel::<u32>(0);
    let mut tx2 = tx.clone();
    let rx2 = rx.clone();
    let ends = Cell::new(0);
    let mut tx = Some(tx);
    nursery(async |n| {
        for r in [&rx, &rx2] {
            let ends = &ends;
            n.spawn(async move {
                assert_eq!(r.recv().await?, None);
                ends.set(ends.get() + 1);
                Ok::<_, RecvError>(())
            })?;
        }
        wait_all_tasks_blocked().await?;
        tx2.close();
        wait_all_tasks_blocked().await?;
        assert_eq!(ends.get(), 0, "one sender is still open");
        drop(tx.take());
        Ok::<_, BoxError>(())
    })
    .await?;
    assert_eq!(ends.get(), 2);
    Ok(())
}

#[quartet::test(mock_clock)]
async fn a_clone_of_a_closed_sender_is_closed_and_does_not_keep_the_channel_open() {
    let (mut tx, rx) = channel::<u32>(1);
    tx.close();
    let copy = tx.clone();
    assert!(copy.is_closed());
    assert!(matches!(copy.try_send(1), Err(TrySendError::Closed(1))));
    assert!(matches!(copy.send(2).await, Err(SendError::Closed(2))));
    assert_eq!(rx.recv().await, Ok(None), "no open sender is left");
}

struct Counted(Rc<Cell<u32>>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

#[quartet::test(mock_clock)]
async fn breaking_a_channel_drops_buffered_values_and_returns_parked_ones() -> Result<(), BoxError> {
    let dropped = Rc::new(Cell::new(0));
    let (tx, rx) = channel::<Counted>(2);
    for _ in 0..2 {
        assert!(tx.send(Counted(dropped.clone())).await.is_ok());
    }
    let returned = RefCell::new(Vec::new());
    let mut rx = Some(rx);
    nursery(async |n| {
        for _ in 0..2 {
            let (tx, returned) = (&tx, &returned);
            let dropped = dropped.clone();
            n.spawn(async move {
                match tx.send(Counted(dropped)).await {
                    Err(SendError::Broken(v)) => returned.borrow_mut().push(v),
                    other => panic!("expected Broken, got ok={}", other.is_ok()),
                }
                Ok::<_, Cancelled>(())
            })?;
        }
        wait_all_tasks_blocked().await?;
        drop(rx.take()); // the last receiver: buffered values go, parked ones come back
        Ok::<_, BoxError>(())
    })
    .await?;
    assert_eq!(dropped.get(), 2, "the two buffered values were dropped");
    assert_eq!(returned.borrow().len(), 2, "the two parked values were handed back");
    Ok(())
}

#[quartet::test(mock_clock)]
async fn unbounded_channel_keeps_order_across_receiver_clones() -> Result<(), BoxError> {
    let (tx, rx) = unbounded_channel::<u32>();
    for i in 0..1000 {
        tx.try_send(i).map_err(|e| e.to_string())?;
    }
    drop(tx);
    let rx2 = rx.clone();
    let mut got = Vec::new();
    loop {
        let (a, b) = (rx.recv().await?, rx2.recv().await?);
        got.extend(a.into_iter().chain(b));
        if got.len() == 1000 {
            break;
        }
    }
    assert!(got.iter().copied().eq(0..1000));
    assert_eq!(rx.recv().await?, None);
    Ok(())
}

#[quartet::test(mock_clock)]
async fn lock_held_by_a_task_that_is_cancelled_goes_to_the_oldest_waiter() -> Result<(), BoxError> {
    let lock = Lock::new(Vec::new());
    let holder = CancelScope::new();
    nursery(async |n| {
        n.spawn(async {
            holder
                .run(async {
                    let mut g = lock.lock().await?;
                    g.push("holder");
                    sleep(LONG).await?; // cancelled while holding the lock
                    Ok::<_, Cancelled>(())
                })
                .await
        })?;
        wait_all_tasks_blocked().await?;
        for name in ["first", "second"] {
            let lock = &lock;
            n.spawn(async move {
                lock.lock().await?.push(name);
                Ok::<_, Cancelled>(())
            })?;
            wait_all_tasks_blocked().await?;
        }
        holder.cancel();
        Ok::<_, BoxError>(())
    })
    .await?;
    assert_eq!(lock.into_inner(), ["holder", "first", "second"]);
    Ok(())
}

#[quartet::test(mock_clock)]
async fn permit_of_a_cancelled_task_is_released_to_the_waiter() -> Result<(), BoxError> {
    let sem = Semaphore::new(1);
    let holder = CancelScope::new();
    let got = Cell::new(false);
    nursery(async |n| {
        n.spawn(holder.run(async {
            let _permit = sem.acquire().await?;
            sleep(LONG).await
        }))?;
        wait_all_tasks_blocked().await?;
        n.spawn(async {
            let _p = sem.acquire().await?;
            got.set(true);
            Ok::<_, Cancelled>(())
        })?;
        wait_all_tasks_blocked().await?;
        assert_eq!(sem.statistics().waiting, 1);
        holder.cancel();
        Ok::<_, BoxError>(())
    })
    .await?;
    assert!(got.get());
    assert_eq!(sem.value(), 1);
    Ok(())
}

#[quartet::test(mock_clock)]
async fn notify_one_skips_a_waiter_that_was_cancelled() -> Result<(), BoxError> {
    let cond = Condition::new(0u32);
    let first = CancelScope::new();
    let woke = RefCell::new(Vec::new());
    nursery(async |n| {
        n.spawn(first.run(async {
            let g = cond.lock().await?;
            let _g = cond.wait(g).await?;
            woke.borrow_mut().push("first");
            Ok::<_, BoxError>(())
        }))?;
        wait_all_tasks_blocked().await?;
        n.spawn(async {
            let g = cond.lock().await?;
            let _g = cond.wait(g).await?;
            woke.borrow_mut().push("second");
            Ok::<_, BoxError>(())
        })?;
        wait_all_tasks_blocked().await?;
        first.cancel();
        wait_all_tasks_blocked().await?;
        assert_eq!(cond.statistics().waiting, 1, "the cancelled waiter left the queue");
        assert!(cond.notify_one(), "the notification goes to the remaining waiter");
        Ok::<_, BoxError>(())
    })
    .await?;
    assert_eq!(*woke.borrow(), ["second"]);
    Ok(())
}

#[quartet::test(mock_clock)]
async fn limiter_with_total_zero_blocks_until_raised_and_cancel_leaves_no_borrower() -> Result<(), BoxError> {
    let limiter = CapacityLimiter::new(0);
    let scope = CancelScope::new();
    nursery(async |n| {
        n.spawn(scope.run(async { limiter.acquire().await.map(drop) }))?;
        n.spawn(async {
            let t = limiter.acquire().await?;
            assert_eq!(limiter.borrowers(), [t.borrower()]);
            Ok::<_, Cancelled>(())
        })?;
        wait_all_tasks_blocked().await?;
        assert_eq!(limiter.stats().waiting, 2);
        scope.cancel();
        wait_all_tasks_blocked().await?;
        assert_eq!(limiter.stats().waiting, 1);
        limiter.set_total(1);
        Ok::<_, BoxError>(())
    })
    .await?;
    assert_eq!((limiter.borrowed(), limiter.borrowers().len()), (0, 0));
    Ok(())
}

/// Trio `test_channel.py::test_553`: a receive cancelled by a timeout leaves no ghost waiter
/// that would swallow the next value.
#[quartet::test(mock_clock)]
async fn test_553_timed_out_receive_leaves_no_ghost_waiter() -> Result<(), BoxError> {
    let (tx, rx) = channel::<&str>(1);
    let r = quartet::move_on_after(Duration::from_secs(10), async { rx.recv().await.map_err(BoxError::from) }).await?;
    assert_eq!(r, None);
    tx.send("Test for PR #553").await.map_err(|e| e.to_string())?;
    assert_eq!(rx.try_recv(), Ok("Test for PR #553"));
    Ok(())
}

/// Trio `test_channel.py::test_channel_fairness`: a waiting receiver owns the value sent to it;
/// a waiting sender owns the slot freed for it.
#[quartet::test(mock_clock)]
async fn test_channel_fairness_waiters_own_what_is_freed_for_them() -> Result<(), BoxError> {
    let (tx, rx) = channel::<u32>(1);
    tx.try_send(1).map_err(|e| e.to_string())?;
    assert_eq!(rx.try_recv(), Ok(1));
    tx.try_send(2).map_err(|e| e.to_string())?;
    assert_eq!(rx.try_recv(), Ok(2));
    let result = Cell::new(None);
    nursery(async |n| {
        n.spawn(async {
            result.set(rx.recv().await?);
            Ok::<_, RecvError>(())
        })?;
        wait_all_tasks_blocked().await?;
        tx.try_send(2).map_err(|e| e.to_string())?;
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty), "the waiting receiver owns it");
        Ok::<_, BoxError>(())
    })
    .await?;
    assert_eq!(result.get(), Some(2));

    let (tx, rx) = channel::<u32>(1);
    tx.try_send(1).map_err(|e| e.to_string())?;
    assert!(matches!(tx.try_send(9), Err(TrySendError::Full(9))));
    nursery(async |n| {
        n.spawn(async { tx.send(2).await.map_err(|e| e.to_string()) })?;
        wait_all_tasks_blocked().await?;
        assert_eq!(rx.try_recv(), Ok(1));
        assert!(matches!(tx.try_send(3), Err(TrySendError::Full(3))), "the waiting sender owns the slot");
        assert_eq!(rx.recv().await?, Some(2));
        Ok::<_, BoxError>(())
    })
    .await?;
    Ok(())
}

/// Trio `test_channel.py::test_unbuffered`.
#[quartet::test(mock_clock)]
async fn test_unbuffered_rendezvous() -> Result<(), BoxError> {
    let (tx, rx) = channel::<u32>(0);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    assert!(matches!(tx.try_send(1), Err(TrySendError::Full(1))));
    nursery(async |n| {
        n.spawn(async { tx.send(1).await.map_err(|e| e.to_string()) })?;
        assert_eq!(rx.recv().await?, Some(1));
        Ok::<_, BoxError>(())
    })
    .await?;
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    Ok(())
}

/// Trio's `test_statistics`, translated: counts of handles, the buffer's high-water mark, and
/// parked tasks, which a cancellation takes out again.
#[test]
fn trio_test_statistics() {
    quartet::run(async {
        let (tx, rx) = quartet::channel::<()>(2);
        let s = tx.statistics();
        assert_eq!(s, rx.statistics());
        assert_eq!((s.buffer_used, s.capacity, s.senders, s.receivers), (0, Some(2), 1, 1));
        assert_eq!((s.waiting_senders, s.waiting_receivers, s.peak_buffer_used), (0, 0, 0));
        tx.try_send(()).unwrap();
        assert_eq!((tx.statistics().buffer_used, tx.statistics().peak_buffer_used), (1, 1));
        let mut tx1 = tx;
        let tx2 = tx1.clone();
        assert_eq!(tx2.statistics().senders, 2);
        tx1.close();
        assert_eq!(tx2.statistics().senders, 1);
        let mut rx2 = rx.clone();
        assert_eq!(tx2.statistics().receivers, 2);
        rx2.close();
        assert_eq!(tx2.statistics().receivers, 1);
        quartet::nursery(async |n| {
            tx2.try_send(()).unwrap();
            assert_eq!((tx2.statistics().buffer_used, tx2.statistics().peak_buffer_used), (2, 2));
            for _ in 0..2 {
                let tx2 = &tx2;
                n.spawn(async move { tx2.send(()).await.map_err(quartet::BoxError::from) })?;
            }
            quartet::testing::wait_all_tasks_blocked().await?;
            assert_eq!(tx2.statistics().waiting_senders, 2);
            n.cancel();
            Ok::<_, quartet::BoxError>(())
        })
        .await
        .unwrap();
        assert_eq!(tx2.statistics().waiting_senders, 0);
        while rx.try_recv().is_ok() {}
        assert_eq!((tx2.statistics().buffer_used, tx2.statistics().peak_buffer_used), (0, 2), "the mark stays");
        quartet::nursery(async |n| {
            let rx = &rx;
            n.spawn(async move { rx.recv().await.map(drop).map_err(quartet::BoxError::from) })?;
            quartet::testing::wait_all_tasks_blocked().await?;
            assert_eq!(tx2.statistics().waiting_receivers, 1);
            n.cancel();
            Ok::<_, quartet::BoxError>(())
        })
        .await
        .unwrap();
        assert_eq!(tx2.statistics().waiting_receivers, 0);
    })
    .unwrap();
}

/// Trio's `test_receive_channel_clone_and_close`: the channel stays open while any receiver
/// clone is open, and breaks when the last one closes.
#[test]
fn trio_test_receive_channel_clone_and_close() {
    let (tx, mut r) = quartet::channel::<()>(10);
    let r2 = r.clone();
    let mut r3 = r.clone();
    tx.try_send(()).unwrap();
    r.close();
    drop(r2);
    let r4 = r.clone();
    assert!(r4.is_closed(), "a clone of a closed receiver is closed");
    assert_eq!(r4.try_recv(), Err(quartet::channel::TryRecvError::Closed));
    tx.try_send(()).unwrap(); // r3 is still open
    r3.close();
    assert!(matches!(tx.try_send(()), Err(quartet::channel::TrySendError::Broken(()))));
}
