//! The driver's side of pooled receives: arming a buffer-select recv, routing its completions
//! (several per op for a multishot recv) into the receiver's queue, and disarming it.
//!
//! Why a separate table: a slab slot holds one result and is freed by its final CQE, while a
//! multishot recv posts any number of CQEs with `IORING_CQE_F_MORE` before its final one, and
//! they keep arriving while nobody waits (between two `recv` calls, or after a cancelled wait).
//! So a pooled recv's `user_data` is in its own band (`MULTI`: bits 63 and 62) and names a slot
//! of [`Bufs`], which holds the receiver's shared [`RecvState`]; every CQE appends an event to
//! its queue, in the kernel's order. The queue is bounded by the pool: every data event holds a
//! buffer, and no buffer can be in two events (invariant B1 in `buf_ring.rs`).
//!
//! Each armed recv holds a clone of the socket's `SharedFd` until its final CQE (H5), and counts
//! as an internal op in flight, so the shutdown drain waits for it (B3).
//!
//! # Invariants
//! - **M1** A receiver has at most one armed recv (`RecvState::armed`); it is cleared only by
//!   that recv's final CQE (or by removing it from the backlog before it reached the kernel).
//! - **M2** Events are queued in CQE order and the receiver consumes them front first, so bytes
//!   are delivered in the order the kernel received them; an `ENOBUFS` end queues nothing and the
//!   next arm continues where the socket's data stands.
//! - **M3** A CQE for a receiver that is gone returns its buffer to the ring at once (B2).

use super::buf_ring::{BufPoolConfig, BufPoolStats, GROUP, Pool};
use super::slab::INTERNAL;
use super::{CancelTarget, Driver};
use crate::fd::SharedFd;
use io_uring::{cqueue, opcode, squeue, types};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::task::Waker;

/// The band of pooled receives' `user_data`: bit 63 (internal) and bit 62.
pub(crate) const MULTI: u64 = INTERNAL | (1 << 62);
const GEN_MASK: u32 = (1 << 30) - 1;

/// One completion, as the receiver will see it.
#[derive(Debug)]
pub(crate) enum RecvEvent {
    /// `len` bytes in buffer `bid`.
    Data { bid: u16, len: u32 },
    /// The peer shut down its side.
    Eof,
    /// The recv failed with this errno.
    Err(i32),
}

/// What a receiver and its armed recv share.
#[derive(Debug, Default)]
pub(crate) struct RecvState {
    pub queue: VecDeque<RecvEvent>,
    /// The tasks waiting in `recv()` (usually one; two tasks may share a receiver).
    pub wakers: Vec<Waker>,
    /// The `user_data` of the armed recv (M1).
    pub armed: Option<u64>,
    /// The receiver was dropped: late buffers go back to the ring (M3).
    pub closed: bool,
    /// The armed recv delivered at least one CQE (a refused multishot fails on its first).
    got_any: bool,
}

pub(crate) type Shared = Rc<RefCell<RecvState>>;

struct Slot {
    generation: u32,
    entry: Option<(Shared, SharedFd)>,
}

/// The pool and the armed receives (a field of the driver, declared after the ring: B3).
#[derive(Default)]
pub(crate) struct Bufs {
    config: BufPoolConfig,
    pool: Option<Rc<Pool>>,
    slots: Vec<Slot>,
    free: Vec<u32>,
}

impl Bufs {
    /// Keeps the pool's memory forever: the kernel may still select from it (H4, B3).
    pub fn leak(&mut self) {
        if let Some(p) = &self.pool {
            std::mem::forget(p.clone());
        }
    }
}

impl Driver {
    /// Sets the shape of the pool made on first use.
    pub fn set_buf_pool(&mut self, config: BufPoolConfig) {
        self.bufs.config = config;
    }

    /// The runtime's pool, allocated and registered with the kernel on first use.
    pub fn buf_pool(&mut self) -> Result<Rc<Pool>, (bool, std::io::Error)> {
        if let Some(p) = &self.bufs.pool {
            return Ok(p.clone());
        }
        let pool = Pool::new(self.bufs.config).map_err(|e| (false, e))?;
        let (addr, entries) = pool.registration();
        // SAFETY: the ring memory is `entries` entries, page-aligned, owned by `pool`; it stays
        // valid until the ring is destroyed: the driver keeps an `Rc` of the pool in a field
        // dropped after `ring`, and leaks it if the shutdown drain leaves ops in flight (B3).
        unsafe { self.ring.submitter().register_buf_ring_with_flags(addr, entries, GROUP, 0) }
            .map_err(|e| (true, e))?;
        let pool = Rc::new(pool);
        self.bufs.pool = Some(pool.clone());
        Ok(pool)
    }

