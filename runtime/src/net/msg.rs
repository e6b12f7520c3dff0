//! `sendmsg`/`recvmsg` on the ring: datagrams with addresses, and fds passed with `SCM_RIGHTS`.
//!
//! The kernel reads and writes a `msghdr`, the `iovec` it points to, the address and the control
//! (ancillary data) buffer some time after submission, while the op data ([`SendMsg`],
//! [`RecvMsg`]) may move (it lives inline in its `Op`, and moves to the driver if the future is
//! dropped in flight). So the `msghdr`, `iovec` and address live in one [`Stable`] block
//! ([`MsgParts`]), the control buffer is a `Vec`, and `sqe()` fills in the pointers between them:
//! all of them heap addresses that do not change when the data moves. The buffer itself is owned
//! by the op as usual (H1).
//!
//! Received fds: the kernel installs them in this process when a `recvmsg` completes. The caller
//! takes them as `OwnedFd`s ([`RecvMsg::take_fds`]); fds nobody took (the future was dropped after
//! the kernel completed the op, or the caller ignored them) are closed when the op data is
//! dropped, which for an abandoned op is after its final completion, by the driver. So a cancelled
//! or dropped receive never leaks a passed fd.
//!
//! Sent fds are duplicated into the op data (`F_DUPFD_CLOEXEC`) and closed when it is dropped,
//! after the completion: the caller may close its own copies at any time without the kernel ever
//! reading a number that was closed and reused.

use super::addr::RawAddr;
use super::ops::clamp;
use crate::buf::{IoBuf, IoBufMut, read_region};
use crate::error::OpError;
use crate::fd::SharedFd;
use crate::op::{Op, OpData};
use crate::stable::Stable;
use io_uring::{opcode, squeue, types};
use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// The most fds one message may carry (the kernel's `SCM_MAX_FD` is 253).
///
/// ```
/// assert_eq!(quartet_runtime::net::MAX_FDS, 253);
/// ```
pub const MAX_FDS: usize = 253;

/// A control buffer with the alignment `cmsghdr` needs, zeroed so that unused space never parses
/// as a message.
pub(crate) struct Control(Vec<u64>);

impl Control {
    /// Room for one `SCM_RIGHTS` message with `fds` descriptors (none if `fds == 0`).
    fn for_fds(fds: usize) -> Control {
        if fds == 0 {
            return Control(Vec::new());
        }
        // SAFETY: CMSG_SPACE only computes a size.
        let bytes = unsafe { libc::CMSG_SPACE((fds.min(MAX_FDS) * size_of::<RawFd>()) as u32) } as usize;
        Control(vec![0u64; bytes.div_ceil(8)])
    }

    fn bytes(&self) -> usize {
        self.0.len() * 8
    }

    fn ptr(&mut self) -> *mut libc::c_void {
        if self.0.is_empty() { std::ptr::null_mut() } else { self.0.as_mut_ptr().cast() }
    }
}

/// Walks the `SCM_RIGHTS` messages in the first `len` bytes of `control` and hands each fd to `f`.
fn for_each_passed_fd(control: &Control, len: usize, mut f: impl FnMut(RawFd)) {
    let len = len.min(control.bytes());
    let base = control.0.as_ptr().cast::<u8>();
    let hdr = size_of::<libc::cmsghdr>();
    let mut off = 0usize;
    while off + hdr <= len {
        // SAFETY: `off + hdr <= len <= bytes`, and `off` is a multiple of the cmsg alignment (8),
        // so the header lies inside the buffer and is aligned; read_unaligned is used regardless.
        let cmsg: libc::cmsghdr = unsafe { std::ptr::read_unaligned(base.add(off).cast()) };
        let clen = cmsg.cmsg_len as usize;
        if clen < hdr || off + clen > len {
            break;
        }
        // SAFETY: CMSG_LEN only computes a size.
        let data_off = unsafe { libc::CMSG_LEN(0) } as usize;
        if cmsg.cmsg_level == libc::SOL_SOCKET && cmsg.cmsg_type == libc::SCM_RIGHTS {
            let n = (clen - data_off) / size_of::<RawFd>();
            for i in 0..n {
                // SAFETY: the fd array lies within this message, inside the buffer.
                let fd: RawFd =
                    unsafe { std::ptr::read_unaligned(base.add(off + data_off + i * size_of::<RawFd>()).cast()) };
                f(fd);
            }
        }
        // SAFETY: CMSG_SPACE only computes a size.
        off += unsafe { libc::CMSG_SPACE((clen - data_off) as u32) } as usize;
    }
}

