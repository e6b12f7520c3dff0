//! H4: shutdown with ops in flight. `run` returns while ops are pending: they are cancelled, their
//! completions drained (bounded), and what is still in flight when the bound expires is leaked,
//! never freed while the kernel may write into it.
//!
//! (Two tests leak on purpose: the zero-bound drain leaks the in-flight buffer and socket, and an
//! op dropped outside its runtime leaks its data. Under LeakSanitizer run this file with
//! `ASAN_OPTIONS=detect_leaks=0`.)

mod hazard_support;

use hazard_support::{TrackedBuf, dropped, open_fds, poll_once, serial, tcp_pair, watchdog};
use quartet::{Builder, OpError, nop, nursery, sleep, stats};
use std::time::Duration;

#[test]
fn run_returns_while_a_recv_is_pending_and_frees_its_buffer_only_after_the_drain() {
    let _s = serial();
    let _w = watchdog(Duration::from_secs(30), "shutdown with a pending recv");
    let before = open_fds();
    let (report, peer) = Builder::new()
        .shutdown_drain(Duration::from_secs(3))
        .run(async {
            let (stream, peer) = tcp_pair().await?;
            let (buf, report) = TrackedBuf::new();
            let mut recv = Box::pin(stream.recv(buf));
            assert!(poll_once(recv.as_mut()).await.is_pending());
            nop().await?; // armed in the kernel; the peer never sends
            assert_eq!(stats().unwrap().live_ops, 1);
            Ok::<_, OpError>((report, peer))
            // returns with the recv in flight: the root future (and the recv) is dropped
        })
        .unwrap()
        .unwrap();
    assert!(dropped(&report), "the drain collected the cancelled recv, so its buffer is freed, not leaked");
    drop(peer);
    assert_eq!(open_fds(), before, "an fd leaked");
}

/// Many tasks with ops of every kind in flight when the root returns: `run` still returns, and
/// every resource is reclaimed (the drain cancelled and collected them all).
#[test]
fn run_returns_while_a_nursery_full_of_ops_is_pending() {
    let _s = serial();
    let _w = watchdog(Duration::from_secs(30), "shutdown with a busy nursery");
    let before = open_fds();
    let (reports, peer) = Builder::new()
        .shutdown_drain(Duration::from_secs(3))
        .run(async {
            let (stream, peer) = tcp_pair().await?;
            let listener = quartet::net::TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
            let mut reports = Vec::new();
            let mut bufs = Vec::new();
            for _ in 0..32 {
                let (buf, report) = TrackedBuf::new();
                reports.push(report);
                bufs.push(buf);
            }
            let (stream, listener) = (&stream, &listener);
            let mut body = Box::pin(nursery(async |n| {
                for buf in bufs {
                    n.spawn(async move { stream.recv(buf).await.0 })?;
                    n.spawn(async move { listener.accept().await.map(drop) })?;
                    n.spawn(async { sleep(Duration::from_secs(3600)).await })?;
                }
                Ok::<_, quartet::SpawnError>(())
            }));
            // Let every child submit, then return from the root with all of them pending.
            for _ in 0..4 {
                assert!(poll_once(body.as_mut()).await.is_pending());
                nop().await?;
            }
            assert_eq!(stats().unwrap().live_ops, 64, "32 recvs and 32 accepts in flight");
            Ok::<_, OpError>((reports, peer)) // the peer stays open: no recv can complete by EOF
        })
        .unwrap()
        .unwrap();
    assert!(reports.iter().all(dropped), "every buffer was reclaimed after its final completion");
    drop(peer);
    assert_eq!(open_fds(), before, "an fd leaked");
}

/// With a zero drain bound nothing is collected: the in-flight recv's buffer must be leaked (the
/// kernel tears the ring down asynchronously and might still write into it), never freed.
#[test]
fn drain_bound_expired_leaks_in_flight_buffers_instead_of_freeing_them() {
    let _s = serial();
    let _w = watchdog(Duration::from_secs(30), "shutdown with a zero drain bound");
    let (report, peer) = Builder::new()
        .shutdown_drain(Duration::ZERO)
        .run(async {
            let (stream, peer) = tcp_pair().await?;
            let (buf, report) = TrackedBuf::new();
            let mut recv = Box::pin(stream.recv(buf));
            assert!(poll_once(recv.as_mut()).await.is_pending());
            nop().await?; // armed in the kernel
            // Dropped in flight: its data moves into the driver, which leaks it at the shutdown.
            drain_bound_expired_leaks_in_flight_op_data(recv);
            Ok::<_, OpError>((report, peer))
        })
        .unwrap()
        .unwrap();
    assert!(!dropped(&report), "a buffer the kernel may still own was freed at shutdown");
    drop(peer);
}

/// Drops `fut` (an op future in flight) in a frame of its own, so the allocation stack of the
/// box the op's data moves into names it for the LeakSanitizer suppression in scripts/lsan.supp.
#[inline(never)]
fn drain_bound_expired_leaks_in_flight_op_data<F>(fut: F) {
    drop(fut);
}

/// A future that holds a submitted op escapes `run` (the root returns it). Shutdown cancels the op
/// and its completion arrives during the drain: the drain must see that nothing is in flight any
/// more and return, not wait out its (here very long) bound because the completion was never
/// collected by a future.
#[test]
fn escaped_future_with_a_cancelled_op_does_not_stall_the_drain() {
    let _s = serial();
    let _w = watchdog(Duration::from_secs(20), "drain with an escaped future (bound 120 s)");
    let escaped = Builder::new()
        .shutdown_drain(Duration::from_secs(120))
        .run(async {
            let (stream, peer) = tcp_pair().await?;
            let mut recv = Box::pin(async move {
                let (n, _) = stream.recv(Vec::with_capacity(8)).await;
                (n, peer)
            });
            assert!(poll_once(recv.as_mut()).await.is_pending());
            nop().await?;
            Ok::<_, OpError>(recv)
        })
        .unwrap()
        .unwrap();
    drop(escaped);
}
