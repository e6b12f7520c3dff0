//! How the driver enters the kernel: the one `io_uring_enter` of a turn, and the opt-in busy-poll
//! that may come before a blocking one.
//!
//! # Busy-poll (`Builder::busy_poll`)
//! Blocking in `io_uring_enter` costs a sleep and a wake-up: the completion that ends the wait
//! arrives as a scheduler wake-up (an IPI when the sender runs on another core), then a context
//! switch back. For a request/response peer that answers in microseconds this is most of the
//! round trip. With a busy-poll bound, a turn that would block first spins, for at most the
//! bound (and never past the wait's own timeout, so a timer is never held up), on non-blocking
//! `io_uring_enter(GETEVENTS)` calls, and stops as soon as the CQ holds anything.
//!
//! Each spin is a real enter and not a read of the CQ tail, because of the setup flags
//! (`probe.rs`): under `DEFER_TASKRUN` the kernel posts completions only when this thread enters
//! the ring with `GETEVENTS` (the deferred task work runs then), and under `COOP_TASKRUN` the task
//! work runs only at a kernel entry (no IPI interrupts a spinning thread). A bare userspace spin
//! would see nothing until the bound ran out. The enter also submits anything in the SQ. The
//! exception: with nothing in flight in the kernel (no op, no armed recv, an empty SQ) no enter
//! can post anything, so the spin makes none and watches the remote queue's flag instead, for
//! [`FLAG_POLLS`] pauses per turn of the spin: a wake from another core is seen in well under a
//! syscall's time.
//!
//! Off (the default), a blocking turn pays two predictable tests (`busy_poll`, then `spin_armed`
//! for `wake_spin` below); the spin is out of line.
//! A spin that finds nothing leaves the blocking wait the rest of its timeout, so the wait ends
//! at the same instant as without the spin: timers are neither early nor later than without it.
//!
//! A spinning kernel counts as awake (RW1, `wake/remote.rs`): a remote wake sent to it is only
//! queued, with no MSG_RING or eventfd write, so the spin also watches the remote queue's
//! `notified` flag ([`WakeFlags::pending`], a plain load) and stops when it is set.
//!
//! # Spinning after a remote wake (`Builder::wake_spin`)
//! The same spin, but only for a wait that follows a wake from another thread (`spin_armed`,
//! set by [`Driver::arm_wake_spin`] whenever the kernel drains its remote queue, however the
//! wake was noticed: a MSG_RING or eventfd completion, or the queue's flag). Cores that hand
//! work to each other keep spinning through each other's turns and wake each other with a queue
//! push instead of a syscall and a vCPU wake-up; a loop that hears from no other thread never
//! spins. Each spin disarms first, so one remote wake buys at most one bound of spinning.
//!
//! # Blocking
//! The blocking `io_uring_enter` runs inside [`WakeFlags::block`]: the kernel is marked asleep
//! (remote pushes from then on unpark it) and the queue is checked once more; a wake queued in
//! between makes the wait a non-blocking enter and the turn drains the queue.

use super::{Driver, ENTER_GETEVENTS};
use crate::wake::remote::WakeFlags;
use io_uring::types;
use std::io;
use std::time::{Duration, Instant};

/// Pauses per turn of a spin that makes no enters (nothing in flight in the kernel), spent
/// watching the remote queue's flag (a pause is ~10-140 cycles depending on the CPU): long
/// against the flag's load, short against the turn's clock read.
const FLAG_POLLS: u32 = 16;

impl Driver {
    /// Spin for up to `bound` before each blocking wait (`None` or zero: never).
    pub fn set_busy_poll(&mut self, bound: Option<Duration>) {
        self.busy_poll = bound.filter(|b| !b.is_zero());
    }

    /// Spin for up to `bound` before a blocking wait that follows a wake from another thread
    /// (`None` or zero: never). See "Spinning after a remote wake" in the module docs.
    pub fn set_wake_spin(&mut self, bound: Option<Duration>) {
        self.wake_spin = bound.filter(|b| !b.is_zero());
        self.spin_armed = false;
    }

    /// Wakes from other threads arrived (the kernel is draining its remote queue): the next
    /// blocking wait spins, if `wake_spin` is set.
    #[inline]
    pub fn arm_wake_spin(&mut self) {
        self.spin_armed = self.wake_spin.is_some();
    }

    /// Blocks through `flags` (those of the remote queue whose eventfd is `wake_fd`).
    pub fn set_wake_flags(&mut self, flags: crate::sync::Arc<WakeFlags>) {
        self.wake_flags = Some(flags);
    }

