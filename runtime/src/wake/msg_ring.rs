//! Cross-core wake-ups over `IORING_OP_MSG_RING` (loom-checked in `runtime/tests/loom_msg_ring.rs`).
//!
//! A waker woken off its kernel's thread pushes itself on that kernel's remote queue and, once per
//! burst (the `notified` flag of `remote.rs`), unparks the kernel. The eventfd does that with a
//! `write` syscall, after which the target ring re-arms its read. When the waking thread runs a
//! quartet kernel itself, it can instead queue `IORING_OP_MSG_RING` (kernel 5.18+) on its *own*
//! ring: the kernel posts a completion tagged "remote wake" straight into the target ring, at the
//! sender's next `io_uring_enter`, which the sender makes anyway at the end of its tick. No syscall
//! of its own, nothing to re-arm; the target handles that completion like the eventfd read's (it
//! drains its remote queue). Threads that run no kernel (`to_thread` workers, the caller of
//! `PerCore::run`, any other thread) keep the eventfd, and so does every wake when either side's
//! ring lacks the opcode or was built with `Builder::msg_ring(false)`.
//!
//! What keeps it safe and lossless:
//!
//! - **RF1, the target ring's fd.** An SQE names its target by fd *number*, which the sender's
//!   kernel resolves only when it submits the SQE: at the end of the sender's tick or later. By
//!   then the target may have shut down and its number may name another file, even another ring.
//!   So senders never use the ring's own fd: the target publishes a `dup` of it, owned by a
//!   [`RingTarget`] behind an `Arc` in its [`RingSlot`]. A sender clones that `Arc`
//!   ([`RingSlot::acquire`]) and its [`Outbox`] keeps the clone until the MSG_RING's own
//!   completion, or until the sender's ring is closed (after which nothing can submit the SQE).
//!   The dup is closed only when the last `Arc` drops, so every number in a queued SQE names the
//!   target ring's file. The target's shutdown (`RemoteQueue::close`) empties the slot, so no
//!   sender takes the fd afterwards; a message queued before then lands in a ring nobody reads
//!   (harmless: `close` already handed back the wakers it was for). The dup keeps the target's
//!   ring file open for at most the senders' ticks, and a ring close never waits for a sender (two
//!   cores shutting down at once cannot wait for each other).
//! - **RF2, failures.** The MSG_RING's own completion is reaped like any op. A negative result
//!   (`-EOVERFLOW` when the target's CQ is full on older kernels, `-EBADFD`, `-EOWNERDEAD`, ...) is
//!   replaced by the eventfd write, and a target that failed for any other reason than a full CQ
//!   is sent no more MSG_RINGs.
//! - **RF3, coalescing.** A queued message stands for every wake coalesced behind it (other
//!   senders saw `notified` set and did not unpark), so it is never dropped without a wake: an
//!   [`Outbox`] dropped with messages left (its ring closed before they were submitted or reaped)
//!   writes each target's eventfd. A spurious wake costs the target one drain; a lost one would
//!   leave it parked.

use super::remote::{EventFd, Unpark};
use crate::sync::{Arc, AtomicBool, Mutex, Ordering, lock};
use std::cell::RefCell;
use std::os::fd::RawFd;
use std::rc::Rc;

/// A kernel's ring as the target of MSG_RING wakes: a dup of its fd, and its eventfd for the
/// fallback (RF1, RF2).
#[derive(Debug)]
pub struct RingTarget {
    fd: RawFd,
    /// Set when the dup is closed; shared so that a loom model can watch it.
    closed: Arc<AtomicBool>,
    eventfd: Arc<EventFd>,
    /// A MSG_RING to this ring failed for good: send it no more (the eventfd serves).
    broken: AtomicBool,
}

impl RingTarget {
    /// Takes ownership of `dup`, a duplicate of a ring's fd that nothing else closes.
    pub(crate) fn new(dup: RawFd, eventfd: Arc<EventFd>) -> RingTarget {
        RingTarget { fd: dup, closed: Arc::new(AtomicBool::new(false)), eventfd, broken: AtomicBool::new(false) }
    }

