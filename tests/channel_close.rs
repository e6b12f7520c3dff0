//! Channel handles: cloning and closing, end-of-channel, broken channels, `try_` variants,
//! statistics and the `Stream` impl.
use futures_core::Stream;
use quartet::channel::{RecvError, SendError, TryRecvError, TrySendError};
use quartet::{BoxError, CancelScope, SpawnError, channel, nursery, run, unbounded_channel};
use std::cell::RefCell;
use std::future::poll_fn;
use std::pin::Pin;

#[test]
fn receivers_see_end_only_after_every_sender_clone_is_closed() {
    run(async {
        let (tx, rx) = channel::<u32>(4);
        let mut tx2 = tx.clone();
        let tx3 = tx.clone();
        tx.send(1).await?;
        drop(tx);
        tx2.close();
        tx3.try_send(2)?;
        assert_eq!(rx.try_recv(), Ok(1));
        assert_eq!(rx.try_recv(), Ok(2));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty), "one sender clone is still open");
        assert_eq!(rx.statistics().senders, 1);
        drop(tx3);
        assert_eq!(rx.try_recv(), Err(TryRecvError::EndOfChannel));
        assert_eq!(rx.recv().await?, None);
        Ok::<_, BoxError>(())
    })
    .unwrap()
    .unwrap();
}

#[test]
fn buffered_values_are_drained_before_the_end() {
    run(async {
        let (tx, rx) = channel::<u32>(3);
        for i in 0..3 {
            tx.send(i).await?;
        }
        drop(tx);
        let mut got = Vec::new();
        while let Some(v) = rx.recv().await? {
            got.push(v);
        }
        assert_eq!(got, [0, 1, 2]);
        Ok::<_, BoxError>(())
    })
    .unwrap()
    .unwrap();
}

#[test]
fn last_receiver_close_wakes_a_waiting_sender_with_its_value() {
    let outcome = RefCell::new(None);
    run(async {
        let (tx, rx) = channel::<String>(0);
        let rx2 = rx.clone();
        nursery(async |n| {
            let outcome = &outcome;
            n.spawn(async move {
                let r = tx.send("hello".to_string()).await;
                *outcome.borrow_mut() = Some(r);
                Ok::<_, BoxError>(())
            })?;
            quartet::yield_now().await; // the sender parks
            assert_eq!(rx.statistics().waiting_senders, 1);
            drop(rx);
            assert_eq!(rx2.statistics().waiting_senders, 1, "one receiver is still open");
            let mut rx2 = rx2;
            rx2.close();
            Ok::<_, SpawnError>(())
        })
        .await
    })
    .unwrap()
    .unwrap();
    match outcome.into_inner() {
        Some(Err(SendError::Broken(v))) => assert_eq!(v, "hello"),
        other => panic!("expected Broken with the value, got {other:?}"),
    }
}

#[test]
fn sends_to_a_channel_without_receivers_fail_with_the_value() {
    run(async {
        let (tx, rx) = channel::<u32>(8);
        tx.send(1).await.unwrap();
        drop(rx);
        assert_eq!(tx.statistics().buffer_used, 0, "buffered values are dropped with the last receiver");
        assert!(matches!(tx.send(5).await, Err(SendError::Broken(5))));
        assert!(matches!(tx.try_send(6), Err(TrySendError::Broken(6))));
    })
    .unwrap();
}

#[test]
fn closed_handles_refuse_use_but_other_clones_keep_working() {
    run(async {
        let (mut tx, mut rx) = channel::<u32>(2);
        let tx2 = tx.clone();
        let rx2 = rx.clone();
        tx.close();
        tx.close(); // idempotent
        assert!(tx.is_closed() && !tx2.is_closed());
        assert!(matches!(tx.send(1).await, Err(SendError::Closed(1))));
        assert!(matches!(tx.try_send(2), Err(TrySendError::Closed(2))));
        assert!(tx.clone().is_closed(), "a clone of a closed handle is closed");
        tx2.send(3).await.unwrap();
        rx.close();
        assert_eq!(rx.recv().await, Err(RecvError::Closed));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
        assert_eq!(rx2.recv().await, Ok(Some(3)));
        assert_eq!(rx2.statistics().receivers, 1);
    })
    .unwrap();
}

