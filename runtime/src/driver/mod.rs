//! The io_uring completion driver.
//!
//! The driver owns the ring, the slab of in-flight ops, and three userspace queues that are never
//! dropped while the runtime lives:
//! - `backlog`: SQEs that did not fit in a full SQ (H7). They keep their order. Flushing a full SQ
//!   submits, reaps and retries, so completions never pile up behind a submission that cannot go.
//! - `cancels`: `ASYNC_CANCEL` requests for ops whose future was dropped or cancelled (H3). They
//!   are flushed before the backlog, so a cancel never waits behind new work; a cancel whose
//!   target is still in the backlog completes the target at once with `-ECANCELED` instead.
//! - `closes`: fds whose last owner was dropped (H5), closed through the ring.
//!
//! Completions are routed by `user_data` to exactly the op that waits for them; internal ops use
//! the band with bit 63 set and unknown completions are ignored (H6).

mod buf_ring;
mod closes;
mod msg_ring;
mod multishot;
mod probe;
mod shutdown;
mod slab;
mod stats;
mod wait;

pub(crate) use buf_ring::Pool;
pub use buf_ring::{BufPoolConfig, BufPoolError, BufPoolStats};
pub(crate) use multishot::{RecvEvent, RecvState, Shared as SharedRecv};
pub(crate) use probe::Opcodes;
pub use probe::{Mode, SetupFlags};
pub(crate) use slab::{Cleanup, Delivery, Lifecycle, OpKey};
pub use stats::DriverStats;

use crate::error::Unavailable;
use crate::wake::msg_ring::Outbox;
use crate::wake::remote::WakeFlags;
pub(crate) use closes::Closes;
use io_uring::{IoUring, opcode, squeue, types};
use slab::{Completion, INTERNAL, Slab};
use std::any::Any;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

const TAG_CANCEL: u64 = INTERNAL | 1;
const TAG_CLOSE: u64 = INTERNAL | 2;
const TAG_WAKE: u64 = INTERNAL | 3;
/// A MSG_RING from another core's ring: a remote wake, handled like the wake read's completion.
const TAG_REMOTE: u64 = INTERNAL | 4;
const ENTER_GETEVENTS: u32 = 1;
/// Completions copied out of the CQ per batch in `reap`.
const REAP_BATCH: usize = 64;
/// Busy ticks in a row that may skip the non-blocking `io_uring_enter` when nothing is queued.
const BUSY_SKIPS: u32 = 8;

pub(crate) struct Driver {
    // Field order matters: the ring is dropped (closed) before the slab frees anything (H4).
    ring: IoUring,
    /// MSG_RING wakes this ring sends, when it sends them (after `ring`: RF1, RF3 in
    /// `wake/msg_ring.rs`).
    outbox: Option<Rc<RefCell<Outbox>>>,
    ops: Slab,
    /// The provided-buffer pool and the armed pooled receives (after `ring`: B3).
    bufs: multishot::Bufs,
    backlog: VecDeque<squeue::Entry>,
    cancels: VecDeque<CancelTarget>,
    closes: Closes,
    internal_in_flight: usize,
    wake_fd: RawFd,
    wake_buf: Box<u64>,
    wake_armed: bool,
    wake_fired: bool,
    mode: Mode,
    busy_skips: u32,
    /// The batch `reap` copies CQEs into (kept to reuse its allocation; empty between reaps).
    reaped: Vec<(u64, i32, u32)>,
    /// Stamped on the completions of the current reap (`slab::Delivery`).
    reap_stamp: Delivery,
    /// How long a blocking wait first spins on non-blocking enters (`wait.rs`); `None`: off.
    busy_poll: Option<Duration>,
    /// `Builder::wake_spin`'s bound (`wait.rs`), and whether the next blocking wait spins with it:
    /// set when the kernel drains wakes from other threads (`arm_wake_spin`), cleared by the spin.
    wake_spin: Option<Duration>,
    spin_armed: bool,
    /// The remote-wake queue's flags: a blocking wait goes through them, so that pushes unpark
    /// only a blocked kernel (RW1, `wake/remote.rs`). `None` only in the driver's unit tests.
    wake_flags: Option<crate::sync::Arc<WakeFlags>>,
    /// MSG_RING SQEs put in the SQ since the last enter. Counted only when pushed straight into
    /// the SQ (one that waited in the backlog is not counted): a low count only ends a wait early.
    msgs_in_sq: u32,
    /// Op data and wakers released while the driver is borrowed; dropped by the kernel after the
    /// borrow ends, because their `Drop` may run user code that uses the runtime.
    graveyard: Vec<Box<dyn Any>>,
    dead_wakers: Vec<Waker>,
    /// Set once `shutdown` has drained (or deliberately leaked) everything.
    shut: bool,
    pub stats: DriverStats,
    /// What the kernel's ring supports beyond the required opcodes.
    pub opcodes: Opcodes,
    /// Final completions of ops (`user_data`, result) for an instrument; `None` without one.
    pub completed: Option<Vec<(u64, i32)>>,
}