    /// A target with no real ring, for loom models; the flag reads true once its fd is closed.
    #[cfg(loom)]
    pub fn for_model(eventfd: Arc<EventFd>) -> (RingTarget, Arc<AtomicBool>) {
        let t = RingTarget::new(-1, eventfd);
        let closed = t.closed.clone();
        (t, closed)
    }

    /// The number to put in a MSG_RING SQE. Valid while the caller holds this target (RF1).
    pub(crate) fn fd(&self) -> RawFd {
        debug_assert!(!self.closed.load(Ordering::Relaxed), "MSG_RING to a closed ring fd");
        self.fd
    }

    /// The model kernel's side of a MSG_RING: posts a wake completion into the target ring (the
    /// eventfd's model counter, which stands for "a wake CQE arrived") and returns 0. Panics if
    /// the fd was closed: in a program the number could then name another file.
    #[cfg(loom)]
    pub fn model_deliver(&self) -> i32 {
        assert!(!self.closed.load(Ordering::SeqCst), "a MSG_RING reached a closed ring fd (RF1)");
        self.eventfd.unpark();
        0
    }

    fn close_fd(&self) {
        if !self.closed.swap(true, Ordering::AcqRel) && self.fd >= 0 {
            // SAFETY: the dup is owned by this target and closed once (the swap above); RF1: no
            // SQE can still carry its number, as every sender that could queue one holds an `Arc`
            // of this target, and this runs when the last `Arc` drops.
            unsafe { libc::close(self.fd) };
        }
    }
}

impl Drop for RingTarget {
    fn drop(&mut self) {
        self.close_fd();
    }
}

/// Where senders find a kernel's [`RingTarget`]: filled while the kernel runs, emptied by its
/// shutdown.
#[derive(Debug)]
pub struct RingSlot(Mutex<Option<Arc<RingTarget>>>);

impl RingSlot {
    fn new(target: Option<RingTarget>) -> RingSlot {
        RingSlot(Mutex::new(target.map(Arc::new)))
    }

    /// The target, to hold until the MSG_RING that names it has completed (RF1); `None` once the
    /// kernel shut down, without MSG_RING, or after a failure (RF2).
    fn acquire(&self) -> Option<Arc<RingTarget>> {
        lock(&self.0).as_ref().filter(|t| !t.broken.load(Ordering::Relaxed)).cloned()
    }

    /// The kernel shuts down: no sender takes the target any more. Its fd closes when the last
    /// sender that already took it lets go.
    fn close(&self) {
        let target = lock(&self.0).take();
        // Planted bug (scripts/mutants.sh): the dup is closed at once, while a sender may still
        // hold its number in an unsubmitted SQE.
        if let Some(t) = &target
            && crate::mutant::planted("ring_close_ignores_senders")
        {
            t.close_fd();
        }
        drop(target);
    }
}

/// How a kernel is unparked: the MSG_RING path from other kernels' threads when both rings have
/// it, the eventfd otherwise.
#[derive(Debug)]
pub struct CoreUnpark {
    eventfd: Arc<EventFd>,
    ring: RingSlot,
}

impl CoreUnpark {
    /// Unparks through `eventfd`, and through MSG_RING to `ring` when the waking thread can.
    pub fn new(eventfd: Arc<EventFd>, ring: Option<RingTarget>) -> CoreUnpark {
        CoreUnpark { eventfd, ring: RingSlot::new(ring) }
    }

    /// The eventfd (the fallback, and the driver's wake read), for loom models.
    #[cfg(loom)]
    pub fn eventfd(&self) -> &EventFd {
        &self.eventfd
    }
}

impl Unpark for CoreUnpark {
    fn unpark(&self) {
        if !queue_here(&self.ring) {
            self.eventfd.unpark();
        }
    }

    fn close(&self) {
        self.ring.close();
    }
}

/// A kernel's MSG_RING wakes from queueing to completion. Owned by its driver (dropped after the
/// ring is closed) and reachable from its thread through a thread-local, so that a waker woken
/// anywhere on that thread can queue without borrowing the driver.
#[derive(Debug, Default)]
pub struct Outbox {
    /// Each message's target, by index (the index is in the sender's `user_data`), held until the
    /// message completes (RF1).
    slots: Vec<Option<Arc<RingTarget>>>,
    free: Vec<u32>,
    /// Queued, with no SQE made yet.
    pending: Vec<u32>,
}

