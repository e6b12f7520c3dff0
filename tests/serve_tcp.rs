//! `serve_tcp` / `serve_listeners` / `Serve` against real loopback clients: startup through
//! `Nursery::start`, the handler-failure policy (log and keep serving by default, propagate on
//! request), graceful shutdown, and one accept loop per listener.

use crate::nursery_support;

use nursery_support::run;
use quartet::net::{HandlerFailure, Serve, ServeError, ServeEvent, TcpListener, TcpStream, serve_listeners};
use quartet::{BoxError, Event, OpError, nursery, sleep};
use std::cell::RefCell;
use std::net::SocketAddr;
use std::time::Duration;

async fn echo(s: TcpStream) -> Result<(), OpError> {
    loop {
        let (n, buf) = s.recv(Vec::with_capacity(1024)).await;
        if n? == 0 {
            return Ok(());
        }
        s.send_all(buf).await.0?;
    }
}

async fn round_trip(addr: SocketAddr, msg: &[u8]) -> Result<Vec<u8>, OpError> {
    let c = TcpStream::connect(addr).await?;
    c.send_all(msg.to_vec()).await.0?;
    let (n, buf) = c.recv(Vec::with_capacity(1024)).await;
    n?;
    Ok(buf)
}

fn loopback(addrs: &[SocketAddr]) -> SocketAddr {
    let port = addrs[0].port();
    if addrs[0].is_ipv6() {
        SocketAddr::from(([0, 0, 0, 0, 0, 0, 0, 1], port))
    } else {
        SocketAddr::from(([127, 0, 0, 1], port))
    }
}

/// The nursery ended because its own scope was cancelled (the body may return first).
fn stopped_by_us(r: &Result<(), quartet::NurseryError>) -> bool {
    r.as_ref().map_or_else(|e| e.is_own_cancel(), |()| true)
}

#[test]
fn started_server_reports_its_address_serves_and_stops_when_cancelled() {
    run(async {
        let r = nursery(async |n| {
            let addrs = n.start(|st| Serve::new().started(st).tcp(0, echo)).await?;
            assert_eq!(addrs.len(), 1);
            assert_ne!(addrs[0].port(), 0, "the real port is reported");
            // dual-stack: an IPv4 client reaches it too
            let v4 = SocketAddr::from(([127, 0, 0, 1], addrs[0].port()));
            assert_eq!(round_trip(v4, b"hello").await?, b"hello");
            assert_eq!(round_trip(loopback(&addrs), b"again").await?, b"again");
            n.cancel();
            Ok::<_, BoxError>(())
        })
        .await;
        assert!(stopped_by_us(&r), "stopped by our own cancel: {r:?}");
    });
}

#[test]
fn failing_and_panicking_handlers_are_reported_and_the_server_keeps_serving() {
    run(async {
        let events = RefCell::new(Vec::<String>::new());
        let r = nursery(async |n| {
            let addrs = n
                .start(|st| {
                    Serve::new().started(st).report(|e: &ServeEvent<'_>| events.borrow_mut().push(e.to_string())).tcp(
                        0,
                        async |s: TcpStream| {
                            let (n, buf) = s.recv(Vec::with_capacity(64)).await;
                            n?;
                            match &buf[..] {
                                b"fail" => Err(std::io::Error::other("handler said no").into()),
                                b"panic" => panic!("handler blew up"),
                                _ => s.send_all(buf).await.0,
                            }
                        },
                    )
                })
                .await?;
            let addr = loopback(&addrs);
            let c1 = TcpStream::connect(addr).await?;
            c1.send_all(b"fail".to_vec()).await.0?;
            let (n1, _) = c1.recv(Vec::with_capacity(8)).await;
            assert_eq!(n1?, 0, "the failed handler's connection is closed");
            let c2 = TcpStream::connect(addr).await?;
            c2.send_all(b"panic".to_vec()).await.0?;
            let (n2, _) = c2.recv(Vec::with_capacity(8)).await;
            assert_eq!(n2?, 0, "the panicked handler's connection is closed");
            assert_eq!(round_trip(addr, b"still here").await?, b"still here", "the server keeps serving");
            n.cancel();
            Ok::<_, BoxError>(())
        })
        .await;
        assert!(stopped_by_us(&r), "{r:?}");
        let events = events.into_inner();
        assert_eq!(events.len(), 2, "{events:?}");
        assert!(events[0].contains("handler said no"), "{events:?}");
        assert!(events[1].contains("panicked: handler blew up"), "{events:?}");
    });
}