/// The control length the kernel reported (`size_t` on glibc, `socklen_t` on musl).
#[allow(clippy::unnecessary_cast)]
fn controllen(msg: &libc::msghdr) -> usize {
    msg.msg_controllen as usize
}

/// Duplicates `fds` (close-on-exec) so the op owns copies the caller cannot close under it.
pub(crate) fn dup_fds(fds: &[BorrowedFd<'_>]) -> io::Result<Vec<OwnedFd>> {
    if fds.len() > MAX_FDS {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("at most {MAX_FDS} fds per message")));
    }
    fds.iter().map(|fd| fd.try_clone_to_owned()).collect()
}

/// What the kernel reads (and for a receive, writes) through the pointers of a `sendmsg` or
/// `recvmsg` SQE: the `msghdr`, the one `iovec` it points to, and the address. In one heap block
/// (a [`Stable`]) so that their addresses do not change when the op data moves.
pub(crate) struct MsgParts {
    msg: libc::msghdr,
    iov: libc::iovec,
    addr: Option<RawAddr>,
}

impl MsgParts {
    fn new(addr: Option<RawAddr>) -> Stable<MsgParts> {
        // SAFETY: iovec and msghdr are plain old data; all-zero is valid (null pointers, 0 lengths).
        let (iov, msg) = unsafe { (zeroed(), zeroed()) };
        Stable::new(MsgParts { msg, iov, addr })
    }

    /// Points the `msghdr` at its own `iovec` (set to `base`, `len`) and address.
    fn link(&mut self, base: *mut libc::c_void, len: usize) {
        self.iov = libc::iovec { iov_base: base, iov_len: len };
        self.msg.msg_iov = &raw mut self.iov;
        self.msg.msg_iovlen = 1;
        if let Some(a) = &mut self.addr {
            self.msg.msg_name = (&raw mut a.storage).cast();
            self.msg.msg_namelen = a.len;
        }
    }
}

/// `sendmsg`: all of `buf` to `addr` (or the connected peer), with optional fds.
pub(crate) struct SendMsg<B> {
    pub fd: SharedFd,
    pub buf: B,
    fds: Vec<OwnedFd>,
    control: Control,
    parts: Stable<MsgParts>,
}

impl<B: IoBuf> SendMsg<B> {
    pub fn new(fd: SharedFd, buf: B, addr: Option<RawAddr>, fds: Vec<OwnedFd>) -> SendMsg<B> {
        let control = Control::for_fds(fds.len());
        SendMsg { fd, buf, fds, control, parts: MsgParts::new(addr) }
    }
}

