//! `open_tcp_stream` / `OpenTcp` (Happy Eyeballs, RFC 8305) against real loopback peers.
//!
//! An address "that never answers" is a listener whose accept queue is full (backlog 0 plus one
//! queued connection): the kernel drops further SYNs, so a connect to it stays in SYN_SENT until
//! cancelled. Start order and staggering come from the call's own trace; the stagger is checked
//! only as a lower bound (a timer never fires early) and an upper hang guard.

use crate::nursery_support;

use nursery_support::{poll_once, run};
use quartet::net::{
    ConnectError, ListenOptions, OpenTcp, Outcome, TcpListener, TcpStream, interleave_families, open_tcp_stream,
};
use quartet::{move_on_after, sleep};
use std::net::SocketAddr;
use std::time::Duration;

/// A listener whose SYN queue drops new connections, and the connection that fills it.
struct Blackhole {
    addr: SocketAddr,
    listener: TcpListener,
    _filler: std::net::TcpStream,
}

fn blackhole(ip: &str) -> Option<Blackhole> {
    let listener = TcpListener::bind_with(format!("{ip}:0").parse().ok()?, ListenOptions::default().backlog(0)).ok()?;
    let addr = listener.local_addr().ok()?;
    let filler = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    Some(Blackhole { addr, listener, _filler: filler })
}

/// A port on `ip` where nothing listens (connects are refused at once).
fn refused(ip: &str) -> SocketAddr {
    let l = std::net::TcpListener::bind(format!("{ip}:0")).unwrap();
    l.local_addr().unwrap()
}

/// Sockets of this host still trying to connect (SYN_SENT) to `addr`.
fn syn_sent_to(addr: SocketAddr) -> usize {
    let port = format!(":{:04X}", addr.port());
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .flat_map(|t| t.lines().skip(1).map(str::to_owned).collect::<Vec<_>>())
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 3 && f[2].ends_with(&port) && f[3] == "02"
        })
        .count()
}

async fn until_no_syn_sent(addr: SocketAddr) -> bool {
    for _ in 0..200 {
        if syn_sent_to(addr) == 0 {
            return true;
        }
        sleep(Duration::from_millis(10)).await.unwrap();
    }
    false
}

#[test]
fn attempts_start_in_order_staggered_and_the_first_to_connect_wins() {
    run(async {
        let (Some(hole4), Some(hole6)) = (blackhole("127.0.0.2"), blackhole("[::1]")) else {
            eprintln!("skipped: no 127.0.0.2 or ::1 loopback here");
            return;
        };
        let good = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let good_addr = good.local_addr().unwrap();
        let stagger = Duration::from_millis(40);
        let addrs = [hole4.addr, hole6.addr, good_addr];
        let (r, trace) = OpenTcp::new().stagger(stagger).connect_addrs_traced(&addrs).await;
        let stream = r.unwrap();
        assert_eq!(stream.peer_addr().unwrap(), good_addr, "the only answering address wins");
        let order: Vec<SocketAddr> = trace.iter().map(|a| a.addr).collect();
        assert_eq!(order, addrs, "attempts start in the given order");
        assert_eq!(
            trace.iter().map(|a| a.outcome).collect::<Vec<_>>(),
            [Outcome::Cancelled, Outcome::Cancelled, Outcome::Won]
        );
        for w in trace.windows(2) {
            let gap = w[1].started - w[0].started;
            assert!(gap >= stagger - Duration::from_millis(1), "attempts are staggered: {trace:?}");
            assert!(gap < Duration::from_secs(5), "hang guard: {trace:?}");
        }
        let (server_side, _) = good.accept().await.unwrap();
        drop(server_side);
        assert!(until_no_syn_sent(hole4.addr).await, "the losing attempt's socket to {} was closed", hole4.addr);
        assert!(until_no_syn_sent(hole6.addr).await, "the losing attempt's socket to {} was closed", hole6.addr);
    });
}

#[test]
fn a_slow_first_address_wins_when_it_answers_within_the_stagger() {
    run(async {
        let Some(slow) = blackhole("127.0.0.2") else {
            eprintln!("skipped: no 127.0.0.2 loopback here");
            return;
        };
        let never_tried = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addrs = [slow.addr, never_tried.local_addr().unwrap()];
        let r = quartet::nursery(async |n| {
            // After 200 ms the slow listener takes its queued connection; the attempt's SYN, sent
            // again after the kernel's 1 s retransmit timeout, then gets through.
            n.spawn(async {
                sleep(Duration::from_millis(200)).await?;
                slow.listener.accept().await.map(drop)
            })?;
            Ok::<_, quartet::BoxError>(
                OpenTcp::new().stagger(Duration::from_secs(20)).connect_addrs_traced(&addrs).await,
            )
        })
        .await;
        let (r, trace) = r.unwrap();
        assert_eq!(r.unwrap().peer_addr().unwrap(), slow.addr, "the first address answered late and won");
        assert_eq!(trace.len(), 1, "the second attempt never started: {trace:?}");
        assert_eq!(trace[0].outcome, Outcome::Won);
    });
}

