//! Receives into the provided-buffer pool (`PooledReceiver`, `PooledBuf`): the bytes are right,
//! a dropped buffer goes back to the pool, the pool running dry (`ENOBUFS`) is survived in order,
//! end of stream, idle connections hold no buffer, and a lent buffer may outlive the runtime.
//! Every check is on bytes and on the pool's accounting, never on timing.

mod nursery_support;

use nursery_support::{tcp_pair, watchdog};
use quartet::net::{BufPoolConfig, BufPoolError, PooledBuf, PooledReceiver, TcpListener, TcpStream, buf_pool_stats};
use quartet::{BoxError, Builder, OpError, nursery, sleep, yield_now};
use std::net::Shutdown;
use std::time::Duration;

/// `fut` on a runtime whose pool has `buffers` buffers of `size` bytes, under a watchdog.
fn run_with_pool<F: Future>(buffers: u32, size: u32, multishot: bool, fut: F) -> F::Output {
    let cfg = BufPoolConfig::new(buffers, size).expect("valid pool").multishot(multishot);
    watchdog(Duration::from_secs(60), || Builder::new().buf_pool(cfg).run(fut).expect("quartet runtime"))
}

/// Waits (by yielding to the loop) until `cond` holds; the watchdog turns a hang into a failure.
async fn until(mut cond: impl FnMut() -> bool) {
    while !cond() {
        sleep(Duration::from_millis(1)).await.unwrap();
    }
}

#[test]
fn bytes_received_into_a_pool_buffer_read_back_exactly() {
    run_with_pool(8, 4096, true, async {
        let (client, server) = tcp_pair().await.unwrap();
        let rx = PooledReceiver::new(&server).unwrap();
        let (r, _) = client.send_all(b"hello, pooled world".to_vec()).await;
        r.unwrap();
        let mut got = Vec::new();
        while got.len() < 19 {
            let buf = rx.recv().await.unwrap().expect("data, not end of stream");
            assert!(!buf.is_empty());
            got.extend_from_slice(&buf);
        }
        assert_eq!(got, b"hello, pooled world");
        let s = buf_pool_stats().unwrap();
        assert_eq!((s.buffers, s.lent, s.queued), (8, 0, 0));
        assert_eq!(s.in_ring, 8, "every buffer is back in the ring once dropped");
    });
}

#[test]
fn dropped_buffers_return_so_a_pool_of_four_serves_two_hundred_receives() {
    run_with_pool(4, 64, true, async {
        let (client, server) = tcp_pair().await.unwrap();
        let rx = PooledReceiver::new(&server).unwrap();
        for i in 0..200u32 {
            let (r, _) = client.send_all(i.to_le_bytes().to_vec()).await;
            r.unwrap();
            let mut got = Vec::new();
            while got.len() < 4 {
                got.extend_from_slice(&rx.recv().await.unwrap().expect("data"));
            }
            assert_eq!(got, i.to_le_bytes());
        }
        let s = buf_pool_stats().unwrap();
        assert_eq!((s.in_ring, s.queued, s.lent), (4, 0, 0));
    });
}

#[test]
fn a_pool_buffer_can_be_sent_back_as_it_is() {
    run_with_pool(4, 1024, true, async {
        let (client, server) = tcp_pair().await.unwrap();
        let rx = PooledReceiver::new(&server).unwrap();
        let (r, _) = client.send_all(b"echo me".to_vec()).await;
        r.unwrap();
        let mut buf = rx.recv().await.unwrap().expect("data");
        buf.make_ascii_uppercase();
        let (r, buf) = server.send_all(buf).await;
        r.unwrap();
        assert_eq!(buf_pool_stats().unwrap().lent, 1, "the buffer came back from the send, still lent");
        drop(buf);
        let (n, back) = client.recv(Vec::with_capacity(64)).await;
        assert_eq!(&back[..n.unwrap()], b"ECHO ME");
        assert_eq!(buf_pool_stats().unwrap().lent, 0);
    });
}