// The SQE points at the msghdr in the `Stable` block `self.parts`, which points at the iovec and
// address in the same block, at the control buffer (a `Vec`'s heap block) and, through the iovec,
// at `buf`'s bytes (IoBuf: stable when `buf` moves).
// SAFETY: so all of them keep their address when `self` moves and stay valid until `self` is
// dropped; none is touched until the final completion.
unsafe impl<B: IoBuf> OpData for SendMsg<B> {
    const NAME: &'static str = "SendMsg";
    fn sqe(&mut self) -> squeue::Entry {
        let parts = &mut *self.parts;
        parts.link(self.buf.stable_ptr() as *mut libc::c_void, self.buf.bytes_init());
        if !self.fds.is_empty() {
            let bytes = (self.fds.len() * size_of::<RawFd>()) as u32;
            parts.msg.msg_control = self.control.ptr();
            // SAFETY: CMSG_SPACE only computes a size.
            parts.msg.msg_controllen = unsafe { libc::CMSG_SPACE(bytes) } as usize;
            // SAFETY: the control buffer is at least CMSG_SPACE(bytes) long (`Control::for_fds`)
            // and zeroed, so CMSG_FIRSTHDR is non-null and the header and data fit in it.
            unsafe {
                let cmsg = libc::CMSG_FIRSTHDR(&parts.msg);
                (*cmsg).cmsg_level = libc::SOL_SOCKET;
                (*cmsg).cmsg_type = libc::SCM_RIGHTS;
                (*cmsg).cmsg_len = libc::CMSG_LEN(bytes) as usize;
                let data = libc::CMSG_DATA(cmsg).cast::<RawFd>();
                for (i, fd) in self.fds.iter().enumerate() {
                    std::ptr::write_unaligned(data.add(i), fd.as_raw_fd());
                }
            }
        }
        opcode::SendMsg::new(types::Fd(self.fd.raw()), &raw const parts.msg).flags(libc::MSG_NOSIGNAL as u32).build()
    }
}

/// `recvmsg` into `buf[off..off + len]`, with the sender's address and up to `max_fds` fds.
///
/// With `trunc`, `MSG_TRUNC` is passed, so for datagram sockets the result is the datagram's full
/// length even when it did not fit (the bytes stored are `min(result, len)`).
pub(crate) struct RecvMsg<B> {
    pub fd: SharedFd,
    pub buf: B,
    pub off: usize,
    pub len: usize,
    hdr: RecvHeader,
    trunc: bool,
}

/// The `msghdr` (with its iovec and address) and its control buffer; closes passed fds nobody
/// took when dropped.
struct RecvHeader {
    parts: Stable<MsgParts>,
    control: Control,
}

impl<B: IoBufMut> RecvMsg<B> {
    /// `trunc` asks for the full datagram length (datagram sockets only: on a stream socket
    /// `MSG_TRUNC` would discard bytes).
    pub fn new(fd: SharedFd, buf: B, off: usize, len: usize, max_fds: usize, trunc: bool) -> RecvMsg<B> {
        let hdr = RecvHeader { parts: MsgParts::new(Some(RawAddr::empty())), control: Control::for_fds(max_fds) };
        RecvMsg { fd, buf, off, len, hdr, trunc }
    }

    /// The sender's address as the kernel wrote it (length from the returned `msg_namelen`).
    /// Called after the final completion only.
    pub fn take_addr(&mut self) -> RawAddr {
        let parts = &mut *self.hdr.parts;
        let mut a = parts.addr.take().unwrap_or_else(RawAddr::empty);
        a.len = parts.msg.msg_namelen;
        a
    }

    /// Takes ownership of the fds the kernel installed; afterwards nothing is closed on drop.
    /// Called after the final completion only.
    pub fn take_fds(&mut self) -> Vec<OwnedFd> {
        let mut out = Vec::new();
        for_each_passed_fd(&self.hdr.control, controllen(&self.hdr.parts.msg), |fd| {
            // SAFETY: each fd in an SCM_RIGHTS message was installed in this process by the kernel
            // for this message and is owned by nobody else; clearing `msg_controllen` below makes
            // sure it is taken only once.
            out.push(unsafe { OwnedFd::from_raw_fd(fd) })
        });
        self.hdr.parts.msg.msg_controllen = 0;
        out
    }
}