#[test]
fn a_failed_attempt_starts_the_next_without_waiting_for_the_stagger() {
    run(async {
        let good = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addrs = [refused("127.0.0.1"), good.local_addr().unwrap()];
        // a stagger far longer than the test's hang guard: only the failure can start attempt 2
        let r = move_on_after(Duration::from_secs(10), async {
            Ok::<_, quartet::Cancelled>(
                OpenTcp::new().stagger(Duration::from_secs(60)).connect_addrs_traced(&addrs).await,
            )
        })
        .await
        .unwrap();
        let (r, trace) = r.expect("did not wait for the 60 s stagger");
        assert_eq!(r.unwrap().peer_addr().unwrap(), addrs[1]);
        assert_eq!(trace.iter().map(|a| a.outcome).collect::<Vec<_>>(), [Outcome::Failed, Outcome::Won]);
    });
}

#[test]
fn when_nothing_connects_every_error_is_reported_in_order() {
    run(async {
        let addrs = [refused("127.0.0.1"), refused("127.0.0.1"), refused("127.0.0.1")];
        let e = OpenTcp::new().connect_addrs(&addrs).await.expect_err("nothing listens");
        let ConnectError::AllFailed(errors) = e else { panic!("expected AllFailed, got {e:?}") };
        assert_eq!(errors.iter().map(|(a, _)| *a).collect::<Vec<_>>(), addrs);
        for (_, err) in &errors {
            assert_eq!(err.as_io().and_then(|e| e.raw_os_error()), Some(libc::ECONNREFUSED));
        }
        assert!(matches!(OpenTcp::new().connect_addrs(&[]).await, Err(ConnectError::NoAddresses)));
    });
}

#[test]
fn cancelling_the_open_cancels_every_attempt_and_closes_their_sockets() {
    run(async {
        let (Some(a), Some(b)) = (blackhole("127.0.0.2"), blackhole("127.0.0.3")) else {
            eprintln!("skipped: no 127.0.0.2/127.0.0.3 here");
            return;
        };
        // the detector sees a connect in flight to a blackhole ...
        {
            let mut probe = std::pin::pin!(TcpStream::connect(a.addr));
            assert!(poll_once(probe.as_mut()).await.is_pending());
            sleep(Duration::from_millis(20)).await.unwrap();
            assert_eq!(syn_sent_to(a.addr), 1, "a connect to a full backlog stays in SYN_SENT");
        }
        // ... and sees it go once the connect's future is dropped
        assert!(until_no_syn_sent(a.addr).await);
        let addrs = [a.addr, b.addr];
        let r = move_on_after(Duration::from_millis(150), async {
            match OpenTcp::new().stagger(Duration::from_millis(20)).connect_addrs(&addrs).await {
                Err(ConnectError::Cancelled(c)) => Err(c),
                other => panic!("expected a cancellation, got {other:?}"),
            }
        })
        .await;
        assert!(matches!(r, Ok(None::<()>)), "{r:?}");
        assert!(until_no_syn_sent(a.addr).await && until_no_syn_sent(b.addr).await, "no attempt left connecting");
    });
}

#[test]
fn open_tcp_stream_resolves_names_and_literals() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let port = listener.local_addr().unwrap().port();
        let s = open_tcp_stream("localhost", port).await.unwrap();
        assert_eq!(s.peer_addr().unwrap().port(), port);
        let s2 = open_tcp_stream("127.0.0.1", port).await.unwrap();
        assert_eq!(s2.peer_addr().unwrap(), listener.local_addr().unwrap());
        let e = open_tcp_stream("no-such-host.invalid", port).await.expect_err("unresolvable");
        assert!(matches!(e, ConnectError::Lookup { .. }), "{e:?}");
    });
}

#[test]
fn interleaving_alternates_families_from_the_first() {
    let p = |s: &str| s.parse::<SocketAddr>().unwrap();
    let input = vec![p("[::1]:1"), p("[::2]:1"), p("[::3]:1"), p("10.0.0.1:1"), p("10.0.0.2:1")];
    let out = interleave_families(input);
    assert_eq!(out, vec![p("[::1]:1"), p("10.0.0.1:1"), p("[::2]:1"), p("10.0.0.2:1"), p("[::3]:1")]);
    let v4_first = interleave_families(vec![p("10.0.0.1:1"), p("[::1]:1"), p("10.0.0.2:1")]);
    assert_eq!(v4_first, vec![p("10.0.0.1:1"), p("[::1]:1"), p("10.0.0.2:1")]);
    assert!(interleave_families(Vec::new()).is_empty());
}