impl Driver {
    /// `wake_fd` is the eventfd of the remote-wake queue, which owns and outlives it.
    pub fn new(entries: u32, flags: SetupFlags, wake_fd: RawFd) -> Result<Driver, Unavailable> {
        let (ring, mode, opcodes) = probe::setup(entries, flags)?;
        Ok(Driver {
            ring,
            outbox: None,
            ops: Slab::new(),
            bufs: Default::default(),
            backlog: VecDeque::new(),
            cancels: VecDeque::new(),
            closes: Closes::new(),
            internal_in_flight: 0,
            wake_fd,
            wake_buf: Box::new(0),
            wake_armed: false,
            wake_fired: false,
            mode,
            busy_skips: 0,
            busy_poll: None,
            wake_spin: None,
            spin_armed: false,
            wake_flags: None,
            reaped: Vec::with_capacity(REAP_BATCH),
            reap_stamp: Delivery::default(),
            msgs_in_sq: 0,
            graveyard: Vec::new(),
            dead_wakers: Vec::new(),
            shut: false,
            stats: DriverStats::default(),
            opcodes,
            completed: None,
        })
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Ops (not internal ones) whose final completion has not been collected.
    pub fn live_ops(&self) -> usize {
        self.ops.live()
    }

    /// Queues an SQE; a full SQ parks it in the backlog (H7), never panics or drops it.
    fn push(&mut self, entry: squeue::Entry) {
        if self.backlog.is_empty() {
            // What each SQE points at: an op's SQE at heap or 'static memory its data owns, held
            // by the `Op` future or (moved into a box) by the slab until its final completion
            // (`submit`'s contract); the wake read at the boxed `wake_buf` in `self`; cancel and
            // close SQEs carry no pointers; a MSG_RING names its target by an fd number that the
            // outbox keeps open until its completion or until this ring is closed (RF1).
            // SAFETY: so every SQE pushed points only at memory valid until its final completion.
            if unsafe { self.ring.submission().push(&entry) }.is_ok() {
                return;
            }
            self.stats.sq_full += 1;
        }
        self.backlog.push_back(entry);
    }

    /// Starts an op. `build` makes the SQE; the driver sets its `user_data`.
    ///
    /// # Safety
    /// Every pointer in the SQE must stay valid and in place until the op's final completion. The
    /// caller (`Op`) guarantees this by pointing only at memory whose address survives a move of
    /// the op data (the `OpData` contract), and by keeping that data alive until the final
    /// completion: it holds it while it waits and hands it to [`Driver::abandon`] if it stops
    /// waiting early.
    pub unsafe fn submit(&mut self, entry: squeue::Entry, waker: &Waker) -> OpKey {
        let key = self.ops.insert(Some(waker.clone()));
        self.stats.ops += 1;
        self.push(entry.user_data(key.user_data()));
        key
    }

    /// Polls an op for its final completion; on `Ready` the slot is freed.
    pub fn poll_op(&mut self, key: OpKey, cx: &mut Context<'_>) -> Poll<(i32, u32, Delivery)> {
        match self.ops.get(key) {
            Some(Lifecycle::Waiting(w)) => {
                match w {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => {
                        if let Some(old) = w.replace(cx.waker().clone()) {
                            self.dead_wakers.push(old);
                        }
                    }
                }
                Poll::Pending
            }
            Some(Lifecycle::Completed { res, flags, at }) => {
                let out = (*res, *flags, *at);
                self.ops.remove(key);
                Poll::Ready(out)
            }
            // Only reachable if a key is polled after it completed: report ECANCELED, not panic.
            _ => Poll::Ready((-libc::ECANCELED, 0, Delivery::default())),
        }
    }

    /// Asks the kernel to cancel an op. Its own completion still decides the outcome.
    ///
    /// An op still in the SQ backlog never reached the kernel: it completes as cancelled on the
    /// spot, and its waker (if any) is pushed to `wakers` for the caller to wake.
    pub fn cancel(&mut self, key: OpKey, wakers: &mut Vec<Waker>) {
        let ud = key.user_data();
        if let Some(pos) = self.backlog.iter().position(|e| e.get_user_data() == ud) {
            // Never reached the kernel: it did nothing, so it completes as cancelled now.
            self.backlog.remove(pos);
            self.deliver(ud, -libc::ECANCELED, 0, wakers);
            return;
        }
        self.cancels.push_back(CancelTarget::Op(ud));
    }

    /// Cancels every op on `fd` (used by `close().await` to unblock pending ops, H5).
    pub fn cancel_fd(&mut self, fd: RawFd) {
        self.cancels.push_back(CancelTarget::Fd(fd));
    }

    /// The future stops waiting: the driver takes the op's resources (the op data, moved out of
    /// the future into a box: the kernel's pointers lead to heap memory the data owns, which does
    /// not move with it) and cancels the op (H1, H3). Dropped after the final completion.
    pub fn abandon(&mut self, key: OpKey, data: Box<dyn Any>, cleanup: Cleanup, cancel: bool) {
        match self.ops.get(key) {
            Some(Lifecycle::Completed { res, .. }) => {
                let res = *res;
                self.ops.remove(key);
                self.reclaim(data, cleanup, res);
            }
            Some(state @ Lifecycle::Waiting(_)) => {
                *state = Lifecycle::Abandoned(data, cleanup);
                if cancel {
                    // An abandoned slot has no waker: nothing is collected.
                    let mut none = Vec::new();
                    self.cancel(key, &mut none);
                    self.dead_wakers.append(&mut none);
                }
            }
            _ => self.graveyard.push(data),
        }
    }

    /// True if SQEs are waiting to be submitted (in the SQ or a userspace queue).
    pub fn has_queued(&mut self) -> bool {
        !self.ring.submission().is_empty()
            || !self.backlog.is_empty()
            || !self.cancels.is_empty()
            || self.outbox.as_ref().is_some_and(|o| o.try_borrow().map_or(true, |o| o.has_pending()))
    }

    /// What was released while the driver was borrowed, for the caller to drop afterwards.
    pub fn take_graveyard(&mut self) -> (Vec<Box<dyn Any>>, Vec<Waker>) {
        (std::mem::take(&mut self.graveyard), std::mem::take(&mut self.dead_wakers))
    }

    fn reclaim(&mut self, data: Box<dyn Any>, cleanup: Cleanup, res: i32) {
        if cleanup == Cleanup::CloseFd && res >= 0 {
            self.close_later(res);
        }
        // The kernel is done with it; drop it once the driver is no longer borrowed.
        self.graveyard.push(data);
    }

    /// Closes `fd` through the ring at the next flush (H5).
    pub fn close_later(&mut self, fd: RawFd) {
        self.closes.push(fd);
    }

    /// The deferred-close list, which fd owners push to without borrowing the driver.
    pub fn closes(&self) -> Closes {
        self.closes.clone()
    }

    /// Moves queued cancels, closes and backlog into the SQ. When the SQ is full: submit, reap, retry
    /// (H7). Reaping makes room in the CQ, so a kernel that refuses to submit while completions
    /// overflow (`EBUSY`) cannot make this loop spin.
    fn flush(&mut self, wakers: &mut Vec<Waker>) -> io::Result<()> {
        while let Some(&target) = self.cancels.front() {
            let e = match target {
                CancelTarget::Op(ud) => opcode::AsyncCancel::new(ud).build(),
                CancelTarget::Fd(fd) => {
                    opcode::AsyncCancel2::new(types::CancelBuilder::fd(types::Fd(fd)).all()).build()
                }
            }
            .user_data(TAG_CANCEL);
            // SAFETY: an ASYNC_CANCEL SQE holds no pointers.
            if unsafe { self.ring.submission().push(&e) }.is_err() {
                self.make_room(wakers)?;
                continue;
            }
            self.internal_in_flight += 1;
            self.cancels.pop_front();
        }
        while let Some(fd) = self.closes.peek() {
            let e = opcode::Close::new(types::Fd(fd)).build().user_data(TAG_CLOSE);
            // SAFETY: a CLOSE SQE holds no pointers.
            if unsafe { self.ring.submission().push(&e) }.is_err() {
                self.make_room(wakers)?;
                continue;
            }
            self.internal_in_flight += 1;
            self.closes.pop();
        }
        self.queue_msgs();
        while let Some(e) = self.backlog.front() {
            // SAFETY: see `push`; backlog entries point into heap memory owned by op data that
            // is alive until their final completion, or into driver fields.
            if unsafe { self.ring.submission().push(e) }.is_err() {
                self.make_room(wakers)?;
                continue;
            }
            self.backlog.pop_front();
        }
        Ok(())
    }

    /// The SQ is full: hand it to the kernel and collect what completed meanwhile.
    fn make_room(&mut self, wakers: &mut Vec<Waker>) -> io::Result<()> {
        self.enter(0, None)?;
        self.reap(wakers);
        Ok(())
    }

    /// Keeps a read armed on the wake eventfd so a remote wake completes it.
    fn arm_wake(&mut self) {
        if self.wake_armed {
            return;
        }
        let buf: *mut u64 = &mut *self.wake_buf;
        let e = opcode::Read::new(types::Fd(self.wake_fd), buf.cast(), 8).build().user_data(TAG_WAKE);
        self.wake_armed = true;
        self.internal_in_flight += 1;
        self.push(e);
    }

    /// True once since the wake read last completed.
    pub fn take_wake(&mut self) -> bool {
        std::mem::take(&mut self.wake_fired)
    }

    /// Submits queued work, optionally waits, and collects the wakers of completed ops.
    ///
    /// It never blocks while work it found is pending: flushing a full SQ reaps completions (which
    /// may wake tasks or fire the wake read) and may queue closes, so a wait asked for by a caller
    /// that could not know this becomes a non-blocking enter (H7).
    #[inline(always)] // one hot call site (kernel::turn) and the cold idle path of the testing toolkit
    pub fn turn(&mut self, wait: Option<Option<Duration>>, wakers: &mut Vec<Waker>) -> io::Result<()> {
        let woken_before = wakers.len();
        self.arm_wake();
        self.flush(wakers)?;
        let wait = match wait {
            Some(_) if self.found_work(wakers.len() > woken_before) => None,
            w => w,
        };
        match wait {
            // Non-blocking, with nothing to submit: skip the syscall for a few busy ticks (tasks
            // that only wake each other need no kernel), but never more than BUSY_SKIPS in a row,
            // so completions (which DEFER_TASKRUN only runs on enter) are never starved (H8).
            None if self.ring.submission().is_empty() && self.busy_skips < BUSY_SKIPS => {
                self.busy_skips += 1;
            }
            None => {
                self.busy_skips = 0;
                self.enter(0, None)?;
                self.flush(wakers)?;
            }
            Some(timeout) => {
                self.busy_skips = 0;
                // Off: these two tests. On: spin first, and block only if nothing came (`wait.rs`).
                let timeout = match self.busy_poll {
                    None if !self.spin_armed => Some(timeout),
                    None => self.wake_spin(timeout)?,
                    Some(bound) => self.busy_poll(bound, timeout)?,
                };
                if let Some(timeout) = timeout {
                    // This ring's own MSG_RINGs in the SQ complete inline when submitted, and
                    // their completions must not end the wait: wait for one more completion than
                    // they post. If the kernel submits fewer SQEs than the SQ holds, it does not
                    // wait at all, so this never waits for a completion that cannot come (see
                    // `msgs_in_sq`; a busy-poll's enters submit them first and reset it).
                    let want = 1 + self.msgs_in_sq;
                    self.enter_blocking(want, timeout)?;
                }
            }
        }
        self.reap(wakers);
        Ok(())
    }

    /// True if the loop has something to do without waiting: tasks were woken, a remote wake
    /// arrived, or SQEs are still queued in userspace.
    fn found_work(&mut self, woken: bool) -> bool {
        woken || self.wake_fired || !self.backlog.is_empty() || !self.cancels.is_empty() || self.closes.peek().is_some()
    }

    /// Collects every completion. CQEs are copied out in batches of up to [`REAP_BATCH`] (the CQ
    /// head is released per batch, so the kernel can reuse the entries while they are delivered)
    /// into a vector the driver keeps: no per-pass zeroing of a stack array, no allocation.
    fn reap(&mut self, wakers: &mut Vec<Waker>) {
        let mut batch = std::mem::take(&mut self.reaped);
        let waiting = self.ring.completion().len();
        self.reap_stamp = Delivery::new(self.stats.enters, waiting > 1);
        loop {
            batch.clear();
            batch.extend(self.ring.completion().take(REAP_BATCH).map(|c| (c.user_data(), c.result(), c.flags())));
            if batch.is_empty() {
                break;
            }
            self.stats.cqes += batch.len() as u64;
            for &(ud, res, flags) in &batch {
                self.deliver(ud, res, flags, wakers);
            }
        }
        self.reaped = batch;
    }

    /// `io_uring_enter` calls so far: an op submitted now goes to the kernel in the next one.
    pub fn enters(&self) -> u64 {
        self.stats.enters
    }

    fn deliver(&mut self, ud: u64, res: i32, flags: u32, wakers: &mut Vec<Waker>) {
        match ud {
            TAG_CANCEL | TAG_CLOSE => self.internal_in_flight -= 1,
            TAG_WAKE => {
                self.internal_in_flight -= 1;
                self.wake_armed = false;
                self.wake_fired = true;
                self.stats.remote_wakes_eventfd += 1;
            }
            TAG_REMOTE => {
                self.wake_fired = true;
                self.stats.remote_wakes_msg_ring += 1;
            }
            _ if ud & multishot::MULTI == multishot::MULTI => self.deliver_recv(ud, res, flags, wakers),
            _ if ud & msg_ring::MASK == msg_ring::BAND => self.msg_completed(ud, res),
            _ if io_uring::cqueue::more(flags) => {} // not final: single-shot ops never see this
            _ => {
                if let Some(done) = &mut self.completed {
                    done.push((ud, res)); // for the instrument's `op_completed` (taken by the kernel)
                }
                match self.ops.complete(ud, res, flags, self.reap_stamp) {
                    Completion::Wake(Some(w)) => wakers.push(w),
                    Completion::Wake(None) => {}
                    Completion::Reclaim(data, cleanup, res) => self.reclaim(data, cleanup, res),
                    Completion::Stale => self.stats.stale += 1,
                }
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests;

#[derive(Debug, Clone, Copy)]
enum CancelTarget {
    Op(u64),
    Fd(RawFd),
}
