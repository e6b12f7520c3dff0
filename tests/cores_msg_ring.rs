//! Cross-core wake-ups over `IORING_OP_MSG_RING` (ARCHITECTURE.md, "Cross-core wake-ups"): a
//! channel ping-pong and a `spawn_on` + join between two cores wake each other through MSG_RING
//! when the kernel has it, and through the eventfd when it is turned off; a wake queued for a
//! runtime that shuts down before the message is submitted reaches no other ring; a thread that
//! runs no runtime keeps the eventfd. (A wake to a kernel that is awake sends nothing at all, so
//! the tests that need a message make sure that its target is blocked in its ring.)
//!
//! Which path was taken is read from the runtime's counters (`DriverStats`), never from timing.

use quartet::runtime::{Builder, DriverStats};
use quartet::{BoxError, Core, PerCore, Pinning};
use std::future::poll_fn;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};

const ROUNDS: u64 = 200;

/// Each core's counters at the end of its body, and whether it used MSG_RING.
type Seen = Vec<(bool, DriverStats)>;

fn counters() -> (bool, DriverStats) {
    let s = quartet::stats().expect("inside a core's runtime");
    (s.msg_ring, s.driver)
}

fn ping_pong(group: PerCore) -> Seen {
    let (tx1, rx1) = quartet::channel::<u64>(1);
    let (tx2, rx2) = quartet::channel::<u64>(1);
    group
        .run(|core: Core| {
            let (tx1, rx1, tx2, rx2) = (tx1.clone(), rx1.clone(), tx2.clone(), rx2.clone());
            async move {
                if core.index() == 0 {
                    for i in 0..ROUNDS {
                        tx1.send(i).await.map_err(|e| e.to_string())?;
                        assert_eq!(rx2.recv().await?, Some(i + 1));
                    }
                } else {
                    for _ in 0..ROUNDS {
                        let v = rx1.recv().await?.ok_or("ping ended")?;
                        tx2.send(v + 1).await.map_err(|e| e.to_string())?;
                    }
                }
                Ok::<_, BoxError>(counters())
            }
        })
        .unwrap()
}

fn spawn_and_join(group: PerCore) -> Seen {
    group
        .run(|core: Core| async move {
            if core.index() == 0 {
                core.nursery(async |n| {
                    for i in 0..ROUNDS {
                        let v = n.spawn_on(1, move || async move { Ok::<_, BoxError>(i * 2) })?.await?;
                        assert_eq!(v, i * 2);
                    }
                    Ok::<_, BoxError>(())
                })
                .await?;
            }
            Ok::<_, BoxError>(counters())
        })
        .unwrap()
}

/// Whether this kernel has MSG_RING (and the runtime turned it on): probed by a runtime.
fn msg_ring_available() -> bool {
    quartet::run(async { quartet::stats().unwrap().msg_ring }).unwrap()
}

#[test]
fn a_channel_ping_pong_between_cores_wakes_each_core_through_msg_ring() {
    let seen = ping_pong(PerCore::new(2).pin(Pinning::Off));
    if !msg_ring_available() {
        eprintln!("no IORING_OP_MSG_RING on this kernel: the eventfd path was used");
        assert!(seen.iter().all(|(on, s)| !on && s.msg_ring_sent == 0));
        return;
    }
    for (core, (on, s)) in seen.iter().enumerate() {
        assert!(on, "core {core} probed MSG_RING");
        assert!(s.msg_ring_sent >= 1, "core {core} woke the other through MSG_RING: {s:?}");
        assert!(s.remote_wakes_msg_ring >= 1, "core {core} was woken by a MSG_RING: {s:?}");
        assert_eq!(s.msg_ring_failed, 0, "core {core}: {s:?}");
        assert_eq!(s.remote_wakes_eventfd, 0, "core {core}: only kernel threads woke it: {s:?}");
    }
}

#[test]
fn a_spawn_on_and_its_join_wake_the_other_core_through_msg_ring() {
    let seen = spawn_and_join(PerCore::new(2).pin(Pinning::Off));
    if !msg_ring_available() {
        eprintln!("no IORING_OP_MSG_RING on this kernel: the eventfd path was used");
        return;
    }
    let (_, home) = seen[0];
    // Core 0's pushes to core 1's mailbox wake it; core 1's child ending wakes the join on core 0.
    assert!(home.msg_ring_sent >= 1, "{home:?}");
    assert!(home.remote_wakes_msg_ring >= 1, "{home:?}");
    assert_eq!(home.msg_ring_failed, 0, "{home:?}");
}

