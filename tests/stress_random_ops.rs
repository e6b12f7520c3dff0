//! A seeded random stress of every kind of operation at once: TCP over loopback (both directions),
//! files, channels, locks, semaphores, timers, `to_thread` and ring no-ops, each cancelled at a
//! random point (a timeout, or a scope cancelled at the n-th poll) or, where losing the result is
//! allowed, dropped after a random number of polls. It checks that nothing is lost or duplicated
//! (every TCP byte compared in order, plus byte counts and checksums; channel values; file contents
//! against a mirror; lock and semaphore counts) and that nothing leaks (fds, threads, timer
//! registrations, ops left in the ring).
//!
//! Only the public `quartet` API is used. `QUARTET_STRESS_SEED=<n>` replays a run (the random
//! choices are the same; the kernel's timing is not), `QUARTET_STRESS_SECS=<s>` runs longer than
//! the default ~2 s. The seed is printed when the test fails.

mod hazard_support;
mod stress_support;

use hazard_support::{open_fds, watchdog};
use quartet::channel::SendError;
use quartet::fs::OpenOptions;
use quartet::net::{TcpListener, TcpStream};
use quartet::{BoxError, Lock, Semaphore, channel, nursery, sleep, to_thread};
use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::io::Write;
use std::net::Shutdown;
use std::time::{Duration, Instant};
use stress_support::{Outcome, Rng, attempt, fnv, stream_byte};

type Res = Result<(), BoxError>;

/// One direction of a TCP connection: `total` bytes of a seeded stream, sent in random chunks with
/// random cancels, received with random cancels and buffer sizes, compared byte by byte.
async fn tcp_direction(tx: &TcpStream, rx: &TcpStream, stream: u64, total: usize, mut rng: Rng) -> Res {
    let mut send_rng = rng.fork();
    nursery(async |n| {
        n.spawn(async move {
            let mut sent = 0;
            while sent < total {
                let len = (1 + send_rng.below(16 * 1024) as usize).min(total - sent);
                let chunk: Vec<u8> = (sent..sent + len).map(|i| stream_byte(stream, i)).collect();
                match attempt(send_rng.how(false), async { tx.send(chunk).await.0 }).await {
                    Outcome::Done(n) => sent += n,
                    Outcome::Cancelled => {} // nothing was sent: the same bytes go again
                    Outcome::Err(e) => return Err(e),
                    Outcome::Dropped => unreachable!("sends are never dropped"),
                }
            }
            tx.shutdown(Shutdown::Write).await
        })?;
        let (mut got, mut sum) = (0usize, fnv(&[]));
        loop {
            let cap = 1 + rng.below(8192) as usize;
            match attempt(rng.how(false), async {
                let (r, buf) = rx.recv(Vec::with_capacity(cap)).await;
                r.map(|n| (n, buf))
            })
            .await
            {
                Outcome::Done((0, _)) => break,
                Outcome::Done((n, buf)) => {
                    for (k, &b) in buf[..n].iter().enumerate() {
                        let want = stream_byte(stream, got + k);
                        assert_eq!(
                            b,
                            want,
                            "tcp stream {stream:#x}: byte {} differs (lost or duplicated data)",
                            got + k
                        );
                    }
                    sum = stress_support::fnv_more(sum, &buf[..n]);
                    got += n;
                }
                Outcome::Cancelled => {} // nothing was taken from the socket
                Outcome::Err(e) => return Err(e.into()),
                Outcome::Dropped => unreachable!("receives are never dropped"),
            }
        }
        let expected: Vec<u8> = (0..total).map(|i| stream_byte(stream, i)).collect();
        assert_eq!(got, total, "tcp stream {stream:#x}: byte count");
        assert_eq!(sum, fnv(&expected), "tcp stream {stream:#x}: checksum");
        Ok::<_, BoxError>(())
    })
    .await?;
    Ok(())
}

