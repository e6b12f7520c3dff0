//! Basic driver behaviour: nops, sleeps, TCP round trip.

use quartet_runtime::net::{TcpListener, TcpStream};
use quartet_runtime::{OpError, run, sleep};
use std::time::{Duration, Instant};

#[test]
fn nops_complete_and_are_counted() {
    let stats = run(async {
        for _ in 0..1000 {
            quartet_runtime::nop().await.unwrap();
        }
        quartet_runtime::stats().unwrap()
    })
    .unwrap();
    assert!(stats.driver.ops >= 1000, "{stats:?}");
    assert_eq!(stats.live_ops, 0);
}

#[test]
fn sleep_waits_at_least_its_duration() {
    let start = Instant::now();
    run(async { sleep(Duration::from_millis(30)).await.unwrap() }).unwrap();
    assert!(start.elapsed() >= Duration::from_millis(30));
}

#[test]
fn tcp_round_trip_over_loopback() {
    run(async {
        let l = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
        let addr = l.local_addr()?;
        let c = TcpStream::connect(addr).await?;
        let (s, _) = l.accept().await?;
        let (r, _) = c.send_all(b"hello".to_vec()).await;
        r?;
        let (n, buf) = s.recv(Vec::with_capacity(16)).await;
        assert_eq!(n?, 5);
        assert_eq!(&buf[..], b"hello");
        c.close().await?;
        s.close().await?;
        Ok::<(), OpError>(())
    })
    .unwrap()
    .unwrap();
}
