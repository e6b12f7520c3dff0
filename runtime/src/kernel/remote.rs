//! Wake-ups from other threads (loom-checked in `runtime/tests/loom_remote_wake.rs`).
//!
//! A waker woken off the kernel thread cannot touch the kernel's queues. It pushes itself here and
//! unparks the kernel, which re-wakes it on its own thread. Redundant unparks are coalesced by the
//! `notified` flag, so a burst of remote wakes costs one eventfd write and one ring completion.
//!
//! Protocol (why no wake is lost): the waker pushes, *then* swaps `notified` to true and unparks
//! if it was false. The kernel stores `notified = false`, *then* drains. A push that the drain
//! misses happened after the store, so its swap saw `false` and unparked again.
//!
//! The real unparker ([`CoreUnpark`](super::msg_ring::CoreUnpark)) posts a MSG_RING completion
//! into the kernel's ring when the waking thread runs a kernel itself, and writes the eventfd
//! otherwise (`msg_ring.rs`).

use crate::sync::{Arc, AtomicBool, Mutex, Ordering, lock};
use std::task::Waker;

/// How the kernel is told to look at the queue. The real one writes an eventfd the ring reads;
/// loom models use a condvar.
pub trait Unpark: Send + Sync + 'static {
    /// Makes the kernel's next (or current) park return. Must not block.
    fn unpark(&self);

    /// The queue was closed (the kernel shuts down): release what only a live kernel needs.
    fn close(&self) {}
}

/// The queue of wakers woken from other threads.
#[derive(Debug)]
pub struct RemoteQueue<U: Unpark> {
    queue: Mutex<Option<Vec<Waker>>>,
    notified: AtomicBool,
    unpark: U,
}

impl<U: Unpark> RemoteQueue<U> {
    /// An open queue that unparks through `unpark`.
    pub fn new(unpark: U) -> Arc<Self> {
        Arc::new(RemoteQueue { queue: Mutex::new(Some(Vec::new())), notified: AtomicBool::new(false), unpark })
    }

    /// Queues `waker` for the kernel. Returns false (and drops it) once the kernel has shut down.
    pub fn push(&self, waker: Waker) -> bool {
        {
            let mut q = lock(&self.queue);
            match q.as_mut() {
                Some(q) => q.push(waker),
                None => return false,
            }
        }
        if !self.notified.swap(true, Ordering::AcqRel) {
            self.unpark.unpark();
        }
        true
    }

    /// Kernel side: takes everything queued so far.
    pub fn drain(&self, out: &mut Vec<Waker>) {
        let planted = crate::mutant::planted("remote_drain_reset");
        if !planted {
            self.notified.store(false, Ordering::SeqCst);
        }
        if let Some(q) = lock(&self.queue).as_mut() {
            out.append(q);
        }
        // Planted bug (scripts/mutants.sh): the flag is reset after the drain, so a push between
        // the two is never unparked for.
        if planted {
            self.notified.store(false, Ordering::SeqCst);
        }
    }

    /// Kernel side, at shutdown: later pushes fail. Returns what was still queued.
    pub fn close(&self) -> Vec<Waker> {
        let left = lock(&self.queue).take().unwrap_or_default();
        self.unpark.close();
        // Planted bug (scripts/mutants.sh): wakers queued at shutdown are silently dropped.
        if crate::mutant::planted("remote_close_drops") {
            drop(left);
            return Vec::new();
        }
        left
    }

    /// The unparker.
    pub fn unparker(&self) -> &U {
        &self.unpark
    }
}

/// The real unparker: an eventfd that the driver keeps a read armed on.
///
/// Under loom the eventfd's counter is also modelled with loom types, because loom cannot see
/// the kernel object: `unpark` adds to it and [`EventFd::read_blocking`] is the driver's wake read
/// (wait for a non-zero count, take it), so models run the real wake path up to the ring.
#[derive(Debug)]
pub struct EventFd(pub(crate) std::os::fd::RawFd, #[cfg(loom)] ModelCounter);

/// The loom model of an eventfd's counter.
#[cfg(loom)]
#[derive(Debug, Default)]
pub struct ModelCounter {
    count: Mutex<u64>,
    readable: crate::sync::Condvar,
}

impl EventFd {
    /// A new non-blocking eventfd.
    pub fn new() -> std::io::Result<EventFd> {
        // SAFETY: eventfd takes no pointers; the result is checked.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(EventFd(
            fd,
            #[cfg(loom)]
            ModelCounter::default(),
        ))
    }

    /// The driver's wake read, modelled: blocks until the counter is non-zero, then resets it
    /// (an eventfd read without `EFD_SEMAPHORE`) and returns what it held.
    #[cfg(loom)]
    pub fn read_blocking(&self) -> u64 {
        let mut n = lock(&self.1.count);
        while *n == 0 {
            n = crate::sync::wait(&self.1.readable, n);
        }
        std::mem::take(&mut *n)
    }
}

impl Unpark for EventFd {
    fn unpark(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to an eventfd this value owns. EFD_NONBLOCK means
        // it never blocks; EAGAIN (counter saturated) still leaves the fd readable, which is all
        // the kernel needs.
        unsafe { libc::write(self.0, (&one as *const u64).cast(), 8) };
        #[cfg(loom)]
        {
            *lock(&self.1.count) += 1;
            self.1.readable.notify_all();
        }
    }
}

impl Drop for EventFd {
    fn drop(&mut self) {
        // SAFETY: the fd is owned by this value and closed once. It is dropped only when the last
        // waker that could write it is gone, so no write can hit a reused fd number.
        unsafe { libc::close(self.0) };
    }
}