impl Outbox {
    fn queue(&mut self, target: Arc<RingTarget>) {
        let i = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(target);
                i
            }
            None => {
                self.slots.push(Some(target));
                (self.slots.len() - 1) as u32
            }
        };
        self.pending.push(i);
    }

    /// True if a message waits for its SQE.
    pub(crate) fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// The next message to submit: its index and its target's fd number (valid until
    /// [`complete`](Self::complete) with that index, RF1).
    pub(crate) fn next_pending(&mut self) -> Option<(u32, RawFd)> {
        let i = self.pending.pop()?;
        let fd = self.slots[i as usize].as_ref().map_or(-1, |t| t.fd());
        Some((i, fd))
    }

    /// The message `index` completed with `res`: release its target, and write the target's
    /// eventfd instead if it failed (RF2). Returns true if it fell back.
    pub(crate) fn complete(&mut self, index: u32, res: i32) -> bool {
        let Some(target) = self.slots.get_mut(index as usize).and_then(Option::take) else {
            return false;
        };
        self.free.push(index);
        if res >= 0 {
            return false;
        }
        if res != -libc::EOVERFLOW {
            target.broken.store(true, Ordering::Relaxed);
        }
        // Planted bug (scripts/mutants.sh): a failed MSG_RING is not replaced, so the wakes
        // coalesced behind it are lost.
        if !crate::mutant::planted("msg_ring_error_drops_wake") {
            target.eventfd.unpark();
        }
        true
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        // RF3: the ring is closed; whatever was not reaped may never have been delivered.
        for target in self.slots.drain(..).flatten() {
            // Planted bug (scripts/mutants.sh): the messages left are dropped silently.
            if !crate::mutant::planted("outbox_drop_forgets") {
                target.eventfd.unpark();
            }
            drop(target);
        }
    }
}

crate::sync::thread_local! {
    /// The outbox of the kernel running on this thread, if its ring sends MSG_RING wakes.
    static OUTBOX: RefCell<Option<Rc<RefCell<Outbox>>>> = const { RefCell::new(None) };
}

/// Queues a MSG_RING wake to `slot`'s kernel on this thread's kernel. False if this thread runs no
/// kernel that sends them, or the target takes none: the caller writes the eventfd.
fn queue_here(slot: &RingSlot) -> bool {
    OUTBOX.with(|o| {
        let Ok(o) = o.try_borrow() else { return false };
        let Some(outbox) = o.as_ref() else { return false };
        let Ok(mut outbox) = outbox.try_borrow_mut() else { return false };
        match slot.acquire() {
            Some(target) => {
                outbox.queue(target);
                true
            }
            None => false,
        }
    })
}

/// Makes `outbox` this thread's until the guard drops.
pub(crate) fn install(outbox: Rc<RefCell<Outbox>>) -> Installed {
    OUTBOX.with(|o| *o.borrow_mut() = Some(outbox));
    Installed(())
}

/// The guard of [`install`]. Dropped before the driver that owns the outbox.
pub(crate) struct Installed(());

impl Drop for Installed {
    fn drop(&mut self) {
        let old = OUTBOX.with(|o| o.borrow_mut().take());
        drop(old);
    }
}

/// A loom model thread that sends MSG_RING wakes as a kernel thread would: wakes it unparks are
/// queued in its outbox, [`ModelSender::submit`] plays its `io_uring_enter` and the reaping of the
/// messages' completions, and dropping it plays its ring being closed.
#[cfg(loom)]
#[derive(Debug)]
pub struct ModelSender {
    outbox: Rc<RefCell<Outbox>>,
    installed: Option<Installed>,
}

#[cfg(loom)]
impl std::fmt::Debug for Installed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Installed")
    }
}

/// Makes this loom model thread a MSG_RING sender until the returned value drops.
#[cfg(loom)]
pub fn enter_model_sender() -> ModelSender {
    let outbox = Rc::new(RefCell::new(Outbox::default()));
    ModelSender { installed: Some(install(outbox.clone())), outbox }
}