#[test]
fn try_send_and_try_recv_respect_capacity_and_rendezvous() {
    run(async {
        let (tx, rx) = channel::<u32>(1);
        tx.try_send(1).unwrap();
        assert!(matches!(tx.try_send(2), Err(TrySendError::Full(2))));
        assert_eq!(rx.try_recv(), Ok(1));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));

        let (tx0, rx0) = channel::<u32>(0);
        assert!(matches!(tx0.try_send(1), Err(TrySendError::Full(1))), "no receiver waits");
        let got = RefCell::new(None);
        nursery(async |n| {
            let got = &got;
            let rx0 = &rx0;
            n.spawn(async move {
                *got.borrow_mut() = rx0.recv().await?;
                Ok::<_, RecvError>(())
            })?;
            quartet::yield_now().await; // the receiver parks
            tx0.try_send(9).map_err(|_| "a receiver is waiting")?;
            Ok::<_, BoxError>(())
        })
        .await
        .unwrap();
        assert_eq!(got.into_inner(), Some(9));
    })
    .unwrap();
}

#[test]
fn statistics_report_buffer_peak_and_waiters() {
    run(async {
        let (tx, rx) = channel::<u32>(3);
        let s = tx.statistics();
        assert_eq!((s.buffer_used, s.capacity, s.peak_buffer_used, s.senders, s.receivers), (0, Some(3), 0, 1, 1));
        tx.send(1).await.unwrap();
        tx.send(2).await.unwrap();
        rx.recv().await.unwrap();
        let s = rx.statistics();
        assert_eq!((s.buffer_used, s.peak_buffer_used), (1, 2));
        rx.recv().await.unwrap();
        nursery(async |n| {
            for _ in 0..2 {
                let rx = rx.clone();
                n.spawn(async move { rx.recv().await.map(drop) })?;
            }
            quartet::yield_now().await;
            let s = tx.statistics();
            assert_eq!((s.waiting_receivers, s.waiting_senders, s.receivers), (2, 0, 3));
            tx.send(1).await?;
            tx.send(2).await?;
            Ok::<_, BoxError>(())
        })
        .await
        .unwrap();
        assert_eq!(unbounded_channel::<u8>().0.statistics().capacity, None);
    })
    .unwrap();
}

#[test]
fn unbounded_sends_never_wait() {
    run(async {
        let (tx, rx) = unbounded_channel::<u32>();
        for i in 0..10_000 {
            tx.send(i).await.unwrap();
        }
        assert_eq!(rx.statistics().buffer_used, 10_000);
        assert_eq!(rx.try_recv(), Ok(0));
    })
    .unwrap();
}

async fn next<S: Stream + Unpin>(s: &mut S) -> Option<S::Item> {
    poll_fn(|cx| Pin::new(&mut *s).poll_next(cx)).await
}

#[test]
fn receiver_is_a_stream_that_ends_with_the_channel() {
    run(async {
        let (tx, mut rx) = channel::<u32>(2);
        nursery(async |n| {
            n.spawn(async move {
                for i in 0..5 {
                    tx.send(i).await?;
                }
                Ok::<_, SendError<u32>>(())
            })?;
            let mut got = Vec::new();
            while let Some(v) = next(&mut rx).await {
                got.push(v?);
            }
            assert_eq!(got, [0, 1, 2, 3, 4]);
            assert!(next(&mut rx).await.is_none(), "stays ended");
            Ok::<_, BoxError>(())
        })
        .await
        .unwrap();
    })
    .unwrap();
}

#[test]
fn stream_reports_cancellation_and_takes_nothing() {
    run(async {
        let (tx, mut rx) = channel::<u32>(1);
        tx.send(1).await.unwrap();
        let scope = CancelScope::new();
        scope.cancel();
        let mut item = None;
        scope
            .run(async {
                item = next(&mut rx).await;
                Ok::<_, RecvError>(())
            })
            .await
            .unwrap();
        assert!(matches!(item, Some(Err(RecvError::Cancelled(_)))), "{item:?}");
        assert_eq!(next(&mut rx).await, Some(Ok(1)), "the value is still there");
        rx.close();
        assert_eq!(next(&mut rx).await, None, "a closed handle's stream ends");
    })
    .unwrap();
}

#[test]
fn channel_halves_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<quartet::Sender<String>>();
    check::<quartet::Receiver<String>>();
}

#[test]
fn halves_work_across_runtime_threads() {
    let (tx, rx) = channel::<u64>(0);
    let producer = std::thread::spawn(move || {
        run(async move {
            for i in 0..1000 {
                tx.send(i).await.unwrap();
            }
        })
        .unwrap()
    });
    let sum = run(async move {
        let mut sum = 0;
        while let Some(v) = rx.recv().await.unwrap() {
            sum += v;
        }
        sum
    })
    .unwrap();
    producer.join().unwrap();
    assert_eq!(sum, 999 * 1000 / 2);
}