#[test]
fn with_msg_ring_turned_off_the_eventfd_carries_every_cross_core_wake() {
    let eventfd_only = || PerCore::new(2).pin(Pinning::Off).runtime(Builder::new().msg_ring(false));
    for seen in [ping_pong(eventfd_only()), spawn_and_join(eventfd_only())] {
        for (core, (on, s)) in seen.iter().enumerate() {
            assert!(!on, "core {core}");
            assert_eq!((s.msg_ring_sent, s.remote_wakes_msg_ring), (0, 0), "core {core}: {s:?}");
        }
        assert!(seen.iter().any(|(_, s)| s.remote_wakes_eventfd >= 1), "{seen:?}");
    }
}

#[test]
fn optional_opcodes_off_turns_msg_ring_off() {
    let seen = ping_pong(PerCore::new(2).pin(Pinning::Off).runtime(Builder::new().optional_opcodes(false)));
    assert!(seen.iter().all(|(on, s)| !on && s.msg_ring_sent == 0 && s.remote_wakes_msg_ring == 0), "{seen:?}");
}

/// Runtime A wakes runtime B's root waker while B is blocked in its ring (a MSG_RING is queued on
/// A's ring, naming B's ring; a B that was awake would be sent none), but does not end its tick
/// until B has woken for another reason (a datagram), shut down, and a new runtime B2 runs on B's
/// thread, where B's closed fd numbers are free to be reused. The message must still be delivered
/// to B's old ring (or fail over to B's eventfd), never reach B2; waking B's dead waker again must
/// queue nothing and not panic.
#[test]
fn a_wake_queued_for_a_runtime_that_shuts_down_before_it_is_sent_reaches_no_other_ring() {
    if !msg_ring_available() {
        eprintln!("no IORING_OP_MSG_RING on this kernel: nothing to check");
        return;
    }
    let slot: Arc<Mutex<Option<Waker>>> = Arc::default();
    let (stored_tx, stored_rx) = mpsc::channel::<(String, std::net::SocketAddr)>();
    let (b2_ready_tx, b2_ready_rx) = mpsc::channel::<()>();
    let (sent_tx, sent_rx) = mpsc::channel::<()>();
    let b_slot = slot.clone();
    let b = std::thread::spawn(move || {
        // B: its root stores its waker, then blocks in the ring until a datagram arrives.
        Builder::new()
            .run(async {
                let socket = quartet::net::UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
                let addr = socket.local_addr().unwrap();
                poll_fn(|cx| {
                    *b_slot.lock().unwrap() = Some(cx.waker().clone());
                    Poll::Ready(())
                })
                .await;
                stored_tx.send((this_thread(), addr)).unwrap();
                let (got, _) = socket.recv_from(vec![0u8; 8]).await;
                got.unwrap();
            })
            .unwrap();
        // B2, on the same thread once B has closed its ring.
        Builder::new()
            .run(async {
                b2_ready_tx.send(()).unwrap();
                sent_rx.recv().unwrap(); // A's message was submitted and its completion reaped
                quartet::nop().await.unwrap();
                quartet::stats().unwrap().driver
            })
            .unwrap()
    });
    let a = Builder::new()
        .run(async {
            let (b_thread, b_addr) = stored_rx.recv().unwrap();
            wait_until_blocked_in_its_ring(&b_thread);
            let waker = slot.lock().unwrap().take().unwrap();
            waker.wake_by_ref(); // queued on this ring: B is open, and blocked
            // Wakes B through its ring, not through this one (a plain `sendto`).
            std::net::UdpSocket::bind("127.0.0.1:0").unwrap().send_to(b"end", b_addr).unwrap();
            b2_ready_rx.recv().unwrap(); // B has shut down; this tick has not ended yet
            quartet::nop().await.unwrap(); // ends the tick: the MSG_RING is submitted
            let sent = quartet::stats().unwrap().driver;
            waker.wake(); // B is gone: refused, nothing queued
            quartet::nop().await.unwrap();
            (sent, quartet::stats().unwrap().driver)
        })
        .unwrap();
    sent_tx.send(()).unwrap();
    let b2 = b.join().unwrap();
    let (sent, after) = a;
    assert_eq!(sent.msg_ring_sent, 1, "{sent:?}");
    assert_eq!(after.msg_ring_sent, 1, "a wake for a shut-down runtime queues nothing: {after:?}");
    assert_eq!(b2.remote_wakes_msg_ring, 0, "B's message reached B2's ring: {b2:?}");
}

/// This thread's `/proc` directory (`/proc/<pid>/task/<tid>`).
fn this_thread() -> String {
    let link = std::fs::read_link("/proc/thread-self").expect("/proc/thread-self");
    format!("/proc/{}", link.display())
}

/// `io_uring_enter`'s system call number (the same on every architecture: it came after the
/// numbers were unified).
const IO_URING_ENTER: &str = "426";