async fn tcp_worker(mut rng: Rng) -> Res {
    let listener = TcpListener::bind("127.0.0.1:0".parse()?)?;
    let a = TcpStream::connect(listener.local_addr()?).await?;
    let (b, _) = listener.accept().await?;
    listener.close().await?;
    let (ab, ba) = (rng.next(), rng.next());
    let (ab_len, ba_len) = (1 + rng.below(128 * 1024) as usize, rng.below(64 * 1024) as usize);
    let (r1, r2) = (rng.fork(), rng.fork());
    let (a, b) = (&a, &b);
    nursery(async |n| {
        n.spawn(tcp_direction(a, b, ab, ab_len, r1))?;
        n.spawn(tcp_direction(b, a, ba, ba_len, r2))?;
        Ok::<_, BoxError>(())
    })
    .await?;
    Ok(())
}

/// Producers and consumers over one channel, every operation at risk.
async fn channel_worker(mut rng: Rng) -> Res {
    let (tx, rx) = channel::<u64>(rng.below(3) as usize);
    let (producers, consumers) = (1 + rng.below(3), 1 + rng.below(3));
    let attempted = RefCell::new(HashSet::new());
    let confirmed = RefCell::new(HashSet::new());
    let refused = RefCell::new(HashSet::new());
    let received = RefCell::new(Vec::new());
    let (attempted, confirmed, refused, received, rx) = (&attempted, &confirmed, &refused, &received, &rx);
    nursery(async |n| {
        for p in 0..producers {
            let (tx, mut rng) = (tx.clone(), rng.fork());
            n.spawn(async move {
                for i in 0..rng.below(40) {
                    let v = (p << 32) | i;
                    attempted.borrow_mut().insert(v);
                    match attempt(rng.how(true), tx.send(v)).await {
                        Outcome::Done(()) => assert!(confirmed.borrow_mut().insert(v)),
                        Outcome::Err(SendError::Cancelled { value, .. }) | Outcome::Err(SendError::Broken(value)) => {
                            assert_eq!(value, v, "a failed send gives its own value back");
                            refused.borrow_mut().insert(v);
                        }
                        Outcome::Err(e) => return Err(e.into()),
                        Outcome::Cancelled | Outcome::Dropped => {} // may or may not have arrived
                    }
                }
                Ok::<_, BoxError>(())
            })?;
        }
        drop(tx);
        for _ in 0..consumers {
            let mut rng = rng.fork();
            n.spawn(async move {
                loop {
                    match attempt(rng.how(true), rx.recv()).await {
                        Outcome::Done(Some(v)) => received.borrow_mut().push(v),
                        Outcome::Done(None) => return Ok(()),
                        Outcome::Err(e) => return Err(BoxError::from(e)),
                        Outcome::Cancelled | Outcome::Dropped => {} // took nothing
                    }
                }
            })?;
        }
        Ok::<_, BoxError>(())
    })
    .await?;
    let received = received.borrow();
    let unique: HashSet<u64> = received.iter().copied().collect();
    assert_eq!(unique.len(), received.len(), "a channel value was received twice");
    assert!(unique.is_subset(&attempted.borrow()), "a value nobody sent was received");
    let lost: Vec<_> = confirmed.borrow().difference(&unique).copied().collect();
    assert!(lost.is_empty(), "values whose send succeeded were never received: {lost:?}");
    let leaked: Vec<_> = refused.borrow().intersection(&unique).copied().collect();
    assert!(leaked.is_empty(), "values whose send reported failure were received: {leaked:?}");
    Ok(())
}

