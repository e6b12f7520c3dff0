//! Helpers shared by the `nursery_*`, `cancel_*`, `deadline_*`, `checkpoint_*`, `stress_*` and
//! `borrow_*` tests: a watchdog that turns a hang into a failure, a bounded `run`, fd counting,
//! loopback socket pairs, single polls, and a tiny deterministic random generator.
#![allow(dead_code)]

use quartet::OpError;
use quartet::net::{TcpListener, TcpStream};
use std::future::{Future, poll_fn};
use std::io::Write;
use std::pin::Pin;
use std::sync::mpsc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// Runs `f`, aborting the whole test process with a message if it takes longer than `limit`: a
/// hang (a lost wake-up, a cleanup that never ends) becomes a failure, not a stuck test run.
pub fn watchdog<T>(limit: Duration, f: impl FnOnce() -> T) -> T {
    let (tx, rx) = mpsc::channel::<()>();
    let name = std::thread::current().name().unwrap_or("?").to_owned();
    std::thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
            // straight to fd 2: the test harness captures `eprintln!`, and abort would lose it
            let _ = writeln!(std::io::stderr(), "watchdog: test `{name}` did not finish within {limit:?}; aborting");
            std::process::abort();
        }
    });
    let out = f();
    drop(tx);
    out
}

/// `quartet::run` under a 30 s watchdog; panics if the runtime cannot start.
pub fn run<F: Future>(fut: F) -> F::Output {
    watchdog(Duration::from_secs(30), || quartet::run(fut).expect("quartet runtime"))
}

/// How many fds this process has open.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").expect("read /proc/self/fd").count()
}

/// A connected loopback TCP pair `(client, server)`.
pub async fn tcp_pair() -> Result<(TcpStream, TcpStream), OpError> {
    let listener = TcpListener::bind("127.0.0.1:0".parse().expect("addr"))?;
    let addr = listener.local_addr()?;
    let client = TcpStream::connect(addr).await?;
    let (server, _) = listener.accept().await?;
    listener.close().await?;
    Ok((client, server))
}

/// Polls `fut` exactly once with the calling task's context.
pub async fn poll_once<F: Future>(fut: Pin<&mut F>) -> Poll<F::Output> {
    let mut fut = Some(fut);
    poll_fn(|cx| Poll::Ready(fut.take().expect("polled once").poll(cx))).await
}

/// Polls `fut` once with a waker that does nothing.
pub fn poll_noop<F: Future>(fut: Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

/// Bytes queued for reading on a socket (`FIONREAD`).
pub fn readable_bytes(fd: std::os::fd::RawFd) -> usize {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one c_int through the pointer, which points to a live local.
    let rc = unsafe { libc::ioctl(fd, libc::FIONREAD, &mut n) };
    assert_eq!(rc, 0, "ioctl(FIONREAD): {}", std::io::Error::last_os_error());
    n as usize
}

/// A linear congruential generator (Knuth's MMIX constants): deterministic test randomness.
#[derive(Debug, Clone)]
pub struct Lcg(u64);

impl Lcg {
    pub fn new(seed: u64) -> Lcg {
        Lcg(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0
    }

    /// A value in `0..n` (from the high bits, which are the random ones).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() >> 32) * n) >> 32
    }
}

/// `count` frames of `[len][seq as 4 LE bytes][len random bytes]` (len < 24) from an LCG seeded
/// with `seed`: a stream in which a lost, duplicated or reordered byte shows.
pub fn framed_messages(count: u32, seed: u64) -> Vec<u8> {
    let mut rng = Lcg::new(seed);
    let mut out = Vec::new();
    for seq in 0..count {
        let len = rng.below(24) as usize;
        out.push(len as u8);
        out.extend_from_slice(&seq.to_le_bytes());
        out.extend((0..len).map(|_| rng.next_u64() as u8));
    }
    out
}

/// Sends `data` in random small chunks (1..=64 bytes) with random yields and short sleeps, so the
/// receiver keeps up and often waits for data in the kernel; then shuts the write half.
pub async fn send_in_random_chunks(stream: &TcpStream, data: &[u8], seed: u64) -> Result<(), OpError> {
    let mut rng = Lcg::new(seed);
    let mut at = 0;
    while at < data.len() {
        let end = (at + 1 + rng.below(64) as usize).min(data.len());
        let (r, _) = stream.send_all(data[at..end].to_vec()).await;
        r?;
        at = end;
        match rng.below(4) {
            0 => quartet::yield_now().await,
            1 => quartet::sleep(std::time::Duration::from_micros(rng.below(80))).await?,
            _ => {}
        }
    }
    stream.shutdown(std::net::Shutdown::Write).await
}
