//! Shared helpers of the `hazard_*` tests: a watchdog that turns a hang into a failure, fd counting,
//! single-poll helpers, loopback socket pairs, and a buffer that reports when it is freed.
#![allow(dead_code)]

use quartet::net::{TcpListener, TcpStream};
use quartet::{IoBuf, IoBufMut, OpError};
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Poll;
use std::time::Duration;

/// Aborts the whole test process with a message if it is not dropped within `limit`: a hang (a
/// lost completion, a starved loop) becomes a failure instead of a stuck CI job.
#[must_use]
pub struct Watchdog(Option<mpsc::Sender<()>>);

pub fn watchdog(limit: Duration, what: &'static str) -> Watchdog {
    let (tx, rx) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
            eprintln!("watchdog: `{what}` did not finish within {limit:?}; aborting the test process");
            std::process::abort();
        }
    });
    Watchdog(Some(tx))
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

/// Serialises the tests of one file that count this process's fds.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// How many fds this process has open.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").expect("read /proc/self/fd").count()
}

/// True if `fd` names an open file in this process.
pub fn fd_is_open(fd: i32) -> bool {
    // SAFETY: F_GETFD only queries the descriptor table; an unknown fd yields EBADF.
    unsafe { libc::fcntl(fd, libc::F_GETFD) != -1 }
}

/// Reads from a blocking std socket, retrying `EINTR`: when a runtime on this thread has just shut
/// down, the kernel's ring teardown may interrupt one blocking syscall (a task_work "signal").
pub fn read_retrying(sock: &mut std::net::TcpStream, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match std::io::Read::read(sock, buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

/// Polls `fut` exactly once from the current task.
pub async fn poll_once<F: Future + ?Sized>(fut: Pin<&mut F>) -> Poll<F::Output> {
    let mut fut = Some(fut);
    poll_fn(|cx| Poll::Ready(fut.take().expect("polled once").poll(cx))).await
}

/// A connected loopback pair: the quartet side, and a blocking std peer the test drives directly.
pub async fn tcp_pair() -> Result<(TcpStream, std::net::TcpStream), OpError> {
    let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
    let addr = listener.local_addr()?;
    let peer = std::net::TcpStream::connect(addr)?;
    let (stream, _) = listener.accept().await?;
    listener.close().await?;
    Ok((stream, peer))
}

/// A 64-byte receive buffer that reports its contents when it is dropped, to tell "kept alive for
/// the kernel" from "freed while the kernel may still write into it". All 64 bytes are always
/// initialised (zeros until the kernel writes), so the report reads only initialised memory.
pub struct TrackedBuf {
    storage: Box<[u8; 64]>,
    len: usize,
    report: Arc<Mutex<Option<Vec<u8>>>>,
}

/// What a [`TrackedBuf`] held when it was dropped; `None` while it is alive.
pub type DropReport = Arc<Mutex<Option<Vec<u8>>>>;

impl TrackedBuf {
    pub fn new() -> (TrackedBuf, DropReport) {
        let report = Arc::new(Mutex::new(None));
        (TrackedBuf { storage: Box::new([0; 64]), len: 0, report: report.clone() }, report)
    }

    pub fn filled(&self) -> &[u8] {
        &self.storage[..self.len]
    }
}

/// True once the buffer behind `report` was dropped.
pub fn dropped(report: &DropReport) -> bool {
    report.lock().unwrap().is_some()
}

impl Drop for TrackedBuf {
    fn drop(&mut self) {
        *self.report.lock().unwrap_or_else(|e| e.into_inner()) = Some(self.storage.to_vec());
    }
}

// SAFETY: the bytes live in a heap box that does not move when the wrapper moves; `len` bytes are
// initialised (in fact all 64 are).
unsafe impl IoBuf for TrackedBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.storage.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len
    }
}

// SAFETY: all 64 bytes of the box are writable; `set_init` only records a length <= 64.
unsafe impl IoBufMut for TrackedBuf {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.storage.as_mut_ptr()
    }
    fn bytes_total(&self) -> usize {
        self.storage.len()
    }
    unsafe fn set_init(&mut self, n: usize) {
        self.len = self.len.max(n.min(self.storage.len()));
    }
}