/// Waits until the thread at `dir` (from [`this_thread`]) is blocked in a waiting
/// `io_uring_enter` (its `min_complete` argument non-zero): its kernel then counts as asleep, so a
/// wake sent to it is an unpark. Reads the thread's current system call from `/proc`.
fn wait_until_blocked_in_its_ring(dir: &str) {
    // Not a timing condition: only a watchdog against a thread that never blocks.
    let give_up = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let syscall = std::fs::read_to_string(format!("{dir}/syscall")).expect("/proc/<tid>/syscall");
        let f: Vec<&str> = syscall.split_whitespace().collect();
        if f.first() == Some(&IO_URING_ENTER) && f.get(3).is_some_and(|min_complete| *min_complete != "0x0") {
            return;
        }
        assert!(std::time::Instant::now() < give_up, "the thread never blocked in its ring: {syscall}");
        std::thread::yield_now();
    }
}

/// Core 1 parks a task, hands its waker to core 0 and ends; core 0 keeps waking that waker while
/// core 1's runtime shuts down and after. Each wake is queued before the close (handed back by
/// it) or refused after; none panics, and no MSG_RING fails (a message that reached a reused fd
/// number would fail with `-EBADFD`, or land in another ring).
#[test]
fn waking_a_core_while_it_shuts_down_neither_panics_nor_fails_a_message() {
    let slot: Arc<Mutex<Option<Waker>>> = Arc::default();
    let (tx, rx) = quartet::channel::<()>(1);
    let seen = PerCore::new(2)
        .pin(Pinning::Off)
        .run(|core: Core| {
            let (slot, tx, rx) = (slot.clone(), tx.clone(), rx.clone());
            async move {
                if core.index() == 1 {
                    // Park once so that the stored waker is a real task waker of this core.
                    let mut parked = false;
                    poll_fn(|cx| {
                        if std::mem::replace(&mut parked, true) {
                            return Poll::Ready(());
                        }
                        *slot.lock().unwrap() = Some(cx.waker().clone());
                        cx.waker().wake_by_ref();
                        Poll::Pending
                    })
                    .await;
                    tx.send(()).await.map_err(|e| e.to_string())?;
                    return Ok::<_, BoxError>(counters());
                }
                rx.recv().await?.ok_or("core 1 ended without a word")?;
                let waker = slot.lock().unwrap().take().ok_or("no waker")?;
                for _ in 0..2000 {
                    waker.wake_by_ref();
                    quartet::yield_now().await;
                }
                Ok(counters())
            }
        })
        .unwrap();
    let (_, home) = seen[0];
    assert_eq!(home.msg_ring_failed, 0, "{home:?}");
}

/// A thread that runs no runtime (a worker, a foreign thread) has no ring to send from: its wake
/// writes the eventfd even when the runtime takes MSG_RING wakes. (It wakes the runtime once it is
/// blocked in its ring: a wake to an awake runtime writes nothing.)
#[test]
fn a_wake_from_a_thread_that_runs_no_runtime_writes_the_eventfd() {
    let s = quartet::run(async {
        let mut waker_thread = None;
        let runtime_thread = this_thread();
        poll_fn(|cx| {
            if waker_thread.is_some() {
                return Poll::Ready(()); // the root is polled again only once woken
            }
            let (w, runtime_thread) = (cx.waker().clone(), runtime_thread.clone());
            waker_thread = Some(std::thread::spawn(move || {
                wait_until_blocked_in_its_ring(&runtime_thread);
                w.wake()
            }));
            Poll::Pending
        })
        .await;
        waker_thread.unwrap().join().unwrap();
        quartet::stats().unwrap()
    })
    .unwrap();
    assert!(s.driver.remote_wakes_eventfd >= 1, "{s:?}");
    assert_eq!((s.driver.remote_wakes_msg_ring, s.driver.msg_ring_sent), (0, 0), "{s:?}");
}

/// Pinned cores spin after a cross-core wake by default (`DEFAULT_CORE_WAKE_SPIN`); unpinned
/// ones, which may share a CPU, and a group whose builder says zero, never spin.
#[test]
fn pinned_cores_spin_after_cross_core_wakes_by_default_unpinned_and_zero_never() {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let spins = |seen: &Seen| seen.iter().map(|(_, s)| s.busy_polls).collect::<Vec<_>>();
    if cpus >= 2 {
        let seen = ping_pong(PerCore::new(2));
        assert!(seen.iter().all(|(_, s)| s.busy_polls >= 1), "pinned cores never spun: {seen:?}");
        let off = ping_pong(PerCore::new(2).runtime(Builder::new().wake_spin(std::time::Duration::ZERO)));
        assert_eq!(spins(&off), [0, 0], "{off:?}");
    } else {
        eprintln!("one CPU: the pinned group cannot start; only the unpinned case is checked");
    }
    let unpinned = ping_pong(PerCore::new(2).pin(Pinning::Off));
    assert_eq!(spins(&unpinned), [0, 0], "{unpinned:?}");
}