#[test]
fn propagate_mode_stops_the_server_and_cancels_other_connections() {
    run(async {
        let waiting = Event::new();
        let other_cancelled = RefCell::new(false);
        let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let r = nursery(async |n| {
            n.spawn(async {
                let idle = TcpStream::connect(addr).await?;
                waiting.wait().await?;
                let failing = TcpStream::connect(addr).await?;
                failing.send_all(b"fail".to_vec()).await.0?;
                // both stay open until the server is gone
                let _ = (idle, failing);
                Ok::<_, OpError>(())
            })?;
            Serve::new()
                .handler_failure(HandlerFailure::Propagate)
                .listeners(vec![listener], async |s: TcpStream| {
                    if !waiting.is_set() {
                        waiting.set();
                        // the first connection idles until the server cancels it
                        let (r, _) = s.recv(Vec::with_capacity(8)).await;
                        *other_cancelled.borrow_mut() = r.as_ref().is_err_and(OpError::is_cancelled);
                        return r.map(drop);
                    }
                    Err(std::io::Error::other("fatal for the server").into())
                })
                .await
                .map_err(BoxError::from)
        })
        .await;
        let e = r.expect_err("the handler's failure propagates");
        let text = e.to_string();
        assert!(text.contains("fatal for the server"), "{text}");
        assert!(*other_cancelled.borrow(), "the idle connection's handler was cancelled");
    });
}

#[test]
fn cancelling_the_server_cancels_open_connections_and_closes_them() {
    run(async {
        let handler_saw_cancel = RefCell::new(false);
        let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let r = nursery(async |n| {
            let server = n.spawn(async {
                serve_listeners(vec![listener], async |s: TcpStream| {
                    let (r, _) = s.recv(Vec::with_capacity(8)).await;
                    *handler_saw_cancel.borrow_mut() = r.as_ref().is_err_and(OpError::is_cancelled);
                    r.map(drop)
                })
                .await
            })?;
            let client = TcpStream::connect(addr).await?;
            sleep(Duration::from_millis(20)).await?;
            n.cancel();
            drop(server);
            // the server closed its end: the client sees end of stream
            let (got, _) =
                quartet::shield(async { Ok::<_, OpError>(client.recv(Vec::with_capacity(8)).await) }).await?.unwrap();
            assert_eq!(got?, 0);
            Ok::<_, BoxError>(())
        })
        .await;
        assert!(stopped_by_us(&r), "{r:?}");
        assert!(*handler_saw_cancel.borrow(), "the connection's handler was cancelled");
    });
}

#[test]
fn serve_listeners_accepts_on_every_listener() {
    run(async {
        let Ok(v6) = TcpListener::bind("[::1]:0".parse().unwrap()) else {
            eprintln!("skipped: no IPv6 loopback");
            return;
        };
        let v4 = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let r = nursery(async |n| {
            let addrs = n.start(|st| Serve::new().started(st).listeners(vec![v4, v6], echo)).await?;
            assert_eq!(addrs.len(), 2);
            for a in &addrs {
                assert_eq!(round_trip(*a, b"each").await?, b"each");
            }
            n.cancel();
            Ok::<_, BoxError>(())
        })
        .await;
        assert!(stopped_by_us(&r), "{r:?}");
    });
}

#[test]
fn a_server_in_a_cancelled_scope_returns_cancelled() {
    run(async {
        let scope = quartet::CancelScope::new();
        scope.cancel();
        let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let r = scope.run(async { serve_listeners(vec![listener], echo).await }).await;
        assert!(matches!(r, Ok(None)), "the scope caught the server's cancellation: {r:?}");
        let e = ServeError::Cancelled(quartet::Cancelled::new(quartet::Reason::Explicit));
        assert!(quartet::is_cancellation(&e), "scopes recognise a cancelled server's error");
    });
}

#[test]
fn a_bind_failure_comes_out_of_start() {
    run(async {
        let taken = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let r = nursery(async |n| {
            let e = n.start(|st| Serve::new().started(st).tcp(port, echo)).await.expect_err("the port is taken");
            let text = e.to_string();
            assert!(text.contains("could not listen"), "{text}");
            Ok::<_, BoxError>(())
        })
        .await;
        assert!(r.is_ok(), "the failure went to the start call, not the nursery: {r:?}");
    });
}
