//! Socket opcodes: each op's data (inline in its `Op`) and the SQE it builds.
//!
//! The SQEs point only at memory that stays put when the data moves (the `OpData` contract):
//! buffers through `IoBuf`/`IoBufMut`, and addresses in a [`Stable`] block. `recv`, `send` and
//! `shutdown` allocate nothing; `accept` and `connect` allocate their address block once.

use super::addr::RawAddr;
use crate::buf::{IoBuf, IoBufMut};
use crate::driver::{Cleanup, Delivery};
use crate::fd::SharedFd;
use crate::op::OpData;
use crate::stable::Stable;
use io_uring::{opcode, squeue, types};

pub(crate) struct Accept {
    pub fd: SharedFd,
    /// The peer's address and its length, which the kernel writes at completion.
    pub addr: Stable<RawAddr>,
}

impl Accept {
    pub fn new(fd: SharedFd) -> Accept {
        Accept { fd, addr: Stable::new(RawAddr::empty()) }
    }
}

// SAFETY: the SQE points at `addr.storage` and `addr.len`, inside the `Stable` block `self` owns:
// its address does not change when `self` moves, and it is freed only when `self` is dropped. Its
// contents are read (`accepted`) only after the final completion.
unsafe impl OpData for Accept {
    const NAME: &'static str = "Accept";
    const CLEANUP: Cleanup = Cleanup::CloseFd;
    fn sqe(&mut self) -> squeue::Entry {
        let addr = self.addr.as_ptr();
        // SAFETY: `addr` is the live block of `self.addr`; taking field addresses reads nothing.
        let (storage, len) = unsafe { (&raw mut (*addr).storage, &raw mut (*addr).len) };
        opcode::Accept::new(types::Fd(self.fd.raw()), storage.cast(), len).flags(libc::SOCK_CLOEXEC).build()
    }
    fn info(&self) -> crate::introspect::OpInfo {
        crate::introspect::OpInfo::new("Accept").with_fd(self.fd.raw())
    }
}

pub(crate) struct Connect {
    pub fd: SharedFd,
    /// The address to connect to, which the kernel reads (possibly after submission).
    pub addr: Stable<RawAddr>,
}

impl Connect {
    pub fn new(fd: SharedFd, addr: RawAddr) -> Connect {
        Connect { fd, addr: Stable::new(addr) }
    }
}

// SAFETY: the SQE points at `addr.storage`, inside the `Stable` block `self` owns, whose address
// does not change when `self` moves and which is freed only when `self` is dropped. The kernel
// only reads it, and so does `info` while the op is in flight.
unsafe impl OpData for Connect {
    const NAME: &'static str = "Connect";
    fn sqe(&mut self) -> squeue::Entry {
        let addr = self.addr.as_ptr();
        // SAFETY: `addr` is the live block of `self.addr`; taking a field address reads nothing.
        let storage = unsafe { &raw const (*addr).storage };
        opcode::Connect::new(types::Fd(self.fd.raw()), storage.cast(), self.addr.len).build()
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

// SAFETY: the SQE points into `buf`'s initialised bytes; IoBuf guarantees they stay valid and
// unchanged when `buf` (with `self`) moves, until it is dropped or accessed mutably, which `self`
// does only after the final completion.
unsafe impl<B: IoBuf> OpData for Send<B> {
    const NAME: &'static str = "Send";
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

/// `IORING_RECVSEND_POLL_FIRST` (in the SQE's `ioprio`): arm the poll before trying the receive.
/// Set when [`SharedFd::recv_poll_first`] guesses the socket is empty.
pub(crate) const RECVSEND_POLL_FIRST: u16 = 1;

pub(crate) struct Recv<B> {
    pub fd: SharedFd,
    pub buf: B,
    /// Where in `buf` the kernel writes, and how much (from `buf::read_region`).
    pub off: usize,
    pub len: usize,
    /// When the completion was reaped (`net/recv_hint.rs`).
    pub at: Delivery,
}

impl<B> Recv<B> {
    pub fn new(fd: SharedFd, buf: B, off: usize, len: usize) -> Recv<B> {
        Recv { fd, buf, off, len, at: Delivery::default() }
    }
}

// SAFETY: the SQE points at `buf[off..off + len]`, inside the buffer's `bytes_total` writable bytes
// (`read_region` guarantees `off + len <= bytes_total`), which IoBufMut guarantees stay valid when
// `buf` (with `self`) moves, until it is dropped; nothing reads them before the final completion.
unsafe impl<B: IoBufMut> OpData for Recv<B> {
    const NAME: &'static str = "Recv";
    fn sqe(&mut self) -> squeue::Entry {
        // SAFETY: `off <= bytes_total`, so the pointer stays within (or one past) the buffer.
        let ptr = unsafe { self.buf.stable_mut_ptr().add(self.off) };
        let ioprio = if self.fd.recv_poll_first() { RECVSEND_POLL_FIRST } else { 0 };
        opcode::Recv::new(types::Fd(self.fd.raw()), ptr, clamp(self.len)).ioprio(ioprio).build()
    }
    fn info(&self) -> crate::introspect::OpInfo {
        let info = crate::introspect::OpInfo::new("Recv").with_fd(self.fd.raw()).with_bytes(clamp(self.len));
        info.with_poll_first(self.fd.recv_poll_first())
    }
    fn delivered(&mut self, at: Delivery) {
        self.at = at;
    }
}

pub(crate) struct Shutdown {
    pub fd: SharedFd,
    pub how: libc::c_int,
}

// SAFETY: SHUTDOWN carries no pointers.
unsafe impl OpData for Shutdown {
    const NAME: &'static str = "Shutdown";
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