    pub fn buf_pool_stats(&self) -> Option<BufPoolStats> {
        let armed = (self.bufs.slots.len() - self.bufs.free.len()) as u32;
        self.bufs.pool.as_ref().map(|p| BufPoolStats { armed, ..p.stats() })
    }

    /// Arms a buffer-select recv on `fd` for `state` (multishot unless the pool fell back).
    pub fn arm_recv(&mut self, fd: &SharedFd, state: &Shared, pool: &Pool) -> u64 {
        let index = match self.bufs.free.pop() {
            Some(i) => i,
            None => {
                self.bufs.slots.push(Slot { generation: 0, entry: None });
                (self.bufs.slots.len() - 1) as u32
            }
        };
        let slot = &mut self.bufs.slots[index as usize];
        slot.entry = Some((state.clone(), fd.clone()));
        let ud = MULTI | (u64::from(slot.generation) << 32) | u64::from(index);
        let target = types::Fd(fd.raw());
        let e = if pool.multishot() {
            opcode::RecvMulti::new(target, GROUP).build()
        } else {
            let len = pool.stats().buffer_size;
            opcode::Recv::new(target, std::ptr::null_mut(), len)
                .buf_group(GROUP)
                .build()
                .flags(squeue::Flags::BUFFER_SELECT)
        };
        {
            let mut st = state.borrow_mut();
            st.armed = Some(ud);
            st.got_any = false;
        }
        self.internal_in_flight += 1;
        // The SQE carries no pointer: the kernel picks the buffer from the registered ring.
        self.push(e.user_data(ud));
        ud
    }

    /// Stops an armed recv (its receiver is gone). Its final CQE still arrives and frees it; one
    /// that never left the backlog is freed now.
    pub fn disarm_recv(&mut self, ud: u64) {
        if let Some(pos) = self.backlog.iter().position(|e| e.get_user_data() == ud) {
            self.backlog.remove(pos);
            let mut none = Vec::new();
            self.deliver_recv(ud, -libc::ECANCELED, 0, &mut none);
            self.dead_wakers.append(&mut none);
            return;
        }
        self.cancels.push_back(CancelTarget::Op(ud));
    }

    /// Routes one CQE of a pooled recv (see the module docs).
    pub(super) fn deliver_recv(&mut self, ud: u64, res: i32, flags: u32, wakers: &mut Vec<Waker>) {
        let (index, generation) = (ud as u32, ((ud >> 32) as u32) & GEN_MASK);
        let Bufs { pool, slots, free, .. } = &mut self.bufs;
        let Some(slot) = slots.get_mut(index as usize).filter(|s| s.generation == generation) else {
            self.stats.stale += 1;
            return;
        };
        let (Some((state, _)), Some(pool)) = (&slot.entry, pool) else {
            self.stats.stale += 1;
            return;
        };
        let mut st = state.borrow_mut();
        let first = !std::mem::replace(&mut st.got_any, true);
        let closed = st.closed;
        let mut event = match cqueue::buffer_select(flags) {
            Some(bid) if pool.taken(bid) => {
                if res > 0 && !closed {
                    st.queue.push_back(RecvEvent::Data { bid, len: res as u32 });
                    None
                } else {
                    // Nobody will read it (M3), or the CQE carries no data.
                    pool.unqueue(bid, Some(wakers));
                    (res <= 0).then_some(res)
                }
            }
            Some(_) => Some(-libc::EIO), // a buffer id the pool never had
            None if res > 0 => Some(-libc::EIO),
            None => Some(res),
        };
        let last = !cqueue::more(flags);
        if event == Some(-libc::ENOBUFS) {
            // The ring ran dry: nothing to report; the receiver re-arms when buffers return (M2).
            pool.count_exhausted();
            event = None;
        }
        if event == Some(-libc::EINVAL) && last && first && pool.multishot() {
            // A kernel without multishot recv refuses it before receiving anything: fall back to
            // single-shot buffer-select receives; the receiver re-arms.
            pool.set_multishot(false);
            event = None;
        }
        if let Some(res) = event.filter(|_| !closed) {
            st.queue.push_back(if res == 0 { RecvEvent::Eof } else { RecvEvent::Err(-res) });
        }
        if last {
            st.armed = None;
        }
        wakers.append(&mut st.wakers);
        drop(st);
        if last {
            let entry = slot.entry.take();
            slot.generation = (slot.generation + 1) & GEN_MASK;
            free.push(index);
            self.internal_in_flight -= 1;
            // The fd clone and the state may be the last ones: drop them after the borrow.
            self.graveyard.push(Box::new(entry));
        }
    }
}
