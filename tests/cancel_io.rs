//! "If an operation reports `Cancelled`, it did nothing" (semantics §3.4) and the abort protocol
//! (§3.5): a cancelled in-flight op is cancelled in the kernel and its own completion decides the
//! outcome; data that arrived before the cancel is returned, and the next checkpoint raises.

use crate::nursery_support;

use nursery_support::{poll_once, readable_bytes, run, tcp_pair};
use quartet::net::{TcpListener, TcpStream};
use quartet::{CancelScope, OpError, checkpoint, move_on_after, nop, stats};
use std::os::fd::AsRawFd;
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

#[test]
fn recv_cancelled_after_its_data_arrived_returns_the_data() {
    run(async {
        let (client, server) = tcp_pair().await.unwrap();
        let scope = CancelScope::new();
        let mut fut = pin!(scope.run(async {
            let (r, buf) = client.recv(Vec::with_capacity(64)).await;
            let got = r.map(|n| buf[..n].to_vec());
            // the cancellation is not lost: the next checkpoint raises it
            let next = checkpoint().await;
            Ok::<_, OpError>((got, next))
        }));
        assert!(poll_once(fut.as_mut()).await.is_pending(), "recv is in flight");
        let (r, _) = server.send_all(b"payload".to_vec()).await;
        r.unwrap();
        // Wait until the kernel has completed the recv (the bytes left the socket) ...
        while readable_bytes(client.as_raw_fd()) > 0 {
            nop().await.unwrap();
        }
        for _ in 0..3 {
            nop().await.unwrap();
        }
        // ... and only then cancel it.
        scope.cancel();
        let (got, next) = fut.await.unwrap().expect("the block returned normally");
        assert_eq!(got.unwrap(), b"payload", "a recv whose data had arrived must return it");
        assert!(next.is_err(), "the next checkpoint must raise the cancellation");
        assert!(scope.cancel_called() && !scope.cancelled_caught());
    });
}

#[test]
fn cancelled_recv_loses_no_bytes() {
    run(async {
        let (client, server) = tcp_pair().await.unwrap();
        for round in 0..20u8 {
            // a recv that is cancelled while waiting
            let r = move_on_after(Duration::from_micros(200), async {
                let (r, _buf) = client.recv(Vec::with_capacity(16)).await;
                r
            })
            .await;
            assert_eq!(r.unwrap(), None, "nothing was sent, so the recv can only be cancelled");
            // then data: the next recv gets all of it
            let (r, _) = server.send_all(vec![round; 3]).await;
            r.unwrap();
            let mut got = Vec::new();
            while got.len() < 3 {
                let (r, buf) = client.recv(Vec::with_capacity(16)).await;
                let n = r.unwrap();
                got.extend_from_slice(&buf[..n]);
            }
            assert_eq!(got, [round; 3]);
        }
        assert_eq!(stats().unwrap().live_ops, 0);
    });
}

#[test]
fn cancelled_accept_takes_no_connection() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let r = move_on_after(Duration::from_millis(2), listener.accept()).await;
        assert!(matches!(r, Ok(None)), "no client yet: the accept is cancelled");
        let _client = TcpStream::connect(addr).await.unwrap();
        // the connection waits in the backlog for the next accept
        let r = move_on_after(Duration::from_secs(5), listener.accept()).await;
        assert!(matches!(r, Ok(Some(_))), "the connection was lost: {r:?}");
        assert_eq!(stats().unwrap().live_ops, 0);
    });
}

#[test]
fn cancelled_in_flight_op_is_waited_for_not_abandoned() {
    run(async {
        let (client, _server) = tcp_pair().await.unwrap();
        let base = stats().unwrap();
        let r = move_on_after(Duration::from_millis(2), async { client.recv(Vec::with_capacity(8)).await.0 }).await;
        assert_eq!(r.unwrap(), None);
        let after = stats().unwrap();
        // The scope returned only after the recv's own completion arrived: nothing is left in the
        // driver, and an ASYNC_CANCEL went through the ring for it.
        assert_eq!(after.live_ops, 0, "the cancelled op was abandoned instead of waited for");
        assert!(after.driver.sqes >= base.driver.sqes + 2, "recv + its ASYNC_CANCEL: {base:?} -> {after:?}");
    });
}

#[test]
fn dropped_in_flight_op_is_reclaimed_by_the_driver() {
    run(async {
        let (client, server) = tcp_pair().await.unwrap();
        {
            let mut fut = pin!(client.recv(Vec::with_capacity(8)));
            assert!(matches!(poll_once(fut.as_mut()).await, Poll::Pending));
            assert_eq!(stats().unwrap().live_ops, 1);
        } // dropped while in flight: the driver owns the buffer and cancels the op
        for _ in 0..100 {
            if stats().unwrap().live_ops == 0 {
                break;
            }
            nop().await.unwrap();
        }
        assert_eq!(stats().unwrap().live_ops, 0);
        // the socket still works and no byte was eaten by the abandoned recv
        let (r, _) = server.send_all(b"x".to_vec()).await;
        r.unwrap();
        let (r, buf) = client.recv(Vec::with_capacity(8)).await;
        assert_eq!(&buf[..r.unwrap()], b"x");
    });
}