/// Every buffer is held by the program: the kernel's multishot recv ends with `ENOBUFS`; once the
/// buffers are dropped the receiver re-arms and the rest of the stream arrives, in order.
fn survive_a_dry_pool(multishot: bool) {
    run_with_pool(2, 16, multishot, async {
        let (client, server) = tcp_pair().await.unwrap();
        let rx = PooledReceiver::new(&server).unwrap();
        let sent: Vec<u8> = (0..4096u32).map(|i| (i * 7 % 251) as u8).collect();
        let (r, _) = client.send_all(sent[..32].to_vec()).await;
        r.unwrap();
        let mut got = Vec::new();
        let mut held: Vec<PooledBuf> = Vec::new();
        while got.len() < 32 {
            let b = rx.recv().await.unwrap().expect("data");
            got.extend_from_slice(&b);
            held.push(b);
        }
        // 32 bytes in 16-byte buffers: both buffers are held now.
        assert_eq!(held.len(), 2);
        assert_eq!(buf_pool_stats().unwrap().in_ring, 0);
        let (r, _) = client.send_all(sent[32..].to_vec()).await;
        r.unwrap();
        client.shutdown(Shutdown::Write).await.unwrap();
        if multishot {
            // The armed multishot recv finds no buffer for the new bytes: it ends with ENOBUFS.
            until(|| buf_pool_stats().unwrap().exhausted > 0).await;
        }
        drop(held);
        while let Some(b) = rx.recv().await.unwrap() {
            got.extend_from_slice(&b);
        }
        assert_eq!(got, sent, "bytes lost, duplicated or reordered around ENOBUFS");
        assert!(rx.recv().await.unwrap().is_none(), "end of stream is sticky");
    });
}

#[test]
fn a_pool_run_dry_by_held_buffers_resumes_in_order_once_they_are_dropped() {
    survive_a_dry_pool(true);
}

#[test]
fn the_single_shot_fallback_also_survives_a_dry_pool_in_order() {
    survive_a_dry_pool(false);
}

#[test]
fn end_of_stream_is_none_and_stays_none() {
    run_with_pool(4, 64, true, async {
        let (client, server) = tcp_pair().await.unwrap();
        let rx = PooledReceiver::new(&server).unwrap();
        let (r, _) = client.send_all(b"last words".to_vec()).await;
        r.unwrap();
        client.shutdown(Shutdown::Write).await.unwrap();
        let mut got = Vec::new();
        while let Some(b) = rx.recv().await.unwrap() {
            got.extend_from_slice(&b);
        }
        assert_eq!(got, b"last words");
        assert!(rx.recv().await.unwrap().is_none());
        assert!(rx.recv().await.unwrap().is_none());
    });
}

#[test]
fn dropping_a_receiver_returns_its_queued_buffers() {
    run_with_pool(4, 8, true, async {
        let (client, server) = tcp_pair().await.unwrap();
        let rx = PooledReceiver::new(&server).unwrap();
        let first = {
            let (r, _) = client.send_all(vec![1u8; 24]).await;
            r.unwrap();
            rx.recv().await.unwrap().expect("data")
        };
        // The rest of the 24 bytes lands in more buffers, queued in the receiver.
        until(|| buf_pool_stats().unwrap().queued > 0).await;
        drop(rx);
        let s = buf_pool_stats().unwrap();
        assert_eq!((s.queued, s.lent), (0, 1), "queued buffers went back; the lent one is still out");
        drop(first);
        assert_eq!(buf_pool_stats().unwrap().in_ring, 4);
        server.close().await.unwrap();
    });
}

#[test]
fn a_thousand_idle_connections_hold_no_pool_buffer() {
    raise_fd_limit(4096);
    const CONNS: usize = 1000;
    run_with_pool(64, 16 * 1024, true, async {
        let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut pairs: Vec<(TcpStream, TcpStream)> = Vec::with_capacity(CONNS);
        for _ in 0..CONNS {
            let client = TcpStream::connect(addr).await.unwrap();
            let (server, _) = listener.accept().await.unwrap();
            pairs.push((client, server));
        }
        let receivers: Vec<PooledReceiver<'_>> = pairs.iter().map(|(_, s)| PooledReceiver::new(s).unwrap()).collect();
        nursery(async |n| {
            for (i, rx) in receivers.iter().enumerate() {
                n.spawn(async move {
                    let b = rx.recv().await?.expect("one byte");
                    assert_eq!(&b[..], &[(i % 256) as u8]);
                    Ok::<_, OpError>(())
                })?;
            }
            // Let every child arm its receive and the loop hand them to the kernel, then look at
            // the pool: 1,000 armed receives, 64 buffers, all of them still in the ring.
            until(|| buf_pool_stats().unwrap().armed == CONNS as u32).await;
            yield_now().await;
            sleep(Duration::from_millis(2)).await?;
            let s = buf_pool_stats().unwrap();
            assert_eq!(s.armed, CONNS as u32);
            assert_eq!((s.in_ring, s.queued, s.lent), (64, 0, 0), "an idle connection holds a buffer: {s:?}");
            for (i, (client, _)) in pairs.iter().enumerate() {
                let (r, _) = client.send_all(vec![(i % 256) as u8]).await;
                r?;
            }
            Ok::<_, BoxError>(())
        })
        .await
        .unwrap();
        let s = buf_pool_stats().unwrap();
        assert_eq!((s.in_ring, s.queued, s.lent), (64, 0, 0));
    });
}

