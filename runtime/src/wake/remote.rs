//! Wake-ups from other threads (loom-checked in `runtime/tests/loom_remote_wake.rs`).
//!
//! A waker woken off the kernel thread cannot touch the kernel's queues. It pushes itself here and,
//! if the kernel may be asleep, unparks it; the kernel re-wakes it on its own thread. Two flags,
//! [`WakeFlags`], shared with the driver, keep the unparks (an eventfd write, or a MSG_RING
//! completion, `msg_ring.rs`) to the wakes that need one:
//!
//! - `notified` coalesces a burst: only the first push after a drain considers unparking, so a
//!   burst of remote wakes costs at most one eventfd write and one ring completion.
//! - `awake` is false only while the kernel blocks in the ring (`io_uring_enter` waiting for a
//!   completion). A kernel that runs tasks, or busy-polls (`Builder::busy_poll`), looks at
//!   `notified` itself before it blocks, so a push to it sends nothing: an awake kernel needs no
//!   unpark. This is what makes a cross-core hand-off to a busy core cheap (no syscall, no CQE).
//!
//! Protocol (why no wake is lost). The pusher: push, then `notified.swap(true)`; if that was
//! false, read `awake` and unpark only if it is false. The kernel, before blocking
//! ([`WakeFlags::block`]): clear `awake`, then read `notified`; block only if it is false, and set
//! `awake` again once the wait returns. The drain: `notified.swap(false)`, *then* take the queue.
//!
//! - Against the drain: a push that the drain misses happened after the reset, so its swap saw
//!   `false` and it either unparked or saw the kernel awake; an awake kernel reads `notified` (set)
//!   before it next blocks, and drains instead.
//! - Against the block (the Dekker handshake, invariant RW1 in ARCHITECTURE.md): the pusher writes
//!   `notified` then reads `awake`; the blocker writes `awake` then reads `notified`. In the single
//!   total order of `SeqCst` operations one of the two writes comes first, so either the blocker
//!   sees `notified` (and does not block) or the pusher sees `awake == false` (and unparks). A
//!   pusher that reads `awake == true` written by the wake *after* a block is covered too: the
//!   kernel's next clear of `awake` comes after that read, so its next check sees `notified`.
//!
//! All four accesses of the handshake are `SeqCst` read-modify-writes (`swap`, and `fetch_or(false)`
//! as a read), not plain loads and stores. With plain `SeqCst` accesses the argument holds in
//! C++20's model, but loom models a `SeqCst` load or store as acquire/release only (it does not
//! implement the total order for them), and a model with plain loads finds a "lost wake" that the
//! hardware cannot produce. Read-modify-writes always read the latest value in the location's
//! modification order, so loom checks the protocol as it runs (a model with plain loads and
//! stores here deadlocks in `wake_while_parking`). The price is a locked instruction on x86 where
//! a `SeqCst` load would be a plain `mov`: twice per burst for the pusher, twice per blocking
//! wait for the kernel, next to a mutex and a syscall.
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

/// Whether a kernel has remote wakes queued (`notified`) and whether it may be blocked in its
/// ring (`awake` false), shared by its [`RemoteQueue`] and its driver (module docs, RW1).
#[derive(Debug)]
pub struct WakeFlags {
    /// Set by the first push after a drain; reset by the drain.
    notified: AtomicBool,
    /// False only while the kernel blocks (between [`prepare_block`](Self::prepare_block) and
    /// [`woke`](Self::woke)).
    awake: AtomicBool,
}

impl WakeFlags {
    /// The flags of a kernel that is running (awake) with nothing queued.
    pub fn new() -> Arc<WakeFlags> {
        Arc::new(WakeFlags { notified: AtomicBool::new(false), awake: AtomicBool::new(true) })
    }

    /// True if a wake is (probably) queued: a cheap hint for the run loop and the busy-poll, which
    /// then drain. A stale `false` is harmless: [`block`](Self::block) checks again, exactly.
    #[inline]
    pub fn pending(&self) -> bool {
        self.notified.load(Ordering::Relaxed)
    }

    /// The kernel is about to block: clears `awake`, then checks `notified` (both `SeqCst`
    /// read-modify-writes, RW1). Returns true if it may block; false if a wake is queued, in which
    /// case it must not block (and should call [`woke`](Self::woke) and drain).
    pub fn prepare_block(&self) -> bool {
        // Planted bug (scripts/mutants.sh): the check comes before the clear, so a push between
        // the two sees the kernel awake, sends nothing, and the kernel blocks with it queued.
        let planted = crate::mutant::planted("awake_check_before_clear");
        let early = planted && self.notified.fetch_or(false, Ordering::SeqCst);
        self.awake.swap(false, Ordering::SeqCst);
        let notified = if planted { early } else { self.notified.fetch_or(false, Ordering::SeqCst) };
        !notified
    }

    /// The kernel is awake again: pushes stop unparking it.
    pub fn woke(&self) {
        self.awake.store(true, Ordering::Release);
    }

    /// Runs `wait` (the blocking wait in the ring) unless a wake is already queued: `None` if it
    /// did not block (the caller drains instead), else `wait`'s result.
    pub fn block<R>(&self, wait: impl FnOnce() -> R) -> Option<R> {
        let may_block = self.prepare_block();
        let out = may_block.then(wait);
        self.woke();
        out
    }

    /// Pusher side, after queueing: true if the kernel must be unparked (the first push of a burst,
    /// to a kernel that may be blocked).
    fn notify(&self) -> bool {
        !self.notified.swap(true, Ordering::SeqCst) && !self.awake.fetch_or(false, Ordering::SeqCst)
    }
}

/// The queue of wakers woken from other threads.
#[derive(Debug)]
pub struct RemoteQueue<U: Unpark> {
    queue: Mutex<Option<Vec<Waker>>>,
    flags: Arc<WakeFlags>,
    unpark: U,
}

impl<U: Unpark> RemoteQueue<U> {
    /// An open queue that unparks through `unpark`.
    pub fn new(unpark: U) -> Arc<Self> {
        Arc::new(RemoteQueue { queue: Mutex::new(Some(Vec::new())), flags: WakeFlags::new(), unpark })
    }

    /// The flags the kernel's driver blocks through ([`WakeFlags::block`]).
    pub fn flags(&self) -> &Arc<WakeFlags> {
        &self.flags
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
        if self.flags.notify() {
            self.unpark.unpark();
        }
        true
    }

    /// Kernel side: takes everything queued so far.
    pub fn drain(&self, out: &mut Vec<Waker>) {
        let planted = crate::mutant::planted("remote_drain_reset");
        if !planted {
            self.flags.notified.swap(false, Ordering::SeqCst);
        }
        if let Some(q) = lock(&self.queue).as_mut() {
            out.append(q);
        }
        // Planted bug (scripts/mutants.sh): the flag is reset after the drain, so a push between
        // the two is never unparked for.
        if planted {
            self.flags.notified.swap(false, Ordering::SeqCst);
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
