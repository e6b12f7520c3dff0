//! `Builder::busy_poll`: the loop spins on non-blocking enters before it blocks. The spin must not
//! change what the program sees: a ping-pong with a peer still works (and the spin is what
//! catches the answers), timers still fire no earlier than their instant on the real and the mock
//! clock, and a cancel still reaches an op blocked in the kernel, from this thread or another.

use crate::nursery_support;

use nursery_support::{tcp_pair, watchdog};
use quartet::{Builder, CancelScope, MAX_BUSY_POLL, OpError, move_on_after, now, sleep, sleep_until, stats};
use std::io::{Read, Write};
use std::time::{Duration, Instant};

fn run_with<F: std::future::Future>(b: Builder, fut: F) -> F::Output {
    watchdog(Duration::from_secs(60), || b.run(fut).expect("quartet runtime"))
}

/// A std thread echoes everything it reads on a loopback connection.
fn echo_peer() -> (std::net::SocketAddr, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let peer = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_nodelay(true).unwrap();
        let mut buf = [0u8; 256];
        loop {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => s.write_all(&buf[..n]).unwrap(),
            }
        }
    });
    (addr, peer)
}

async fn ping_pong(addr: std::net::SocketAddr, rounds: u32) -> Result<(), OpError> {
    let stream = quartet::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let mut buf = Vec::with_capacity(64);
    for i in 0..rounds {
        let msg = format!("ping {i}").into_bytes();
        let (r, _) = stream.send_all(msg.clone()).await;
        r?;
        let mut got = Vec::new();
        while got.len() < msg.len() {
            buf.clear();
            let (n, b) = stream.recv(buf).await;
            buf = b;
            let n = n?;
            assert_ne!(n, 0, "the peer closed early");
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, msg);
    }
    Ok(())
}

#[test]
fn ping_pong_works_and_the_spin_catches_the_answers() {
    let (addr, peer) = echo_peer();
    let s = run_with(Builder::new().busy_poll(Duration::from_secs(1)), async move {
        ping_pong(addr, 200).await.unwrap();
        stats().unwrap().driver
    });
    peer.join().unwrap();
    assert!(s.busy_polls > 0, "the loop never spun before blocking: {s:?}");
    // Every wait here ends with the peer's answer, well within the 1 s bound.
    assert!(s.busy_poll_hits > 0, "no spin found the answer: {s:?}");
}

#[test]
fn off_by_default_and_zero_is_off() {
    for b in [Builder::new(), Builder::new().busy_poll(Duration::ZERO)] {
        let (addr, peer) = echo_peer();
        let s = run_with(b, async move {
            ping_pong(addr, 20).await.unwrap();
            sleep(Duration::from_millis(2)).await.unwrap();
            stats().unwrap().driver
        });
        peer.join().unwrap();
        assert_eq!((s.busy_polls, s.busy_poll_hits), (0, 0), "{s:?}");
    }
}

#[test]
fn timers_never_fire_early_on_the_real_clock() {
    // Duration::MAX is clamped (no overflow, no panic), so the spin is bounded by the timer.
    assert!(MAX_BUSY_POLL < Duration::MAX);
    run_with(Builder::new().busy_poll(Duration::MAX), async {
        for ms in [1u64, 3, 7] {
            let start = Instant::now();
            let deadline = now() + Duration::from_millis(ms);
            sleep_until(deadline).await.unwrap();
            assert!(now() >= deadline, "a sleep ended before its deadline");
            assert!(start.elapsed() >= Duration::from_millis(ms));
        }
        assert!(stats().unwrap().driver.busy_polls > 0);
    });
}

#[test]
fn timers_follow_the_mock_clock() {
    let b = Builder::new().busy_poll(Duration::from_millis(5)).mock_clock(true);
    run_with(b, async {
        let t0 = now();
        let deadline = t0 + Duration::from_secs(3600);
        sleep_until(deadline).await.unwrap();
        assert!(now() >= deadline, "the virtual sleep ended early");
        // A deadline scope on the mock clock still cancels, at its instant.
        let r = move_on_after(Duration::from_secs(60), sleep(Duration::from_secs(120))).await;
        assert_eq!(r.unwrap(), None, "the 60 s deadline must cancel the 120 s sleep");
        assert!(now() >= deadline + Duration::from_secs(60));
    });
}

#[test]
fn a_deadline_cancels_a_blocked_recv() {
    run_with(Builder::new().busy_poll(Duration::from_secs(1)), async {
        let (client, _server) = tcp_pair().await.unwrap();
        let start = Instant::now();
        let r = move_on_after(Duration::from_millis(20), async {
            let (r, _buf) = client.recv(Vec::with_capacity(16)).await;
            r
        })
        .await;
        assert_eq!(r.unwrap(), None, "nothing was sent: the recv can only be cancelled");
        assert!(start.elapsed() >= Duration::from_millis(20), "the deadline fired early");
    });
}

