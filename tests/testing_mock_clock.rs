//! The testing toolkit on small real programs, under the mock clock: a 1-hour timeout, a
//! retry-with-backoff client against a real loopback server that fails its first 3 connections,
//! a server's graceful shutdown, and `wait_all_tasks_blocked`. Pass/fail never depends on wall
//! time: every assertion is on virtual time or on what the programs did.

use quartet::net::{Serve, TcpListener, TcpStream};
use quartet::testing::{elapsed, wait_all_tasks_blocked};
use quartet::{BoxError, Builder, CancelScope, TooSlow, fail_after, now, nursery, sleep};
use std::cell::Cell;
use std::net::SocketAddr;
use std::time::Duration;

fn mock() -> Builder {
    Builder::new().mock_clock(true)
}

#[test]
fn one_hour_timeout_fires_at_exactly_one_hour() {
    for _ in 0..3 {
        let (r, took) = mock()
            .run(async {
                let t0 = now();
                let r = fail_after(Duration::from_secs(3600), async {
                    sleep(Duration::from_secs(86400)).await?; // a day: too slow
                    Ok::<_, BoxError>(())
                })
                .await;
                (r, now() - t0)
            })
            .unwrap();
        let e = r.unwrap_err();
        assert!(e.downcast_ref::<TooSlow>().is_some(), "{e}");
        assert_eq!(took, Duration::from_secs(3600));
    }
}

/// A server that closes its first `fail` connections at once and answers "ok\n" afterwards.
async fn flaky_server(listener: &TcpListener, fail: u32, served: &Cell<u32>) -> Result<(), BoxError> {
    loop {
        let (s, _) = listener.accept().await?;
        served.set(served.get() + 1);
        if served.get() > fail {
            s.send_all(b"ok\n".to_vec()).await.0?;
        }
        s.close().await?;
    }
}

/// The client under test: connect and read a reply; on failure retry after 1 s, 2 s, 4 s, ...
async fn fetch_with_retry(addr: SocketAddr, attempts: u32) -> Result<(String, u32), BoxError> {
    let mut backoff = Duration::from_secs(1);
    for attempt in 1..=attempts {
        let s = TcpStream::connect(addr).await?;
        let (n, buf) = s.recv(Vec::with_capacity(16)).await;
        if n? > 0 {
            return Ok((String::from_utf8(buf)?, attempt));
        }
        sleep(backoff).await?;
        backoff *= 2;
    }
    Err("gave up".into())
}

#[test]
fn retry_with_backoff_against_a_server_that_fails_three_times() {
    let out = mock()
        .run(async {
            let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
            let addr = listener.local_addr()?;
            let served = Cell::new(0);
            let got = Cell::new(None);
            nursery(async |n| {
                let scope = CancelScope::new();
                let server = scope.clone();
                let (listener, served) = (&listener, &served);
                n.spawn(async move { server.run(flaky_server(listener, 3, served)).await.map(drop) })?;
                let got = &got;
                n.spawn(async move {
                    got.set(Some(fetch_with_retry(addr, 5).await.map_err(|e| e.to_string())));
                    scope.cancel();
                    Ok::<_, BoxError>(())
                })?;
                Ok::<_, BoxError>(())
            })
            .await?;
            Ok::<_, BoxError>((got.take().expect("client ran"), served.get(), elapsed()?))
        })
        .unwrap()
        .unwrap();
    let (reply, served, took) = out;
    assert_eq!(reply, Ok(("ok\n".to_string(), 4)));
    assert_eq!(served, 4);
    // 1 + 2 + 4 seconds of backoff, and not a nanosecond more: loopback I/O takes no virtual time.
    assert_eq!(took, Duration::from_secs(7));
}

/// A handler that works 3 s (request "f") or 60 s (request "s") before answering "done".
async fn worker(s: TcpStream) -> Result<(), BoxError> {
    let (n, req) = s.recv(Vec::with_capacity(1)).await;
    n?;
    let work = if req == b"f" { 3 } else { 60 };
    sleep(Duration::from_secs(work)).await?;
    s.send_all(b"done".to_vec()).await.0?;
    Ok(())
}

