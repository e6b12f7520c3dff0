//! Serving on several cores: a `SO_REUSEPORT` listener per core (`ReusePortListeners`), and one
//! listener shared by every core, both serve every connection. The per-core split is printed
//! (it depends on the kernel's hash and on wake-up timing, so it is not asserted).

use quartet::net::{ReusePortListeners, Serve, TcpListener, TcpStream};
use quartet::{BoxError, CancelHandle, Core, PerCore, Pinning};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};

const CONNECTIONS: usize = 64;

/// Connects `CONNECTIONS` clients one after another (each echoes once), then stops the group.
fn clients(addr: SocketAddr, stop: CancelHandle) -> std::io::Result<()> {
    let result = (|| {
        for i in 0..CONNECTIONS {
            let mut s = std::net::TcpStream::connect(addr)?;
            let msg = format!("hello {i}");
            s.write_all(msg.as_bytes())?;
            let mut back = vec![0; msg.len()];
            s.read_exact(&mut back)?;
            assert_eq!(back, msg.as_bytes());
        }
        Ok(())
    })();
    stop.cancel();
    result
}

/// Serves `listener` on this core until cancelled, counting its connections in `accepted`.
async fn serve_counting(listener: TcpListener, accepted: &AtomicUsize) -> Result<(), BoxError> {
    let served = Serve::new()
        .listeners(vec![listener], async |s: TcpStream| {
            accepted.fetch_add(1, Ordering::SeqCst);
            let (n, buf) = s.recv(Vec::with_capacity(64)).await;
            n?;
            s.send_all(buf).await.0
        })
        .await;
    match served {
        Err(e) if quartet::is_cancellation(&e) => Err(e.into()),
        other => other.map_err(Into::into),
    }
}

fn run_group(take: impl Fn(&Core) -> std::io::Result<TcpListener> + Sync, addr: SocketAddr) -> [usize; 2] {
    let group = PerCore::new(2).pin(Pinning::Off);
    let stop = group.handle();
    let accepted = [AtomicUsize::new(0), AtomicUsize::new(0)];
    let client = std::thread::spawn(move || clients(addr, stop));
    let out = group.run(|core: Core| {
        let (accepted, take) = (&accepted, &take);
        async move { serve_counting(take(&core)?, &accepted[core.index()]).await }
    });
    client.join().unwrap().expect("every client was echoed");
    assert!(out.unwrap_err().is_cancelled(), "the servers ran until the clients were done");
    accepted.map(|a| a.into_inner())
}

#[test]
fn a_reuseport_listener_per_core_serves_every_connection() {
    let shards = ReusePortListeners::bind("127.0.0.1:0".parse().unwrap(), 2).unwrap();
    let split = run_group(|core| shards.take(core.index()), shards.local_addr());
    eprintln!("SO_REUSEPORT, {CONNECTIONS} sequential connections: core 0 {} / core 1 {}", split[0], split[1]);
    assert_eq!(split.iter().sum::<usize>(), CONNECTIONS);
}

#[test]
fn one_listener_shared_by_every_core_serves_every_connection() {
    let shared = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = shared.local_addr().unwrap();
    let split = run_group(|_| TcpListener::from_std(shared.try_clone()?), addr);
    eprintln!("one shared listener, {CONNECTIONS} sequential connections: core 0 {} / core 1 {}", split[0], split[1]);
    assert_eq!(split.iter().sum::<usize>(), CONNECTIONS);
}

/// A listener count of 0 or above the largest group is `InvalidInput`, checked before any socket
/// is opened (`usize::MAX` used to be a capacity-overflow panic).
#[test]
fn a_listener_count_out_of_range_is_invalid_input_not_a_panic() {
    for n in [0, 1025, usize::MAX] {
        let err = ReusePortListeners::bind("127.0.0.1:0".parse().unwrap(), n).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{n}");
    }
}