#[cfg(loom)]
impl ModelSender {
    /// Submits every queued message, `kernel` deciding each one's result (e.g.
    /// [`RingTarget::model_deliver`], or a negative errno), and reaps the completions.
    pub fn submit(&self, kernel: impl Fn(&RingTarget) -> i32) {
        loop {
            let next = self.outbox.borrow_mut().next_pending();
            let Some((i, _fd)) = next else { return };
            let target = self.outbox.borrow().slots[i as usize].clone();
            let res = target.as_deref().map_or(-libc::EBADF, &kernel);
            drop(target);
            self.outbox.borrow_mut().complete(i, res);
        }
    }
}

#[cfg(loom)]
impl Drop for ModelSender {
    fn drop(&mut self) {
        // The thread stops being a kernel, then its ring closes: the outbox goes last.
        drop(self.installed.take());
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// Reads (and resets) an eventfd's counter; 0 if it was not written.
    fn take_count(e: &EventFd) -> u64 {
        let mut n = 0u64;
        // SAFETY: reads 8 bytes into a live u64 from a non-blocking eventfd owned by `e`.
        let r = unsafe { libc::read(e.0, (&mut n as *mut u64).cast(), 8) };
        if r == 8 { n } else { 0 }
    }

    fn slot() -> (RingSlot, Arc<EventFd>) {
        let eventfd = Arc::new(EventFd::new().unwrap());
        // Any fd stands for the ring's dup here: nothing is submitted.
        // SAFETY: F_DUPFD_CLOEXEC takes no pointer; the eventfd is open.
        let dup = unsafe { libc::fcntl(eventfd.0, libc::F_DUPFD_CLOEXEC, 0) };
        assert!(dup >= 0);
        (RingSlot::new(Some(RingTarget::new(dup, eventfd.clone()))), eventfd)
    }

    #[test]
    fn a_sender_keeps_the_ring_fd_open_after_the_target_closes_until_its_message_completes() {
        let (slot, _eventfd) = slot();
        let mut outbox = Outbox::default();
        outbox.queue(slot.acquire().unwrap());
        slot.close();
        assert!(slot.acquire().is_none(), "a closed target is taken by no new sender");
        let (i, fd) = outbox.next_pending().unwrap();
        let closed = outbox.slots[i as usize].as_ref().unwrap().closed.clone();
        // SAFETY: F_GETFD takes no pointer.
        assert!(unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0, "the number still names the ring's file");
        assert!(!closed.load(Ordering::SeqCst));
        assert!(!outbox.complete(i, 0));
        assert!(closed.load(Ordering::SeqCst), "the last holder closed the dup");
    }

    #[test]
    fn a_failed_message_writes_the_eventfd_and_only_a_full_cq_keeps_the_target_usable() {
        let (slot, eventfd) = slot();
        let mut outbox = Outbox::default();
        outbox.queue(slot.acquire().unwrap());
        let (i, _) = outbox.next_pending().unwrap();
        assert!(outbox.complete(i, -libc::EOVERFLOW));
        assert_eq!(take_count(&eventfd), 1, "the eventfd carried the wake");
        assert!(slot.acquire().is_some(), "a full CQ is transient");
        outbox.queue(slot.acquire().unwrap());
        let (i, _) = outbox.next_pending().unwrap();
        assert!(outbox.complete(i, -libc::EBADFD));
        assert_eq!(take_count(&eventfd), 1);
        assert!(slot.acquire().is_none(), "a target that cannot take MSG_RINGs gets the eventfd");
        assert!(!outbox.complete(i, 0), "a second completion for one message is ignored");
    }

    #[test]
    fn an_outbox_dropped_with_messages_left_writes_their_eventfds() {
        let (slot, eventfd) = slot();
        let mut outbox = Outbox::default();
        outbox.queue(slot.acquire().unwrap());
        outbox.queue(slot.acquire().unwrap());
        let _ = outbox.next_pending(); // one submitted (its completion never reaped), one not
        drop(outbox);
        assert_eq!(take_count(&eventfd), 2);
    }
}
