//! Helpers for the tests of the OS-facing modules (`fs_*`, `process_*`, `signal_*`, `time_*`): a
//! unique temporary directory removed on drop, a runner that runs a test body twice, once with the
//! ring's optional opcodes and once with their worker-thread fallbacks, under a watchdog, and
//! small stream and checkpoint helpers.
#![allow(dead_code)]

use std::future::{Future, poll_fn};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// A fresh directory under `std::env::temp_dir()`, removed (recursively) when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        let name = format!("quartet-{tag}-{}-{nanos}-{}", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed));
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir(&path).expect("create temp dir");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, p: impl AsRef<Path>) -> PathBuf {
        self.0.join(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// How a test body is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// Optional opcodes on the ring (the default).
    Ring,
    /// Every optional opcode through its worker-thread fallback.
    Fallback,
}

/// Runs `body` on a runtime built for `path`, under a 30 s watchdog (a hang becomes a failure).
pub fn run_with<F: Future>(path: Via, body: F) -> F::Output {
    let builder = quartet::Builder::new().optional_opcodes(path == Via::Ring);
    watchdog(|| builder.run(body).expect("quartet runtime"))
}

/// Runs the body made by `make` once on the ring and once through the fallbacks, each in its own
/// temporary directory.
pub fn both<F: Future<Output = ()>>(tag: &str, make: impl Fn(Via, TempDir) -> F) {
    for path in [Via::Ring, Via::Fallback] {
        let dir = TempDir::new(tag);
        run_with(path, make(path, dir));
    }
}

fn watchdog<T>(f: impl FnOnce() -> T) -> T {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(Duration::from_secs(30)) {
            eprintln!("watchdog: a test did not finish within 30 s; aborting");
            std::process::abort();
        }
    });
    let out = f();
    drop(tx);
    out
}

/// Ring ops submitted so far on this runtime.
pub fn ring_ops() -> u64 {
    quartet::stats().expect("inside run").driver.ops
}

/// The next item of a stream (no `StreamExt` in the dependencies).
pub async fn next<S: futures_core::Stream + Unpin>(s: &mut S) -> Option<S::Item> {
    poll_fn(|cx| Pin::new(&mut *s).poll_next(cx)).await
}

/// The `io::ErrorKind` of an op error, if it is an I/O error.
pub fn kind(e: &quartet::OpError) -> Option<std::io::ErrorKind> {
    e.as_io().map(std::io::Error::kind)
}

/// Awaits `fut`, asserting that its first poll did not complete: the operation is a checkpoint
/// that yields at least once, even when it could finish at once.
pub async fn yields<F: Future>(what: &str, fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let mut first = true;
    poll_fn(|cx| {
        let p = fut.as_mut().poll(cx);
        assert!(!(first && p.is_ready()), "{what} completed without yielding");
        first = false;
        p
    })
    .await
}