/// Tasks increment a counter under a lock and hold semaphore permits, with acquisitions cancelled
/// and dropped at random; the counts must match what the tasks were granted.
async fn sync_worker(mut rng: Rng) -> Res {
    let permits = 1 + rng.below(3) as usize;
    let (lock, sem) = (Lock::new(0u64), Semaphore::new(permits));
    let (granted, inside, holders) = (Cell::new(0u64), Cell::new(false), Cell::new(0usize));
    let (lock, sem, granted, inside, holders) = (&lock, &sem, &granted, &inside, &holders);
    nursery(async |n| {
        for _ in 0..2 + rng.below(6) {
            let mut rng = rng.fork();
            n.spawn(async move {
                for _ in 0..rng.below(30) {
                    if rng.below(2) == 0 {
                        if let Outcome::Done(mut guard) = attempt(rng.how(true), lock.lock()).await {
                            assert!(!inside.replace(true), "two tasks held the lock at once");
                            *guard += 1;
                            granted.set(granted.get() + 1);
                            if rng.below(3) == 0 {
                                quartet::yield_now().await;
                            }
                            inside.set(false);
                        }
                    } else if let Outcome::Done(permit) = attempt(rng.how(true), sem.acquire()).await {
                        holders.set(holders.get() + 1);
                        assert!(holders.get() <= permits, "more semaphore holders than units");
                        if rng.below(3) == 0 {
                            quartet::yield_now().await;
                        }
                        holders.set(holders.get() - 1);
                        drop(permit);
                    }
                }
                Ok::<_, BoxError>(())
            })?;
        }
        Ok::<_, BoxError>(())
    })
    .await?;
    assert!(!lock.is_locked(), "a cancelled or dropped acquisition kept the lock");
    assert_eq!(*lock.try_lock().map_err(|_| "lock held")?, granted.get(), "lost or doubled increments");
    assert_eq!(sem.value(), permits, "a cancelled or dropped acquisition kept a semaphore unit");
    Ok(())
}

/// Random reads and writes of one file, checked against an in-memory mirror.
async fn file_worker(mut rng: Rng, index: usize) -> Res {
    const SIZE: usize = 16 * 1024;
    let path = std::env::temp_dir().join(format!("quartet-stress-{}-{index}", std::process::id()));
    std::fs::write(&path, vec![0u8; SIZE])?;
    let mut mirror = vec![0u8; SIZE];
    let f = OpenOptions::new().read(true).write(true).open(&path).await?;
    for _ in 0..rng.below(40) {
        let pos = rng.below(SIZE as u64) as usize;
        let len = (1 + rng.below(4096) as usize).min(SIZE - pos);
        if rng.below(2) == 0 {
            let data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            match attempt(rng.how(false), async { f.write_at(data.clone(), pos as u64).await.0 }).await {
                Outcome::Done(n) => mirror[pos..pos + n].copy_from_slice(&data[..n]),
                Outcome::Cancelled => {} // nothing was written
                Outcome::Err(e) => return Err(e.into()),
                Outcome::Dropped => unreachable!("writes are never dropped"),
            }
        } else {
            let read = async {
                let (r, buf) = f.read_at(Vec::with_capacity(len), pos as u64).await;
                r.map(|n| (n, buf))
            };
            if let Outcome::Done((n, buf)) = attempt(rng.how(true), read).await {
                assert_eq!(&buf[..n], &mirror[pos..pos + n], "file read returned other bytes than were written");
            }
        }
    }
    f.close().await?;
    let on_disk = std::fs::read(&path)?;
    std::fs::remove_file(&path)?;
    assert!(on_disk == mirror, "the file does not hold what the confirmed writes wrote");
    Ok(())
}