#[test]
fn graceful_server_shutdown_lets_short_work_finish_and_cuts_long_work_at_the_grace_period() {
    let out = mock()
        .run(async {
            let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
            let addr = listener.local_addr()?;
            let scope = CancelScope::new();
            let t0 = Cell::new(None);
            let server_done = Cell::new(None);
            let replies = nursery(async |n| {
                let (scope2, t0, server_done) = (scope.clone(), &t0, &server_done);
                n.spawn(async move {
                    let r = scope2.run(Serve::new().report(|_| {}).listeners(vec![listener], worker)).await;
                    server_done.set(Some((matches!(r, Ok(None)), now() - t0.get().expect("shutdown began"))));
                    Ok::<_, BoxError>(())
                })?;
                let fast = TcpStream::connect(addr).await?;
                let slow = TcpStream::connect(addr).await?;
                fast.send_all(b"f".to_vec()).await.0?;
                slow.send_all(b"s".to_vec()).await.0?;
                wait_all_tasks_blocked().await?; // both handlers are at work (sleeping)
                t0.set(Some(now()));
                scope.cancel_gracefully(Duration::from_secs(10));
                let (r, fast_reply) = fast.recv(Vec::with_capacity(8)).await;
                r?;
                let fast_at = now() - t0.get().expect("set");
                let (r, slow_reply) = slow.recv(Vec::with_capacity(8)).await;
                r?;
                let slow_at = now() - t0.get().expect("set");
                Ok::<_, BoxError>((fast_reply, fast_at, slow_reply, slow_at))
            })
            .await?;
            Ok::<_, BoxError>((replies, server_done.get()))
        })
        .unwrap()
        .unwrap();
    let ((fast, fast_at, slow, slow_at), server) = out;
    assert_eq!((fast.as_slice(), fast_at), (&b"done"[..], Duration::from_secs(3)), "finished within the grace");
    assert_eq!((slow.as_slice(), slow_at), (&b""[..], Duration::from_secs(10)), "cut at the end of the grace");
    assert_eq!(
        server,
        Some((true, Duration::from_secs(10))),
        "the server's scope caught its own cancellation at the end of the grace"
    );
}

#[test]
fn wait_all_tasks_blocked_sees_every_child_parked() {
    mock()
        .run(async {
            let progress = Cell::new(0u32);
            nursery(async |n| {
                for i in 0..3u32 {
                    let progress = &progress;
                    n.spawn(async move {
                        for _ in 0..=i {
                            quartet::yield_now().await;
                        }
                        progress.set(progress.get() + 1);
                        sleep(Duration::from_secs(1)).await // parked on a timer
                    })?;
                }
                wait_all_tasks_blocked().await?;
                assert_eq!(progress.get(), 3, "every child ran up to its sleep");
                assert_eq!(elapsed().unwrap(), Duration::ZERO, "no jump before the waiter woke");
                Ok::<_, BoxError>(())
            })
            .await
        })
        .unwrap()
        .unwrap();
}

#[test]
fn wait_all_tasks_blocked_is_a_cancellation_point() {
    let r = mock()
        .run(async {
            let scope = CancelScope::new();
            nursery(async |n| {
                let s = scope.clone();
                n.spawn(async move {
                    quartet::yield_now().await;
                    s.cancel(); // while the other task waits for idleness
                    Ok::<_, BoxError>(())
                })?;
                let waited = scope.run(wait_all_tasks_blocked()).await;
                Ok::<_, BoxError>(waited.map_err(|e| e.to_string())?)
            })
            .await
        })
        .unwrap()
        .unwrap();
    assert_eq!(r, None, "the scope caught the cancellation of the wait");
}

#[test]
fn deadlines_moved_while_waiting_follow_the_virtual_clock() {
    let at = mock()
        .run(async {
            let scope = CancelScope::with_deadline(now() + Duration::from_secs(5));
            let t0 = now();
            let r = scope
                .run(async {
                    sleep(Duration::from_secs(1)).await?;
                    scope.set_deadline(Some(now() + Duration::from_secs(60))); // extend once
                    sleep(Duration::from_secs(3600)).await?;
                    Ok::<_, quartet::Cancelled>(())
                })
                .await;
            assert_eq!(r, Ok(None));
            now() - t0
        })
        .unwrap();
    assert_eq!(at, Duration::from_secs(61));
}
