//! Process opcodes: waiting for a child's exit (`WAITID`, or `POLL_ADD` on its pidfd) and writing
//! to a pipe from an offset into the buffer.

use crate::buf::IoBuf;
use crate::fd::SharedFd;
use crate::net_clamp as clamp;
use crate::op::OpData;
use crate::stable::Stable;
use io_uring::{opcode, squeue, types};

/// `waitid(P_PIDFD, pidfd, WEXITED | WNOWAIT)`: completes when the child has exited, without
/// reaping it, so an op that raced a cancel or was abandoned has changed nothing; the caller reaps
/// with a non-blocking `waitid` afterwards.
pub(crate) struct WaitExit {
    pub pidfd: SharedFd,
    /// Where the kernel writes the child's `siginfo` (unread: the caller reaps with `waitid`).
    info: Stable<libc::siginfo_t>,
}

impl WaitExit {
    pub fn new(pidfd: SharedFd) -> WaitExit {
        // SAFETY: siginfo_t is plain data; all-zero is a valid value.
        WaitExit { pidfd, info: Stable::new(unsafe { std::mem::zeroed() }) }
    }
}

// SAFETY: the SQE points at `info`, a `Stable` block `self` owns: its address does not change when
// `self` moves, and it is freed only when `self` is dropped.
unsafe impl OpData for WaitExit {
    const NAME: &'static str = "WaitExit";
    fn sqe(&mut self) -> squeue::Entry {
        opcode::WaitId::new(libc::P_PIDFD, self.pidfd.raw() as libc::id_t, libc::WEXITED | libc::WNOWAIT)
            .infop(self.info.as_ptr().cast_const())
            .build()
    }
}

/// `POLLIN` on a pidfd: ready once the process has exited (the fallback before `WAITID`, 6.7).
pub(crate) struct PollExit {
    pub pidfd: SharedFd,
}

// SAFETY: POLL_ADD carries no pointers.
unsafe impl OpData for PollExit {
    const NAME: &'static str = "PollExit";
    fn sqe(&mut self) -> squeue::Entry {
        opcode::PollAdd::new(types::Fd(self.pidfd.raw()), libc::POLLIN as u32).build()
    }
}

/// A write to a pipe of `buf[offset..]` (pipes have no file position: offset -1).
pub(crate) struct PipeWrite<B> {
    pub fd: SharedFd,
    pub buf: B,
    pub offset: usize,
}

// SAFETY: the SQE points into `buf`'s initialised bytes, which IoBuf guarantees stay valid and in
// place when `buf` (with `self`) moves, until it is dropped or accessed mutably (after the final
// completion).
unsafe impl<B: IoBuf> OpData for PipeWrite<B> {
    const NAME: &'static str = "PipeWrite";
    fn sqe(&mut self) -> squeue::Entry {
        let off = self.offset.min(self.buf.bytes_init());
        // SAFETY: `off <= bytes_init`, so the pointer stays within (or one past) the buffer.
        let ptr = unsafe { self.buf.stable_ptr().add(off) };
        opcode::Write::new(types::Fd(self.fd.raw()), ptr, clamp(self.buf.bytes_init() - off)).offset(u64::MAX).build()
    }
}

impl<B: IoBuf> crate::write_all::CursorWrite for PipeWrite<B> {
    type Buf = B;
    fn buf(&self) -> &B {
        &self.buf
    }
    fn offset(&mut self) -> &mut usize {
        &mut self.offset
    }
    fn into_buf(self) -> B {
        self.buf
    }
}
