//! Socket opcodes: each op's boxed data and the SQE it builds.

use super::addr::RawAddr;
use crate::buf::{IoBuf, IoBufMut};
use crate::driver::Cleanup;
use crate::fd::SharedFd;
use crate::op::OpData;
use io_uring::{opcode, squeue, types};

pub(crate) struct Accept {
    pub fd: SharedFd,
    pub addr: RawAddr,
}

// SAFETY: the SQE points at `addr.storage` and `addr.len`, both inside the boxed `self`.
unsafe impl OpData for Accept {
    const CLEANUP: Cleanup = Cleanup::CloseFd;
    fn sqe(&mut self) -> squeue::Entry {
        opcode::Accept::new(
            types::Fd(self.fd.raw()),
            (&mut self.addr.storage as *mut libc::sockaddr_storage).cast(),
            &mut self.addr.len,
        )
        .flags(libc::SOCK_CLOEXEC)
        .build()
    }
    fn info(&self) -> crate::introspect::OpInfo {
        crate::introspect::OpInfo::new("Accept").with_fd(self.fd.raw())
    }
}

pub(crate) struct Connect {
    pub fd: SharedFd,
    pub addr: RawAddr,
}

// SAFETY: the SQE points at `addr.storage`, inside the boxed `self`.
unsafe impl OpData for Connect {
    fn sqe(&mut self) -> squeue::Entry {
        opcode::Connect::new(
            types::Fd(self.fd.raw()),
            (&self.addr.storage as *const libc::sockaddr_storage).cast(),
            self.addr.len,
        )
        .build()
    }
    fn info(&self) -> crate::introspect::OpInfo {
        let info = crate::introspect::OpInfo::new("Connect").with_fd(self.fd.raw());
        match self.addr.to_std() {
            Ok(peer) => info.with_peer(peer),
            Err(_) => info,
        }
    }
}

pub(crate) struct Send<B> {
    pub fd: SharedFd,
    pub buf: B,
    pub offset: usize,
}

// SAFETY: the SQE points into `buf`, owned by the boxed `self`; IoBuf guarantees the bytes stay
// valid while `buf` is not moved, and the box never moves it.
unsafe impl<B: IoBuf> OpData for Send<B> {
    fn sqe(&mut self) -> squeue::Entry {
        let len = self.buf.bytes_init().saturating_sub(self.offset);
        let off = self.offset.min(self.buf.bytes_init());
        // SAFETY: `off <= bytes_init`, so the pointer stays within (or one past) the buffer.
        let ptr = unsafe { self.buf.stable_ptr().add(off) };
        opcode::Send::new(types::Fd(self.fd.raw()), ptr, clamp(len)).flags(libc::MSG_NOSIGNAL).build()
    }
    fn info(&self) -> crate::introspect::OpInfo {
        let len = self.buf.bytes_init().saturating_sub(self.offset);
        crate::introspect::OpInfo::new("Send").with_fd(self.fd.raw()).with_bytes(clamp(len))
    }
}

pub(crate) struct Recv<B> {
    pub fd: SharedFd,
    pub buf: B,
    /// Where in `buf` the kernel writes, and how much (from `buf::read_region`).
    pub off: usize,
    pub len: usize,
}

// SAFETY: the SQE points at `buf[off..off + len]`, inside the buffer's `bytes_total` writable bytes
// (`read_region` guarantees `off + len <= bytes_total`), owned by the boxed `self` (IoBufMut).
unsafe impl<B: IoBufMut> OpData for Recv<B> {
    fn sqe(&mut self) -> squeue::Entry {
        // SAFETY: `off <= bytes_total`, so the pointer stays within (or one past) the buffer.
        let ptr = unsafe { self.buf.stable_mut_ptr().add(self.off) };
        opcode::Recv::new(types::Fd(self.fd.raw()), ptr, clamp(self.len)).build()
    }
    fn info(&self) -> crate::introspect::OpInfo {
        crate::introspect::OpInfo::new("Recv").with_fd(self.fd.raw()).with_bytes(clamp(self.len))
    }
}

pub(crate) struct Shutdown {
    pub fd: SharedFd,
    pub how: libc::c_int,
}

// SAFETY: SHUTDOWN carries no pointers.
unsafe impl OpData for Shutdown {
    fn sqe(&mut self) -> squeue::Entry {
        opcode::Shutdown::new(types::Fd(self.fd.raw()), self.how).build()
    }
}

/// Linux's `MAX_RW_COUNT` (`INT_MAX & PAGE_MASK`, with 4 KiB pages): the most one read, write,
/// send or recv moves. recv/send refuse lengths above `INT_MAX` with `EINVAL`, and read/write cut
/// longer ones to this anyway, so clamping every length to it loses nothing and works for all of
/// them. (With bigger pages the kernel cuts read/write further itself; this stays below `INT_MAX`.)
pub(crate) const MAX_IO_LEN: u32 = 0x7fff_f000;

/// The length an SQE gets for a buffer of `len` bytes: at most [`MAX_IO_LEN`]. A short transfer
/// is a normal result that `send_all`/`write_all_at` and callers of `recv`/`read_at` handle.
pub(crate) fn clamp(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX).min(MAX_IO_LEN)
}

impl<B: IoBuf> crate::write_all::CursorWrite for Send<B> {
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