    /// Spins before a blocking wait (see the module docs). `timeout` is the wait's (`None`:
    /// unbounded). Returns `None` if the CQ holds a completion (the caller must not block), or the
    /// timeout left for the blocking wait.
    #[inline(never)]
    pub(super) fn busy_poll(
        &mut self,
        bound: Duration,
        timeout: Option<Duration>,
    ) -> io::Result<Option<Option<Duration>>> {
        let limit = timeout.map_or(bound, |t| t.min(bound));
        if limit.is_zero() {
            return Ok(Some(timeout));
        }
        self.stats.busy_polls += 1;
        let start = Instant::now();
        // With nothing in flight in the kernel (no op, no armed recv, nothing to submit; only the
        // wake read, which an awake kernel's wakers never complete: RW1) no enter can post a
        // completion, so the spin only watches the remote queue's flag: a syscall less per turn
        // of the spin, and a cross-core wake is seen sooner. Skipping an enter is never unsafe:
        // whatever completes meanwhile is collected by the blocking wait that follows the spin.
        let kernel_work = !self.ring.submission().is_empty()
            || self.ops.live() > 0
            || self.internal_in_flight > usize::from(self.wake_armed);
        loop {
            if kernel_work {
                self.enter(0, None)?;
                if !self.ring.completion().is_empty() {
                    self.stats.busy_poll_hits += 1;
                    return Ok(None);
                }
            }
            // A remote wake is queued: an awake kernel was sent no unpark for it.
            if self.wake_flags.as_ref().is_some_and(|f| f.pending()) {
                self.stats.busy_poll_hits += 1;
                self.wake_fired = true;
                return Ok(None);
            }
            let spent = start.elapsed();
            if spent >= limit {
                return Ok(Some(timeout.map(|t| t.saturating_sub(spent))));
            }
            // With enters skipped, the turn of the spin is a watch of the remote queue's flag (a
            // plain load), so a wake from another core is seen in well under a syscall's time.
            // With work in the kernel the next enter comes at once: an I/O completion is not
            // noticed any later than without the watch.
            if !kernel_work && self.watch_remote_flag() {
                self.stats.busy_poll_hits += 1;
                self.wake_fired = true;
                return Ok(None);
            }
            std::hint::spin_loop();
        }
    }

    /// Spins on the remote queue's `notified` flag for [`FLAG_POLLS`] pauses; true if it is set.
    #[inline]
    fn watch_remote_flag(&self) -> bool {
        let Some(flags) = &self.wake_flags else { return false };
        for _ in 0..FLAG_POLLS {
            if flags.pending() {
                return true;
            }
            std::hint::spin_loop();
        }
        false
    }

    /// The spin of a blocking wait that follows a remote wake (armed, so `wake_spin` is set). It
    /// disarms first: only a remote wake drained after it arms the next one.
    #[cold]
    pub(super) fn wake_spin(&mut self, timeout: Option<Duration>) -> io::Result<Option<Option<Duration>>> {
        self.spin_armed = false;
        match self.wake_spin {
            Some(bound) => self.busy_poll(bound, timeout),
            None => Ok(Some(timeout)),
        }
    }

    /// The blocking wait of a turn: one `io_uring_enter` waiting for `want` completions up to
    /// `timeout`, unless a remote wake is already queued (see "Blocking" in the module docs), in
    /// which case it only submits and reaps, and the turn drains the remote queue.
    pub(super) fn enter_blocking(&mut self, want: u32, timeout: Option<Duration>) -> io::Result<()> {
        let Some(flags) = self.wake_flags.take() else { return self.enter(want, timeout) };
        let blocked = flags.block(|| self.enter(want, timeout));
        self.wake_flags = Some(flags);
        match blocked {
            Some(entered) => entered,
            None => {
                self.wake_fired = true;
                self.enter(0, None)
            }
        }
    }

    /// One `io_uring_enter`: submits the SQ, waits for `want` completions up to `timeout`.
    pub(super) fn enter(&mut self, want: u32, timeout: Option<Duration>) -> io::Result<()> {
        let submitted = self.ring.submission().len() as u64;
        self.msgs_in_sq = 0;
        let ts;
        let args;
        let res = match timeout {
            Some(t) => {
                ts = types::Timespec::from(t);
                args = types::SubmitArgs::new().timespec(&ts);
                self.ring.submitter().submit_with_args(want as usize, &args)
            }
            None if want > 0 => self.ring.submitter().submit_and_wait(want as usize),
            None => {
                // SAFETY: a plain GETEVENTS enter with no argument pointer; it submits the SQEs
                // already in the SQ (all valid per `push`) and runs deferred completions.
                unsafe { self.ring.submitter().enter::<libc::sigset_t>(submitted as u32, 0, ENTER_GETEVENTS, None) }
            }
        };
        self.stats.enters += 1;
        match res {
            Ok(_) => {
                self.stats.sqes += submitted;
                Ok(())
            }
            Err(e) => match e.raw_os_error() {
                Some(libc::ETIME) | Some(libc::EINTR) => {
                    self.stats.sqes += submitted - self.ring.submission().len() as u64;
                    Ok(())
                }
                // The CQ is backed up (NODROP overflow): reaping makes room (H7).
                Some(libc::EBUSY) | Some(libc::EAGAIN) => Ok(()),
                _ => Err(e),
            },
        }
    }
}
