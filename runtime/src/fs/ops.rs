//! File opcodes: each op's boxed data and the SQE it builds.

use crate::buf::{IoBuf, IoBufMut};
use crate::driver::Cleanup;
use crate::fd::SharedFd;
use crate::net_clamp as clamp;
use crate::op::OpData;
use io_uring::{opcode, squeue, types};
use std::ffi::CString;

pub(crate) struct Open {
    pub path: CString,
    pub flags: libc::c_int,
    pub mode: libc::mode_t,
}

// SAFETY: the SQE points at `path`'s heap bytes, owned by the boxed `self`.
unsafe impl OpData for Open {
    const CLEANUP: Cleanup = Cleanup::CloseFd;
    fn sqe(&mut self) -> squeue::Entry {
        opcode::OpenAt::new(types::Fd(libc::AT_FDCWD), self.path.as_ptr())
            .flags(self.flags | libc::O_CLOEXEC)
            .mode(self.mode)
            .build()
    }
}

pub(crate) struct ReadAt<B> {
    pub fd: SharedFd,
    pub buf: B,
    pub pos: u64,
    /// Where in `buf` the kernel writes, and how much (from `buf::read_region`).
    pub off: usize,
    pub len: usize,
}

// SAFETY: the SQE points at `buf[off..off + len]`, inside the buffer's `bytes_total` writable bytes
// (`read_region` guarantees `off + len <= bytes_total`), owned by the boxed `self` (IoBufMut).
unsafe impl<B: IoBufMut> OpData for ReadAt<B> {
    fn sqe(&mut self) -> squeue::Entry {
        // SAFETY: `off <= bytes_total`, so the pointer stays within (or one past) the buffer.
        let ptr = unsafe { self.buf.stable_mut_ptr().add(self.off) };
        opcode::Read::new(types::Fd(self.fd.raw()), ptr, clamp(self.len)).offset(self.pos).build()
    }
}

pub(crate) struct WriteAt<B> {
    pub fd: SharedFd,
    pub buf: B,
    pub pos: u64,
}

// SAFETY: the SQE points into `buf`'s initialised bytes, owned by the boxed `self` (IoBuf).
unsafe impl<B: IoBuf> OpData for WriteAt<B> {
    fn sqe(&mut self) -> squeue::Entry {
        opcode::Write::new(types::Fd(self.fd.raw()), self.buf.stable_ptr(), clamp(self.buf.bytes_init()))
            .offset(self.pos)
            .build()
    }
}

pub(crate) struct Fsync {
    pub fd: SharedFd,
    pub datasync: bool,
}

// SAFETY: FSYNC carries no pointers.
unsafe impl OpData for Fsync {
    fn sqe(&mut self) -> squeue::Entry {
        let mut e = opcode::Fsync::new(types::Fd(self.fd.raw()));
        if self.datasync {
            e = e.flags(types::FsyncFlags::DATASYNC);
        }
        e.build()
    }
}

pub(crate) struct Statx {
    pub fd: SharedFd,
    pub out: libc::statx,
}

static EMPTY: &[u8; 1] = b"\0";

// SAFETY: the SQE points at `out`, inside the boxed `self`, and at a static empty path.
unsafe impl OpData for Statx {
    fn sqe(&mut self) -> squeue::Entry {
        opcode::Statx::new(types::Fd(self.fd.raw()), EMPTY.as_ptr().cast(), (&mut self.out as *mut libc::statx).cast())
            .flags(libc::AT_EMPTY_PATH)
            .mask(libc::STATX_BASIC_STATS)
            .build()
    }
}
