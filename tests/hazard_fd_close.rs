//! H5: closing an fd with ops in flight. `close().await` unblocks the pending ops, waits until it
//! is the last holder, then closes; dropping the owner defers the close until the last in-flight
//! op on the fd has completed, so the fd number can never be reused under a live op.

mod hazard_support;

use hazard_support::{fd_is_open, open_fds, poll_once, read_retrying, serial, tcp_pair, watchdog};
use quartet::net::TcpListener;
use quartet::{OpError, nop, run, stats};
use std::os::fd::AsRawFd;
use std::time::Duration;

fn assert_peer_sees_eof(peer: &mut std::net::TcpStream) {
    peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let n = read_retrying(peer, &mut [0u8; 8]).expect("end of stream, not a timeout: the fd was not closed");
    assert_eq!(n, 0);
}

#[test]
fn close_unblocks_a_recv_abandoned_mid_flight_and_closes_the_fd() {
    let _s = serial();
    let _w = watchdog(Duration::from_secs(30), "close with a pending recv");
    let before = open_fds();
    let mut peer = run(async {
        let (stream, peer) = tcp_pair().await?;
        let fd = stream.as_raw_fd();
        {
            let mut recv = Box::pin(stream.recv(Vec::with_capacity(64)));
            assert!(poll_once(recv.as_mut()).await.is_pending());
            nop().await?; // armed in the kernel; the peer never sends
        } // abandoned: the driver holds the op, and with it a reference to the fd
        assert_eq!(stats().unwrap().live_ops, 1);
        stream.close().await?;
        assert_eq!(stats().unwrap().live_ops, 0, "close returned before the pending op was done");
        assert!(!fd_is_open(fd), "close returned but the fd is still open");
        Ok::<_, OpError>(peer)
    })
    .unwrap()
    .unwrap();
    assert_peer_sees_eof(&mut peer);
    drop(peer);
    assert_eq!(open_fds(), before, "an fd leaked");
}

#[test]
fn close_of_a_listener_with_an_abandoned_accept_returns() {
    let _s = serial();
    let _w = watchdog(Duration::from_secs(30), "close with a pending accept");
    let before = open_fds();
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
        let fd = listener.as_raw_fd();
        {
            let mut accept = Box::pin(listener.accept());
            assert!(poll_once(accept.as_mut()).await.is_pending());
            nop().await?;
        }
        listener.close().await?;
        assert_eq!(stats().unwrap().live_ops, 0);
        assert!(!fd_is_open(fd));
        Ok::<_, OpError>(())
    })
    .unwrap()
    .unwrap();
    assert_eq!(open_fds(), before, "an fd leaked");
}

/// Dropping a stream whose recv was abandoned mid-flight does not close the fd at once: the op
/// still references it. The close happens through the ring once the op's final completion is in.
#[test]
fn dropped_stream_defers_close_until_its_abandoned_op_completes() {
    let _s = serial();
    let _w = watchdog(Duration::from_secs(30), "drop with a pending recv");
    let before = open_fds();
    let mut peer = run(async {
        let (stream, peer) = tcp_pair().await?;
        let fd = stream.as_raw_fd();
        let mut recv = Box::pin(stream.recv(Vec::with_capacity(64)));
        assert!(poll_once(recv.as_mut()).await.is_pending());
        nop().await?;
        drop(recv);
        drop(stream);
        assert!(fd_is_open(fd), "the fd was closed while an op on it was still in flight");
        for _ in 0..1000 {
            if !fd_is_open(fd) {
                break;
            }
            nop().await?;
        }
        assert!(!fd_is_open(fd), "the deferred close never happened");
        assert_eq!(stats().unwrap().live_ops, 0);
        Ok::<_, OpError>(peer)
    })
    .unwrap()
    .unwrap();
    assert_peer_sees_eof(&mut peer);
    drop(peer);
    assert_eq!(open_fds(), before, "an fd leaked");
}
