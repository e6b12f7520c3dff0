//! loom models of channel halves on different threads: hand-offs, closing, and withdrawn
//! operations never lose or duplicate a value, and never lose a wake-up.
#![cfg(loom)]

use loom::future::block_on;
use loom::thread;
use quartet_nursery::channel::{SendError, channel};
use std::future::Future;
use std::sync::atomic::{AtomicUsize as Tally, Ordering::Relaxed};
use std::task::{Context, Waker};

fn poll_once<F: Future>(fut: std::pin::Pin<&mut F>) {
    let mut cx = Context::from_waker(Waker::noop());
    let _ = fut.poll(&mut cx);
}

/// Guards against a rendezvous where sender and receiver both park (lost wake-up) or the value
/// is lost or duplicated.
#[test]
fn rendezvous_send_races_recv() {
    static RECV_PARKED_FIRST: Tally = Tally::new(0);
    static SEND_FIRST: Tally = Tally::new(0);
    loom::model(|| {
        let (tx, rx) = channel::<u32>(0);
        let sender = thread::spawn(move || {
            let receiver_waiting = tx.statistics().waiting_receivers == 1;
            block_on(tx.send(7)).unwrap();
            receiver_waiting
        });
        assert_eq!(block_on(rx.recv()), Ok(Some(7)));
        let tally = if sender.join().unwrap() { &RECV_PARKED_FIRST } else { &SEND_FIRST };
        tally.fetch_add(1, Relaxed);
        assert_eq!(rx.try_recv(), Err(quartet_nursery::channel::TryRecvError::EndOfChannel));
    });
    assert!(RECV_PARKED_FIRST.load(Relaxed) > 0 && SEND_FIRST.load(Relaxed) > 0, "both orders explored");
}

/// Guards against a receiver that parks after the last sender closed (it would wait forever).
#[test]
fn last_sender_drop_races_recv_parking() {
    loom::model(|| {
        let (tx, rx) = channel::<u32>(0);
        let closer = thread::spawn(move || drop(tx));
        assert_eq!(block_on(rx.recv()), Ok(None));
        closer.join().unwrap();
    });
}

/// Guards against a sender that parks after the last receiver closed, or loses its value.
#[test]
fn last_receiver_drop_races_send_parking() {
    loom::model(|| {
        let (tx, rx) = channel::<u32>(0);
        let closer = thread::spawn(move || drop(rx));
        assert!(matches!(block_on(tx.send(5)), Err(SendError::Broken(5))));
        closer.join().unwrap();
    });
}

/// Guards against losing a value handed to a receive that is being dropped (it must go back to
/// the channel).
#[test]
fn recv_dropped_as_sender_hands_over() {
    static PUT_BACK: Tally = Tally::new(0);
    static DIRECT: Tally = Tally::new(0);
    loom::model(|| {
        let (tx, rx) = channel::<u32>(0);
        let sender = thread::spawn(move || block_on(tx.send(7)).unwrap());
        {
            let mut recv = Box::pin(rx.recv());
            poll_once(recv.as_mut());
        }
        let tally = if rx.statistics().buffer_used == 1 { &PUT_BACK } else { &DIRECT };
        tally.fetch_add(1, Relaxed);
        assert_eq!(block_on(rx.recv()), Ok(Some(7)));
        sender.join().unwrap();
        assert_eq!(block_on(rx.recv()), Ok(None), "delivered exactly once");
    });
    assert!(PUT_BACK.load(Relaxed) > 0 && DIRECT.load(Relaxed) > 0, "both outcomes explored");
}

/// Guards against a send that is withdrawn (dropped) as a receiver takes its value: the value is
/// either received once or not at all, and the receiver never hangs.
#[test]
fn send_dropped_as_receiver_takes_value() {
    static TAKEN: Tally = Tally::new(0);
    static WITHDRAWN: Tally = Tally::new(0);
    loom::model(|| {
        let (tx, rx) = channel::<u32>(0);
        let receiver = thread::spawn(move || block_on(rx.recv()).unwrap());
        {
            let mut send = Box::pin(tx.send(7));
            poll_once(send.as_mut());
        }
        drop(tx);
        let tally = match receiver.join().unwrap() {
            Some(7) => &TAKEN,
            None => &WITHDRAWN,
            other => panic!("unexpected {other:?}"),
        };
        tally.fetch_add(1, Relaxed);
    });
    assert!(TAKEN.load(Relaxed) > 0 && WITHDRAWN.load(Relaxed) > 0, "both outcomes explored");
}