#[test]
fn a_cancel_from_another_thread_reaches_a_blocked_recv() {
    run_with(Builder::new().busy_poll(Duration::from_secs(1)), async {
        let (client, _server) = tcp_pair().await.unwrap();
        let scope = CancelScope::new();
        let handle = scope.handle();
        let canceller = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            handle.cancel();
        });
        let r = scope
            .run(async {
                let (r, _buf) = client.recv(Vec::with_capacity(16)).await;
                r
            })
            .await;
        canceller.join().unwrap();
        assert_eq!(r.unwrap(), None, "the recv must end cancelled");
        assert!(stats().unwrap().driver.busy_polls > 0);
    });
}

/// `Builder::wake_spin`: a wait spins only after a wake from another thread, once per wake.
#[test]
fn wake_spin_spins_once_after_each_remote_wake_and_never_otherwise() {
    run_with(Builder::new().wake_spin(Duration::from_micros(200)), async {
        let spins = || stats().unwrap().driver.busy_polls;
        // Waits that follow no remote wake never spin.
        for _ in 0..3 {
            sleep(Duration::from_millis(1)).await.unwrap();
        }
        assert_eq!(spins(), 0, "the loop spun with no wake from another thread");
        for round in 1..=3u64 {
            // The job outlasts the loop's first poll of it, so its completion reaches the loop as
            // a wake from the worker thread (a job done by then needs no wake at all).
            quartet::to_thread(|| std::thread::sleep(Duration::from_millis(3))).await.unwrap();
            sleep(Duration::from_millis(2)).await.unwrap();
            let after_wake = spins();
            assert!(after_wake >= round, "round {round}: the wait after a remote wake did not spin");
            // That spin found nothing from another thread, so it disarmed: no further spins.
            sleep(Duration::from_millis(2)).await.unwrap();
            sleep(Duration::from_millis(2)).await.unwrap();
            assert_eq!(spins(), after_wake, "round {round}: the loop kept spinning with no remote wake");
        }
    });
}

/// A cross-thread ping-pong: the answering thread's wakes keep the spin armed, and the spin sees
/// them arrive (hits), so the loop is woken by a queue push instead of an unpark.
#[test]
fn wake_spin_catches_wakes_from_a_thread_that_answers_quickly() {
    let s = run_with(Builder::new().wake_spin(Duration::from_millis(500)), async {
        for _ in 0..100 {
            // Long enough that the loop is waiting (spinning) when the job's wake arrives.
            quartet::to_thread(|| std::thread::sleep(Duration::from_micros(50))).await.unwrap();
        }
        stats().unwrap().driver
    });
    assert!(s.busy_poll_hits > 0, "no spin caught the worker's answer: {s:?}");
}

#[test]
fn wake_spin_zero_is_off_and_busy_poll_wins() {
    let s = run_with(Builder::new().wake_spin(Duration::ZERO), async {
        quartet::to_thread(|| std::thread::sleep(Duration::from_millis(3))).await.unwrap();
        sleep(Duration::from_millis(2)).await.unwrap();
        stats().unwrap().driver
    });
    assert_eq!(s.busy_polls, 0, "{s:?}");
    let s = run_with(Builder::new().wake_spin(Duration::from_millis(1)).busy_poll(Duration::from_millis(1)), async {
        for _ in 0..3 {
            sleep(Duration::from_millis(2)).await.unwrap();
        }
        stats().unwrap().driver
    });
    assert!(s.busy_polls >= 3, "busy_poll spins before every wait: {s:?}");
}

/// With nothing in flight in the kernel, a spin cannot be ended by a completion: it watches the
/// remote queue's flag only, without an `io_uring_enter` per turn of the spin.
#[test]
fn a_spin_with_nothing_in_flight_makes_no_enters() {
    let (spins, enters) = run_with(Builder::new().busy_poll(Duration::from_millis(50)), async {
        sleep(Duration::from_millis(1)).await.unwrap(); // settle: the wake read is armed
        let before = stats().unwrap().driver;
        // A 10 ms sleep spins (up to its deadline) before the wait blocks.
        sleep(Duration::from_millis(10)).await.unwrap();
        let after = stats().unwrap().driver;
        (after.busy_polls - before.busy_polls, after.enters - before.enters)
    });
    assert!(spins >= 1, "the loop never spun");
    // A spin of ~10 ms making an enter per turn would make thousands.
    assert!(enters < 20, "{enters} enters for {spins} spins with nothing in flight");
}
