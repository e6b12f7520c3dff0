//! The driver's side of MSG_RING wake-ups (`wake/msg_ring.rs` has the protocol, RF1-RF3): a
//! dup of the ring's fd for other kernels to target, the SQEs of this ring's own messages, and
//! their completions.

use super::{Driver, INTERNAL, TAG_REMOTE};
use crate::wake::msg_ring::Outbox;
use io_uring::opcode;
use io_uring::types;
use std::cell::RefCell;
use std::os::fd::{AsRawFd, RawFd};
use std::rc::Rc;

/// This ring's own MSG_RINGs: bit 61 (the pooled receives' band has 62), the outbox index below.
pub(super) const BAND: u64 = INTERNAL | (1 << 61);
pub(super) const MASK: u64 = INTERNAL | (1 << 62) | (1 << 61);

impl Driver {
    /// Makes this ring send MSG_RING wakes to other kernels and returns a dup of its fd for
    /// theirs to target (RF1 in `wake/msg_ring.rs`); `None` (eventfd only) if the ring lacks
    /// `IORING_OP_MSG_RING` (before 5.18, or the optional opcodes are off) or the dup fails.
    pub fn enable_msg_ring(&mut self) -> Option<RawFd> {
        if !self.opcodes.has(opcode::MsgRingData::CODE) {
            return None;
        }
        // SAFETY: F_DUPFD_CLOEXEC takes no pointer; the ring fd is open (owned by `self.ring`).
        let dup = unsafe { libc::fcntl(self.ring.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0) };
        if dup < 0 {
            return None;
        }
        self.outbox = Some(Rc::default());
        Some(dup)
    }

    /// The outbox of MSG_RING wakes, if this ring sends them.
    pub fn outbox(&self) -> Option<Rc<RefCell<Outbox>>> {
        self.outbox.clone()
    }

    /// Makes an SQE of each MSG_RING wake queued since the last flush.
    pub(super) fn queue_msgs(&mut self) {
        let Some(outbox) = self.outbox.clone() else { return };
        loop {
            let Some((index, fd)) = outbox.borrow_mut().next_pending() else { return };
            // The target's CQE carries TAG_REMOTE; this ring's carries the outbox index.
            let e =
                opcode::MsgRingData::new(types::Fd(fd), 0, TAG_REMOTE, None).build().user_data(BAND | u64::from(index));
            self.internal_in_flight += 1;
            self.stats.msg_ring_sent += 1;
            let before = self.ring.submission().len();
            self.push(e);
            if self.ring.submission().len() > before {
                self.msgs_in_sq += 1;
            }
        }
    }

    /// This ring's MSG_RING `ud` completed: release its target, or fall back to its eventfd (RF2).
    pub(super) fn msg_completed(&mut self, ud: u64, res: i32) {
        self.internal_in_flight -= 1;
        let fell_back = self.outbox.as_ref().is_some_and(|o| o.borrow_mut().complete(ud as u32, res));
        if fell_back {
            self.stats.msg_ring_failed += 1;
        }
    }
}
