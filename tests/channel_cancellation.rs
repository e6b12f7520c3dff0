//! Channel sends and receives are atomic with respect to cancellation: cancelled at every
//! possible poll point, a send delivered nothing and gives its value back, and a receive took
//! nothing; one already served when the cancel arrives returns its result.
use quartet::channel::{RecvError, SendError};
use quartet::{BoxError, CancelScope, Cancelled, SpawnError, channel, nursery, run, yield_now};
use std::cell::RefCell;

use crate::cancel_grid;
use cancel_grid::{DELAYS, POINTS, Seen, cancelled_at};
use std::task::Context;

/// A send cancelled at poll `at`, while the receiver starts after `delay` yields.
fn send_cancelled(capacity: usize, at: usize, delay: usize, seen: &mut Seen) {
    let received = RefCell::new(Vec::new());
    let outcome = RefCell::new(None);
    run(async {
        nursery(async |n| {
            let (tx, rx) = channel::<u32>(capacity);
            let (received, outcome) = (&received, &outcome);
            n.spawn(async move {
                let r = cancelled_at(at, tx.send(7)).await;
                let retry = match &r {
                    Ok(()) => None,
                    Err(SendError::Cancelled { value, .. }) => Some(*value),
                    Err(e) => panic!("unexpected {e:?}"),
                };
                *outcome.borrow_mut() = Some(r.is_ok());
                if let Some(v) = retry {
                    tx.send(v + 100).await?; // the value came back: send it again, marked
                }
                Ok::<_, SendError<u32>>(())
            })?;
            n.spawn(async move {
                for _ in 0..delay {
                    yield_now().await;
                }
                while let Some(v) = rx.recv().await? {
                    received.borrow_mut().push(v);
                }
                Ok::<_, RecvError>(())
            })?;
            Ok::<_, SpawnError>(())
        })
        .await
    })
    .unwrap()
    .unwrap();
    let (sent, received) = (outcome.into_inner().unwrap(), received.into_inner());
    if sent {
        assert_eq!(received, [7], "capacity {capacity}, at {at}, delay {delay}: a successful send delivered once");
        seen.ok += 1;
    } else {
        assert_eq!(
            received,
            [107],
            "capacity {capacity}, at {at}, delay {delay}: the cancelled send delivered nothing"
        );
        seen.cancelled += 1;
    }
}

#[test]
fn send_cancelled_at_every_poll_point_delivers_nothing_and_returns_the_value() {
    for capacity in [0, 1] {
        let mut seen = Seen::default();
        for at in 0..POINTS {
            for delay in 0..DELAYS {
                send_cancelled(capacity, at, delay, &mut seen);
            }
        }
        assert!(seen.ok > 0 && seen.cancelled > 0, "capacity {capacity}: both outcomes happened: {seen:?}");
    }
}

/// A receive cancelled at poll `at`, while the sender sends after `delay` yields.
fn recv_cancelled(capacity: usize, at: usize, delay: usize, seen: &mut Seen) {
    let outcome = RefCell::new(None);
    let later = RefCell::new(None);
    run(async {
        nursery(async |n| {
            let (tx, rx) = channel::<u32>(capacity);
            let (outcome, later) = (&outcome, &later);
            n.spawn(async move {
                for _ in 0..delay {
                    yield_now().await;
                }
                tx.send(7).await
            })?;
            n.spawn(async move {
                let r = cancelled_at(at, rx.recv()).await;
                assert!(matches!(r, Ok(Some(7)) | Err(RecvError::Cancelled(_))), "unexpected {r:?}");
                *outcome.borrow_mut() = Some(r.is_ok());
                // whatever the cancelled receive did not take is still there
                *later.borrow_mut() = Some(rx.recv().await?);
                Ok::<_, RecvError>(())
            })?;
            Ok::<_, SpawnError>(())
        })
        .await
    })
    .unwrap()
    .unwrap();
    let (got, later) = (outcome.into_inner().unwrap(), later.into_inner().unwrap());
    if got {
        assert_eq!(later, None, "capacity {capacity}, at {at}, delay {delay}: the value was received once");
        seen.ok += 1;
    } else {
        assert_eq!(later, Some(7), "capacity {capacity}, at {at}, delay {delay}: the cancelled recv took nothing");
        seen.cancelled += 1;
    }
}

#[test]
fn recv_cancelled_at_every_poll_point_takes_nothing() {
    for capacity in [0, 1] {
        let mut seen = Seen::default();
        for at in 0..POINTS {
            for delay in 0..DELAYS {
                recv_cancelled(capacity, at, delay, &mut seen);
            }
        }
        assert!(seen.ok > 0 && seen.cancelled > 0, "capacity {capacity}: both outcomes happened: {seen:?}");
    }
}

#[test]
fn recv_served_before_it_notices_the_cancel_returns_the_value() {
    run(async {
        nursery(async |n| {
            let (tx, rx) = channel::<u32>(0);
            let scope = CancelScope::new();
            let handle = scope.handle();
            let got = n.spawn(async move {
                let mut got = None;
                scope
                    .run(async {
                        got = Some(rx.recv().await);
                        Ok::<_, Cancelled>(())
                    })
                    .await?;
                Ok::<_, Cancelled>(got)
            })?;
            yield_now().await; // the receiver parks
            tx.try_send(5).map_err(|_| "receiver is parked")?; // hands the value over...
            handle.cancel(); // ...and the cancel arrives before the receiver runs again
            assert_eq!(got.await?, Some(Ok(Some(5))));
            Ok::<_, BoxError>(())
        })
        .await
    })
    .unwrap()
    .unwrap();
}

#[test]
fn send_taken_before_it_notices_the_cancel_returns_ok() {
    run(async {
        nursery(async |n| {
            let (tx, rx) = channel::<u32>(0);
            let scope = CancelScope::new();
            let handle = scope.handle();
            let sent = n.spawn(async move {
                let mut sent = None;
                scope
                    .run(async {
                        sent = Some(tx.send(5).await.is_ok());
                        Ok::<_, Cancelled>(())
                    })
                    .await?;
                Ok::<_, Cancelled>(sent)
            })?;
            yield_now().await; // the sender parks
            assert_eq!(rx.try_recv(), Ok(5)); // takes the value...
            handle.cancel(); // ...and the cancel arrives before the sender runs again
            assert_eq!(sent.await?, Some(true));
            Ok::<_, BoxError>(())
        })
        .await
    })
    .unwrap()
    .unwrap();
}

#[test]
fn dropped_recv_puts_a_handed_value_back_at_the_front() {
    run(async {
        let (tx, rx) = channel::<u32>(2);
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        let mut fut = Box::pin(rx.recv());
        assert!(fut.as_mut().poll(&mut cx).is_pending(), "parks");
        tx.try_send(1).unwrap(); // handed to the parked receive
        tx.try_send(2).unwrap();
        drop(fut);
        assert_eq!(rx.try_recv(), Ok(1), "the value went back to the front");
        assert_eq!(rx.try_recv(), Ok(2));
    })
    .unwrap();
}
