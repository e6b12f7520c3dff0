//! H8: a task that never blocks (it yields, or spawns, in a loop forever) cannot starve I/O or
//! timers: the kernel still turns the ring and fires timers between its polls.
//!
//! A starved loop would never finish on its own, so each test arms a watchdog thread that cancels
//! the nursery from outside after a generous delay and records that it had to; the test then
//! fails with that finding instead of hanging.

use crate::hazard_support;

use hazard_support::{tcp_pair, watchdog};
use quartet::net::TcpListener;
use quartet::{BoxError, CancelHandle, OpError, Reason, SpawnError, checkpoint, nursery, run, sleep, yield_now};
use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Cancels `handle` from another thread after `after` unless disarmed first; reports whether it
/// fired.
struct Rescue {
    fired: Arc<AtomicBool>,
    disarm: Option<std::sync::mpsc::Sender<()>>,
}

fn rescue(handle: CancelHandle, after: Duration) -> Rescue {
    let fired = Arc::new(AtomicBool::new(false));
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let f = fired.clone();
    std::thread::spawn(move || {
        if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(after) {
            f.store(true, Ordering::SeqCst);
            handle.cancel_with(Reason::Other("starvation watchdog".into()));
        }
    });
    Rescue { fired, disarm: Some(tx) }
}

impl Rescue {
    fn fired(mut self) -> bool {
        if let Some(tx) = self.disarm.take() {
            let _ = tx.send(());
        }
        self.fired.load(Ordering::SeqCst)
    }
}

/// A TCP round trip and a sleep finish while a sibling yields in a loop that never blocks.
#[test]
fn task_yielding_forever_does_not_starve_io_or_timers() {
    let _w = watchdog(Duration::from_secs(60), "starvation test");
    let io_done = Cell::new(false);
    let spins = Cell::new(0u64);
    let fired = run(async {
        let (io_done, spins) = (&io_done, &spins);
        let mut rescue_slot = None;
        let r = nursery(async |n| {
            rescue_slot = Some(rescue(n.cancel_handle(), Duration::from_secs(10)));
            let handle = n.cancel_handle();
            n.spawn_named("spinner", async move {
                loop {
                    yield_now().await; // never blocks, never sleeps
                    spins.set(spins.get() + 1);
                    checkpoint().await?; // cancellable, so the nursery can end
                }
                #[allow(unreachable_code)]
                Ok::<_, quartet::Cancelled>(())
            })?;
            n.spawn_named("io", async move {
                let (stream, mut peer) = tcp_pair().await?;
                let (r, _) = stream.send_all(b"ping".to_vec()).await;
                r?;
                let mut got = [0u8; 4];
                std::io::Read::read_exact(&mut peer, &mut got)?;
                std::io::Write::write_all(&mut peer, b"pong")?;
                let (n, buf) = stream.recv(Vec::with_capacity(4)).await;
                assert_eq!((n?, &buf[..]), (4, &b"pong"[..]));
                sleep(Duration::from_millis(20)).await?;
                stream.close().await?;
                io_done.set(true);
                handle.cancel(); // done: stop the spinner
                Ok::<_, OpError>(())
            })?;
            Ok::<_, SpawnError>(())
        })
        .await;
        let fired = rescue_slot.expect("armed").fired();
        r.map(|_| fired)
    })
    .unwrap()
    .unwrap();
    assert!(!fired, "the I/O task was starved: the nursery had to be cancelled from outside");
    assert!(io_done.get());
    assert!(spins.get() > 0, "the spinner ran");
}

/// A task that keeps spawning short-lived siblings cannot keep the kernel from accepting and
/// serving a connection.
#[test]
fn task_spawning_forever_does_not_starve_accept() {
    let _w = watchdog(Duration::from_secs(60), "spawn starvation test");
    let served = Cell::new(false);
    let fired = run(async {
        let served = &served;
        let mut rescue_slot = None;
        let r = nursery(async |n| {
            rescue_slot = Some(rescue(n.cancel_handle(), Duration::from_secs(10)));
            let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
            let addr = listener.local_addr()?;
            let spawner = n.clone();
            n.spawn_named("spawner", async move {
                loop {
                    checkpoint().await?;
                    spawner.spawn(async { Ok::<_, quartet::Cancelled>(()) })?;
                }
                #[allow(unreachable_code)]
                Ok::<_, BoxError>(())
            })?;
            let handle = n.cancel_handle();
            n.spawn_named("server", async move {
                let client = std::thread::spawn(move || std::net::TcpStream::connect(addr).map(drop));
                let (stream, _) = listener.accept().await?;
                stream.close().await?;
                listener.close().await?;
                client.join().unwrap()?;
                served.set(true);
                handle.cancel();
                Ok::<_, OpError>(())
            })?;
            Ok::<_, BoxError>(())
        })
        .await;
        let fired = rescue_slot.expect("armed").fired();
        r.map(|_| fired)
    })
    .unwrap()
    .unwrap();
    assert!(!fired, "the accept was starved: the nursery had to be cancelled from outside");
    assert!(served.get());
}
