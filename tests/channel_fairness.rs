//! Channel fairness and checkpoints: waiters are served in the order they started waiting,
//! values keep their order, and every send/receive is a checkpoint.
use quartet::channel::{RecvError, SendError};
use quartet::{BoxError, CancelScope, SpawnError, channel, nursery, run, yield_now};
use std::cell::{Cell, RefCell};

#[test]
fn parked_receivers_are_served_in_the_order_they_started_waiting() {
    let got = RefCell::new(Vec::new());
    run(async {
        nursery(async |n| {
            let (tx, rx) = channel::<u32>(0);
            for id in 0..5u32 {
                let (rx, got) = (rx.clone(), &got);
                n.spawn(async move {
                    let v = rx.recv().await?.ok_or("ended early")?;
                    got.borrow_mut().push((id, v));
                    Ok::<_, BoxError>(())
                })?;
            }
            yield_now().await; // every receiver parks, in spawn order
            assert_eq!(tx.statistics().waiting_receivers, 5);
            for v in 100..105 {
                tx.send(v).await?;
            }
            Ok::<_, BoxError>(())
        })
        .await
    })
    .unwrap()
    .unwrap();
    let mut got = got.into_inner();
    got.sort();
    assert_eq!(got, [(0, 100), (1, 101), (2, 102), (3, 103), (4, 104)]);
}

fn senders_served_in_order(capacity: usize) {
    let got = run(async {
        nursery(async |n| {
            let (tx, rx) = channel::<u32>(capacity);
            for id in 0..6u32 {
                let tx = tx.clone();
                n.spawn(async move { tx.send(id).await })?;
            }
            yield_now().await; // the first `capacity` are buffered, the rest park in spawn order
            assert_eq!(rx.statistics().waiting_senders, 6 - capacity);
            drop(tx);
            let mut got = Vec::new();
            while let Some(v) = rx.recv().await? {
                got.push(v);
            }
            Ok::<_, BoxError>(got)
        })
        .await
    })
    .unwrap()
    .unwrap();
    assert_eq!(got, [0, 1, 2, 3, 4, 5]);
}

#[test]
fn parked_senders_are_served_in_order_rendezvous() {
    senders_served_in_order(0);
}

#[test]
fn parked_senders_are_served_in_order_after_the_buffer() {
    senders_served_in_order(2);
}

#[test]
fn a_newcomer_cannot_barge_past_a_parked_sender() {
    run(async {
        nursery(async |n| {
            let (tx, rx) = channel::<&str>(1);
            tx.send("buffered").await?;
            let parked = tx.clone();
            n.spawn(async move { parked.send("parked").await })?;
            yield_now().await;
            assert_eq!(rx.statistics().waiting_senders, 1);
            assert_eq!(rx.recv().await?, Some("buffered"));
            // the freed slot went to the parked sender, not to whoever comes next
            assert!(tx.try_send("newcomer").is_err());
            assert_eq!(rx.recv().await?, Some("parked"));
            Ok::<_, BoxError>(())
        })
        .await
    })
    .unwrap()
    .unwrap();
}

/// Runs `op` (which completes at once) in one child and a flag-setter in a later child; returns
/// whether the flag was set when `op` completed, i.e. whether `op` yielded.
fn yields_even_when_ready(op: impl AsyncFnOnce()) -> bool {
    let flag = Cell::new(false);
    let seen = Cell::new(false);
    run(async {
        nursery(async |n| {
            let (flag, seen) = (&flag, &seen);
            n.spawn(async move {
                op().await;
                seen.set(flag.get());
                Ok::<_, BoxError>(())
            })?;
            n.spawn(async move {
                flag.set(true);
                Ok::<_, BoxError>(())
            })?;
            Ok::<_, SpawnError>(())
        })
        .await
    })
    .unwrap()
    .unwrap();
    seen.get()
}

#[test]
fn send_and_recv_yield_even_when_they_complete_at_once() {
    let (tx, rx) = channel::<u32>(1);
    assert!(yields_even_when_ready(async || tx.send(1).await.unwrap()), "buffered send");
    assert!(yields_even_when_ready(async || assert_eq!(rx.recv().await, Ok(Some(1)))), "ready recv");
    drop(tx);
    assert!(yields_even_when_ready(async || assert_eq!(rx.recv().await, Ok(None))), "end of channel");
}

#[test]
fn send_and_recv_fail_on_entry_in_a_cancelled_scope_even_when_they_could_complete() {
    run(async {
        let (tx, rx) = channel::<u32>(1);
        let scope = CancelScope::new();
        scope.cancel();
        let (mut sent, mut received) = (None, None);
        scope
            .run(async {
                sent = Some(tx.send(5).await);
                tx.try_send(6).unwrap(); // try_ variants are not checkpoints
                received = Some(rx.recv().await);
                Ok::<_, RecvError>(())
            })
            .await
            .unwrap();
        assert!(matches!(sent, Some(Err(SendError::Cancelled { value: 5, .. }))), "{sent:?}");
        assert!(matches!(received, Some(Err(RecvError::Cancelled(_)))), "{received:?}");
        assert_eq!(rx.try_recv(), Ok(6), "the cancelled recv took nothing");
    })
    .unwrap();
}
