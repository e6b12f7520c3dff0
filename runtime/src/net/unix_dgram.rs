//! Unix domain datagram sockets, with fd passing (`SCM_RIGHTS`).

use super::addr::{self, cvt};
use super::msg::{self, RecvMeta, dup_fds};
use super::stream;
use super::unix::fd_traits;
use super::unix_addr::{self, UnixSocketAddr};
use crate::buf::{IoBuf, IoBufMut};
use crate::error::OpError;
use crate::fd::SharedFd;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::Path;

/// A Unix domain datagram socket. Messages keep their boundaries and, unlike UDP, are reliable
/// and ordered.
///
/// # Examples
/// ```no_run
/// use quartet_runtime::net::UnixDatagram;
/// # quartet_runtime::run(async {
/// let (a, b) = UnixDatagram::pair()?;
/// a.send(b"one".to_vec()).await.0?;
/// let (n, buf) = b.recv(Vec::with_capacity(16)).await;
/// assert_eq!(&buf[..n?], b"one");
/// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
/// ```
#[derive(Debug)]
pub struct UnixDatagram {
    fd: SharedFd,
}

impl UnixDatagram {
    /// Binds to a filesystem path.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixDatagram> {
        Self::bind_addr(&UnixSocketAddr::from_pathname(path)?)
    }

    /// Binds to any Unix address (for example an abstract name).
    pub fn bind_addr(addr: &UnixSocketAddr) -> io::Result<UnixDatagram> {
        let s = Self::unbound()?;
        addr::bind_raw(s.fd.raw(), &addr.to_raw())?;
        Ok(s)
    }

    /// A socket bound to no address: it can send, and receive replies only when connected.
    pub fn unbound() -> io::Result<UnixDatagram> {
        Ok(UnixDatagram { fd: SharedFd::new(addr::socket(libc::AF_UNIX, libc::SOCK_DGRAM)?) })
    }

    /// A connected pair (`socketpair(2)`).
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = unix_addr::pair(libc::SOCK_DGRAM)?;
        Ok((UnixDatagram { fd: SharedFd::new(a) }, UnixDatagram { fd: SharedFd::new(b) }))
    }

    /// Adopts a std socket (switched to blocking mode, which ring ops expect).
    pub fn from_std(socket: std::os::unix::net::UnixDatagram) -> io::Result<UnixDatagram> {
        Self::from_fd(socket.into())
    }

    /// Adopts a datagram socket fd made elsewhere.
    ///
    /// # Errors
    /// `InvalidInput` if `fd` is not a datagram socket.
    pub fn from_fd(fd: OwnedFd) -> io::Result<UnixDatagram> {
        Ok(UnixDatagram { fd: addr::adopt(fd, libc::SOCK_DGRAM)? })
    }

    /// Sets the default peer for `send`/`recv`. Never blocks, so it is not async.
    pub fn connect_addr(&self, addr: &UnixSocketAddr) -> io::Result<()> {
        let raw = addr.to_raw();
        // SAFETY: the address storage is live and `len` is its valid length.
        cvt(unsafe { libc::connect(self.fd.raw(), (&raw.storage as *const libc::sockaddr_storage).cast(), raw.len) })
            .map(drop)
    }

    /// Sends `buf` as one datagram to `addr`.
    ///
    /// # Cancellation
    /// A checkpoint. If it returns `Cancelled`, the datagram was not sent.
    pub fn send_to<B: IoBuf>(
        &self,
        buf: B,
        addr: &UnixSocketAddr,
    ) -> impl std::future::Future<Output = (Result<usize, OpError>, B)> {
        crate::fused::once_pending(async move { msg::send_msg(&self.fd, buf, Some(addr.to_raw()), Vec::new()).await })
    }

    /// Receives one datagram and its sender's address; a datagram longer than the room in `buf`
    /// is truncated and reported so ([`RecvMeta::truncated`]).
    ///
    /// # Cancellation
    /// A checkpoint. If it returns `Cancelled`, no datagram was consumed.
    pub fn recv_from<B: IoBufMut>(
        &self,
        buf: B,
    ) -> impl std::future::Future<Output = (Result<RecvMeta<UnixSocketAddr>, OpError>, B)> {
        crate::fused::once_pending(async move {
            let (res, buf) = msg::recv_msg(&self.fd, buf, 0, true).await;
            let res = res.and_then(|r| {
                Ok(RecvMeta { len: r.stored, datagram_len: r.full, addr: UnixSocketAddr::from_raw(&r.addr)? })
            });
            (res, buf)
        })
    }

    /// Sends `buf` as one datagram to the connected peer.
    ///
    /// # Cancellation
    /// A checkpoint. If it returns `Cancelled`, the datagram was not sent.
    pub fn send<B: IoBuf>(&self, buf: B) -> impl std::future::Future<Output = (Result<usize, OpError>, B)> {
        crate::fused::once_pending(async move { stream::send(&self.fd, buf).await })
    }

    /// Receives one datagram; returns the bytes stored (a longer datagram is silently truncated,
    /// as with `recv(2)`; [`recv_from`](Self::recv_from) reports it).
    ///
    /// # Cancellation
    /// A checkpoint. If it returns `Cancelled`, no datagram was consumed.
    pub fn recv<B: IoBufMut>(&self, buf: B) -> impl std::future::Future<Output = (Result<usize, OpError>, B)> {
        crate::fused::once_pending(async move { stream::recv(&self.fd, buf).await })
    }

    /// Sends `buf` to the connected peer with `fds` attached (`SCM_RIGHTS`); the fds are
    /// duplicated for the operation, so the caller may close its copies at any time.
    ///
    /// # Cancellation
    /// A checkpoint. If it returns `Cancelled`, neither the datagram nor the fds were sent.
    pub fn send_with_fds<B: IoBuf>(
        &self,
        buf: B,
        fds: &[BorrowedFd<'_>],
    ) -> impl std::future::Future<Output = (Result<usize, OpError>, B)> {
        crate::fused::once_pending(async move {
            match dup_fds(fds) {
                Ok(owned) => msg::send_msg(&self.fd, buf, None, owned).await,
                Err(e) => (Err(e.into()), buf),
            }
        })
    }

    /// Receives one datagram and up to `max_fds` passed fds as [`OwnedFd`]s.
    ///
    /// # Cancellation
    /// A checkpoint. If it returns `Cancelled`, nothing was consumed. If the future is dropped
    /// after the kernel completed the receive, the fds that arrived are closed (never leaked).
    pub fn recv_with_fds<B: IoBufMut>(
        &self,
        buf: B,
        max_fds: usize,
    ) -> impl std::future::Future<Output = (Result<(usize, Vec<OwnedFd>), OpError>, B)> {
        crate::fused::once_pending(async move {
            let (res, buf) = msg::recv_msg(&self.fd, buf, max_fds.max(1), false).await;
            (res.map(|r| (r.stored, r.fds)), buf)
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<UnixSocketAddr> {
        unix_addr::local(self.fd.raw())
    }

    /// The connected peer's address.
    pub fn peer_addr(&self) -> io::Result<UnixSocketAddr> {
        unix_addr::peer(self.fd.raw())
    }

    /// Closes the socket, unblocking pending operations first. Not a cancellation point.
    pub fn close(self) -> impl std::future::Future<Output = Result<(), OpError>> {
        crate::fused::once(async move { self.fd.close().await })
    }
}

fd_traits!(UnixDatagram);