#[test]
fn a_lent_buffer_outlives_its_runtime_soundly() {
    let buf = run_with_pool(4, 64, true, async {
        let (client, server) = tcp_pair().await.unwrap();
        let rx = PooledReceiver::new(&server).unwrap();
        let (r, _) = client.send_all(b"kept".to_vec()).await;
        r.unwrap();
        rx.recv().await.unwrap().expect("data")
    });
    assert_eq!(&buf[..], b"kept"); // the pool's memory is alive while the buffer is
    drop(buf); // returning it to a closed ring is harmless
}

#[test]
fn two_tasks_waiting_on_one_receiver_are_both_served() {
    run_with_pool(4, 64, true, async {
        let (client, server) = tcp_pair().await.unwrap();
        let rx = PooledReceiver::new(&server).unwrap();
        let got = std::cell::RefCell::new(Vec::new());
        nursery(async |n| {
            for _ in 0..2 {
                n.spawn(async {
                    let b = rx.recv().await?.expect("data");
                    got.borrow_mut().extend_from_slice(&b);
                    Ok::<_, OpError>(())
                })?;
            }
            // Both children wait on the receiver before any byte arrives.
            until(|| buf_pool_stats().unwrap().armed == 1).await;
            // One message at a time, so that each is taken by one of the two waiters.
            for (i, msg) in [b"one", b"two"].into_iter().enumerate() {
                let (r, _) = client.send_all(msg.to_vec()).await;
                r?;
                until(|| got.borrow().len() == 3 * (i + 1)).await;
            }
            Ok::<_, BoxError>(())
        })
        .await
        .unwrap();
        assert_eq!(&got.borrow()[..], b"onetwo");
    });
}

#[test]
fn a_lent_buffer_and_an_armed_receiver_outlive_an_unclean_shutdown() {
    // A zero drain bound leaves the armed recv in the kernel: the driver leaks the pool rather
    // than free memory the kernel may select (B3); what the program kept stays usable.
    let cfg = BufPoolConfig::new(4, 64).unwrap();
    let buf = watchdog(Duration::from_secs(60), || {
        Builder::new()
            .buf_pool(cfg)
            .shutdown_drain(Duration::ZERO)
            .run(async {
                let (client, server) = tcp_pair().await.unwrap();
                let rx = PooledReceiver::new(&server).unwrap();
                let (r, _) = client.send_all(b"first".to_vec()).await;
                r.unwrap();
                let b = rx.recv().await.unwrap().expect("data");
                // The multishot recv stays armed after delivering; dropping the receiver only
                // queues its cancel, which a zero drain bound never submits.
                assert_eq!(buf_pool_stats().unwrap().armed, 1);
                b
            })
            .expect("quartet runtime")
    });
    assert_eq!(&buf[..], b"first");
    drop(buf); // returned to a ring whose runtime is gone
}

#[test]
fn outside_a_runtime_a_receiver_cannot_be_made() {
    let s = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let c = std::net::TcpStream::connect(s.local_addr().unwrap()).unwrap();
    // A TcpStream made outside `run` is still a stream; the pool needs the runtime.
    let stream = TcpStream::from_std(c).unwrap();
    assert!(matches!(PooledReceiver::new(&stream), Err(quartet::net::PoolUnavailable::NoRuntime)));
}

#[test]
fn bad_pool_shapes_are_typed_errors() {
    assert_eq!(BufPoolConfig::new(0, 64), Err(BufPoolError::Count(0)));
    assert_eq!(BufPoolConfig::new(3, 64), Err(BufPoolError::Count(3)));
    assert_eq!(BufPoolConfig::new(65536, 64), Err(BufPoolError::Count(65536)));
    assert_eq!(BufPoolConfig::new(4, 0), Err(BufPoolError::Size(0)));
    assert_eq!(BufPoolConfig::new(4, u32::MAX), Err(BufPoolError::Size(u32::MAX)));
    assert!(matches!(BufPoolConfig::new(32768, 1 << 24), Err(BufPoolError::TooLarge { .. })));
    assert!(BufPoolConfig::new(32768, 4096).is_ok());
}

fn raise_fd_limit(want: u64) {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit with a pointer to a live local of the right type.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        if lim.rlim_cur < want {
            lim.rlim_cur = want.min(lim.rlim_max);
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lim), 0);
        }
    }
}