// As for `SendMsg`: the msghdr, iovec and address are in the `Stable` block `self.hdr.parts` and
// the control buffer is a `Vec`'s heap block. The kernel writes the msghdr, address and control
// buffer; they are read (`take_addr`, `take_fds`, `Drop`) only after the final completion.
// SAFETY: so none moves with `self` and all live until `self` is dropped; the iovec covers
// `buf[off..off + len]`, inside the writable bytes (`read_region`), stable under moves (IoBufMut).
unsafe impl<B: IoBufMut> OpData for RecvMsg<B> {
    const NAME: &'static str = "RecvMsg";
    fn sqe(&mut self) -> squeue::Entry {
        // SAFETY: `off <= bytes_total`, so the pointer stays within (or one past) the buffer.
        let base = unsafe { self.buf.stable_mut_ptr().add(self.off) };
        let parts = &mut *self.hdr.parts;
        parts.link(base.cast(), clamp(self.len) as usize);
        parts.msg.msg_control = self.hdr.control.ptr();
        parts.msg.msg_controllen = self.hdr.control.bytes();
        let flags = libc::MSG_CMSG_CLOEXEC | if self.trunc { libc::MSG_TRUNC } else { 0 };
        opcode::RecvMsg::new(types::Fd(self.fd.raw()), &raw mut parts.msg).flags(flags as u32).build()
    }
}

impl Drop for RecvHeader {
    fn drop(&mut self) {
        // Fds that arrived but were never taken (an abandoned op that completed, or a result the
        // caller did not collect). The control buffer starts zeroed, so an op that never completed
        // parses as empty.
        for_each_passed_fd(&self.control, controllen(&self.parts.msg), |fd| {
            // SAFETY: installed by the kernel for this message and never handed out (see above).
            drop(unsafe { OwnedFd::from_raw_fd(fd) })
        });
    }
}

/// The outcome of receiving one message: how much of it was stored, how long it really was, and
/// who sent it.
///
/// # Examples
/// ```no_run
/// use quartet_runtime::net::UdpSocket;
/// # quartet_runtime::run(async {
/// let socket = UdpSocket::bind("127.0.0.1:9999".parse().unwrap())?;
/// let (meta, buf) = socket.recv_from(Box::new([0u8; 512])).await;
/// let meta = meta?;
/// if meta.truncated() {
///     eprintln!("{} sent {} bytes; kept the first {}", meta.addr, meta.datagram_len, meta.len);
/// }
/// let payload = &buf[..meta.len];
/// # let _ = payload;
/// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecvMeta<A> {
    /// Bytes stored in the buffer.
    pub len: usize,
    /// The datagram's full length: larger than `len` when the buffer was too small and the rest
    /// of the datagram was discarded (`MSG_TRUNC`). Equal to `len` for stream sockets.
    pub datagram_len: usize,
    /// The sender's address.
    pub addr: A,
}

impl<A> RecvMeta<A> {
    /// True if the datagram did not fit and its tail was discarded.
    pub fn truncated(&self) -> bool {
        self.datagram_len > self.len
    }
}

/// Sends `buf` as one message to `addr` (or the connected peer) with `fds` attached.
pub(crate) async fn send_msg<B: IoBuf>(
    fd: &SharedFd,
    buf: B,
    addr: Option<RawAddr>,
    fds: Vec<OwnedFd>,
) -> (Result<usize, OpError>, B) {
    let (res, data) = Op::new(SendMsg::new(fd.clone(), buf, addr, fds)).await;
    (res.map(|n| n as usize), data.buf)
}

/// One received message: bytes stored, full length, sender, passed fds.
pub(crate) struct Received {
    pub stored: usize,
    pub full: usize,
    pub addr: RawAddr,
    pub fds: Vec<OwnedFd>,
}

/// Receives one message into `buf`'s free region (as `recv` does), with up to `max_fds` fds.
pub(crate) async fn recv_msg<B: IoBufMut>(
    fd: &SharedFd,
    mut buf: B,
    max_fds: usize,
    trunc: bool,
) -> (Result<Received, OpError>, B) {
    let (off, len) = match read_region(&mut buf) {
        Ok(r) => r,
        Err(e) => return (Err(e.into()), buf),
    };
    let (res, mut data) = Op::new(RecvMsg::new(fd.clone(), buf, off, len, max_fds, trunc)).await;
    let res = res.map(|n| {
        let full = n as usize;
        let stored = full.min(len);
        // SAFETY: the kernel wrote `stored <= len` bytes at `off`, after `off` initialised ones.
        unsafe { data.buf.set_init(off + stored) };
        Received { stored, full, addr: data.take_addr(), fds: data.take_fds() }
    });
    (res, data.buf)
}