/// Timers, ring no-ops and thread jobs, cancelled and dropped at random.
async fn misc_worker(mut rng: Rng) -> Res {
    for _ in 0..rng.below(30) {
        match rng.below(3) {
            0 => {
                let d = Duration::from_micros(rng.below(3000));
                let start = Instant::now();
                if let Outcome::Done(()) = attempt(rng.how(true), sleep(d)).await {
                    assert!(start.elapsed() >= d, "a sleep of {d:?} ended early");
                }
            }
            1 => {
                if let Outcome::Err(e) = attempt(rng.how(true), quartet::nop()).await {
                    return Err(e.into());
                }
            }
            _ => {
                let (x, pause) = (rng.next(), Duration::from_micros(rng.below(500)));
                let job = to_thread(move || {
                    std::thread::sleep(pause);
                    x.rotate_left(7) ^ 0x5555
                })
                .abandon_on_cancel(rng.below(2) == 0);
                match attempt(rng.how(true), job).await {
                    Outcome::Done(v) => assert_eq!(v, x.rotate_left(7) ^ 0x5555, "a thread job's result was mixed up"),
                    Outcome::Err(e) => return Err(e.into()),
                    Outcome::Cancelled | Outcome::Dropped => {}
                }
            }
        }
    }
    Ok(())
}

/// One runtime full of workers; afterwards nothing may be left in the ring or the timer wheel.
fn round(rng: &mut Rng, round_no: usize) {
    let mut rng = rng.fork();
    quartet::run(async {
        nursery(async |n| {
            for _ in 0..1 + rng.below(3) {
                n.spawn(tcp_worker(rng.fork()))?;
            }
            for _ in 0..1 + rng.below(3) {
                n.spawn(channel_worker(rng.fork()))?;
            }
            n.spawn(sync_worker(rng.fork()))?;
            for i in 0..1 + rng.below(2) as usize {
                n.spawn(file_worker(rng.fork(), round_no * 4 + i))?;
            }
            for _ in 0..1 + rng.below(3) {
                n.spawn(misc_worker(rng.fork()))?;
            }
            Ok::<_, BoxError>(())
        })
        .await?;
        // Dropped ops finish in the kernel soon after; wait for them (a hang is the watchdog's).
        while quartet::stats().unwrap().live_ops > 0 {
            sleep(Duration::from_millis(1)).await?;
        }
        let stats = quartet::stats().unwrap();
        assert_eq!(stats.timers, 0, "a cancelled or dropped timer stayed registered: {stats:?}");
        Ok::<_, BoxError>(())
    })
    .expect("the runtime started")
    .unwrap_or_else(|e| panic!("a worker failed: {e}"));
}

fn fd_names() -> Vec<String> {
    let dir = std::fs::read_dir("/proc/self/fd").expect("read /proc/self/fd");
    dir.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok()).map(|p| p.display().to_string()).collect()
}

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").expect("read /proc/self/task").count()
}

#[test]
fn random_ops_with_random_cancels_lose_duplicate_and_leak_nothing() {
    let seed = stress_support::seed();
    let _report = stress_support::SeedReport(seed);
    let secs = stress_support::secs();
    // Straight to stderr (not captured by the test harness), so the seed is known even if the
    // watchdog has to abort the process.
    let _ = writeln!(std::io::stderr(), "stress_random_ops: QUARTET_STRESS_SEED={seed}");
    let _w = watchdog(Duration::from_secs(60).max(secs * 4), "stress_random_ops (seed printed above)");
    let (fds, threads_before) = (open_fds(), threads());
    let mut rng = Rng::new(seed);
    let end = Instant::now() + secs;
    let mut rounds = 0;
    while rounds == 0 || Instant::now() < end {
        round(&mut rng, rounds);
        rounds += 1;
        // A job abandoned on a worker thread keeps its waker (and so the runtime's wake eventfd)
        // until it returns; give such stragglers a moment before calling it a leak.
        let wait = Instant::now();
        while open_fds() > fds && wait.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(open_fds(), fds, "fds leaked after round {rounds} (seed {seed}): {:?}", fd_names());
    }
    // Worker threads exit once their runtime has shut down; abandoned jobs finish first.
    let wait = Instant::now();
    while threads() > threads_before && wait.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(threads(), threads_before, "threads leaked (seed {seed})");
    eprintln!("stress: {rounds} rounds in {secs:?}, seed {seed}");
}
