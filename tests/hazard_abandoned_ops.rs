//! H1, H2, H3: an op whose future is dropped mid-flight keeps its buffer alive until the kernel is
//! done, is cancelled (so shutdown never hangs on it), and an fd it produced anyway is closed.

mod hazard_support;

use hazard_support::{TrackedBuf, dropped, fd_is_open, open_fds, poll_once, read_retrying, serial, tcp_pair, watchdog};
use quartet::fs::File;
use quartet::net::TcpListener;
use quartet::{Builder, OpError, SetupFlags, fail_after, nop, run, stats};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::time::Duration;

/// Waits (a bounded number of ring round trips) until no op is in flight.
async fn settle() -> Result<(), OpError> {
    for _ in 0..1000 {
        if stats().unwrap().live_ops == 0 {
            return Ok(());
        }
        nop().await?;
    }
    panic!("ops still in flight after 1000 ring round trips: {:?}", stats());
}

#[test]
fn dropped_recv_keeps_its_buffer_alive_until_the_kernel_completes() {
    dropped_recv_then_data_arrives(SetupFlags::Auto, false);
}

/// With `COOP_TASKRUN` the kernel completes the recv as soon as the peer's write returns, before
/// the drop's cancel reaches the ring: it writes into the buffer after the future is gone.
#[test]
fn kernel_write_after_the_future_is_dropped_lands_in_the_kept_alive_buffer() {
    dropped_recv_then_data_arrives(SetupFlags::CoopTaskrun, true);
}

/// Drops a recv that is armed in the kernel, then sends it data. Whoever wins (the data or the
/// drop's cancel), the buffer lives until the op's final completion and no byte is lost.
fn dropped_recv_then_data_arrives(flags: SetupFlags, kernel_writes_late: bool) {
    let _s = serial();
    let _w = watchdog(Duration::from_secs(30), "dropped recv");
    Builder::new()
        .setup_flags(flags)
        .run(async {
            let (stream, mut peer) = tcp_pair().await?;
            let (buf, report) = TrackedBuf::new();
            {
                let mut recv = Box::pin(stream.recv(buf));
                assert!(poll_once(recv.as_mut()).await.is_pending());
                nop().await?; // one ring round trip: the recv is now armed in the kernel
                assert_eq!(stats().unwrap().live_ops, 1);
            } // the future is dropped mid-op
            assert!(!dropped(&report), "the buffer was freed while the kernel still owned it");
            assert_eq!(stats().unwrap().live_ops, 1, "the abandoned op is still in flight");
            // Data arrives before the cancel has reached the kernel, so the kernel may still write it
            // into the abandoned buffer.
            peer.write_all(b"late data")?;
            settle().await?;
            let held = report.lock().unwrap().clone().expect("freed after its final completion");
            if kernel_writes_late {
                assert!(held.starts_with(b"late data"), "the kernel did not write after the drop: {held:?}");
            }
            if !held.starts_with(b"late data") {
                // The cancel won: then the bytes are still in the socket, nothing was lost.
                let (n, buf) = fail_after(Duration::from_secs(5), async {
                    let (n, buf) = stream.recv(Vec::with_capacity(64)).await;
                    n.map(|n| (n, buf))
                })
                .await?;
                assert_eq!(&buf[..n], b"late data");
            }
            stream.close().await?;
            Ok::<_, OpError>(())
        })
        .unwrap()
        .unwrap();
}

/// The accept's SQE is queued before the drop's cancel, and a connection is already waiting: the
/// kernel accepts it, and nobody will ever see that fd. The driver must close it.
#[test]
fn abandoned_accept_that_won_the_race_closes_the_accepted_fd() {
    let _s = serial();
    let _w = watchdog(Duration::from_secs(30), "abandoned accept");
    let before = open_fds();
    let mut client = run(async {
        let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
        let addr = listener.local_addr()?;
        let client = {
            let mut accept = Box::pin(listener.accept());
            assert!(poll_once(accept.as_mut()).await.is_pending());
            std::net::TcpStream::connect(addr)? // waits in the listen backlog
        }; // dropped: the accept is in the SQ ahead of its cancel, so it wins
        settle().await?;
        listener.close().await?;
        Ok::<_, OpError>(client)
    })
    .unwrap()
    .unwrap();
    // The server side of the connection was closed by the driver: the client sees end of stream.
    client.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let n = read_retrying(&mut client, &mut [0u8; 8]).expect("EOF, not a timeout: the accepted fd was leaked");
    assert_eq!(n, 0);
    drop(client);
    assert_eq!(open_fds(), before, "an fd leaked");
}

/// Same for open: the file the kernel opened for a dropped future is closed, not leaked.
#[test]
fn abandoned_open_that_won_the_race_closes_the_opened_fd() {
    let _s = serial();
    let _w = watchdog(Duration::from_secs(30), "abandoned open");
    let path = std::env::temp_dir().join(format!("quartet-hazard-open-{}", std::process::id()));
    std::fs::write(&path, b"x").unwrap();
    let before = open_fds();
    run(async {
        let during = open_fds();
        {
            let mut open = Box::pin(File::open(&path));
            assert!(poll_once(open.as_mut()).await.is_pending());
        } // dropped before the ring was entered: the open runs, then its cancel finds nothing
        settle().await?;
        nop().await?; // the driver's close goes through the ring at the next flush
        assert_eq!(open_fds(), during, "the opened fd leaked");
        Ok::<_, OpError>(())
    })
    .unwrap()
    .unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(open_fds(), before, "an fd leaked");
}

/// H3: `run` returns although an accept is pending when the root future finishes; the accept is
/// cancelled (not waited for until the drain bound), so its listener is closed, not leaked.
#[test]
fn runtime_shutdown_with_a_pending_accept_returns_and_closes_the_listener() {
    let _s = serial();
    let _w = watchdog(Duration::from_secs(30), "shutdown with a pending accept");
    let before = open_fds();
    let fd = Builder::new()
        .shutdown_drain(Duration::from_secs(3))
        .run(async {
            let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
            let mut accept = Box::pin(listener.accept());
            assert!(poll_once(accept.as_mut()).await.is_pending());
            nop().await?; // the accept is armed in the kernel
            assert_eq!(stats().unwrap().live_ops, 1);
            Ok::<_, OpError>(listener.as_raw_fd())
            // the root future returns here, dropping the pending accept and the listener
        })
        .unwrap()
        .unwrap();
    assert!(!fd_is_open(fd), "the listener was leaked: the pending accept was never cancelled");
    assert_eq!(open_fds(), before, "an fd leaked");
}
