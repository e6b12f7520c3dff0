//! Unix domain stream sockets: listener, stream, socket pairs, and fd passing (`SCM_RIGHTS`).

use super::addr::{self, cvt};
use super::msg::{self, dup_fds};
use super::unix_addr::{self, UnixSocketAddr};
use super::{ops, stream};
use crate::buf::{IoBuf, IoBufMut};
use crate::error::OpError;
use crate::fd::SharedFd;
use crate::op::Op;
use std::io;
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::Path;

/// A Unix domain socket listening for stream connections.
///
/// # Examples
/// ```no_run
/// use quartet_runtime::net::{UnixListener, UnixStream};
/// # quartet_runtime::run(async {
/// let listener = UnixListener::bind("/tmp/quartet-example.sock")?;
/// let (stream, _peer) = listener.accept().await?;
/// stream.send_all(b"hello".to_vec()).await.0?;
/// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
/// ```
#[derive(Debug)]
pub struct UnixListener {
    fd: SharedFd,
}

impl UnixListener {
    /// Binds to a filesystem path and listens (backlog 1024). The socket file is not removed on
    /// close: remove a stale one before binding again.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        Self::bind_addr(&UnixSocketAddr::from_pathname(path)?)
    }

    /// Binds to any Unix address (for example an abstract name) and listens.
    pub fn bind_addr(addr: &UnixSocketAddr) -> io::Result<UnixListener> {
        let fd = SharedFd::new(addr::socket(libc::AF_UNIX, libc::SOCK_STREAM)?);
        addr::bind_raw(fd.raw(), &addr.to_raw())?;
        // SAFETY: plain syscall without pointers.
        cvt(unsafe { libc::listen(fd.raw(), 1024) })?;
        Ok(UnixListener { fd })
    }

    /// Adopts a std listener (switched to blocking mode, which ring ops expect).
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        Self::from_fd(listener.into())
    }

    /// Adopts a listening stream socket fd made elsewhere (e.g. systemd socket activation).
    ///
    /// # Errors
    /// `InvalidInput` if `fd` is not a stream socket.
    pub fn from_fd(fd: OwnedFd) -> io::Result<UnixListener> {
        Ok(UnixListener { fd: addr::adopt(fd, libc::SOCK_STREAM)? })
    }

    /// Accepts a connection.
    ///
    /// # Cancellation
    /// A checkpoint. If it returns `Cancelled`, no connection was taken from the queue; one the
    /// kernel accepted as the cancel raced it is returned, and if the future is dropped instead,
    /// the driver closes it.
    pub fn accept(&self) -> impl std::future::Future<Output = Result<(UnixStream, UnixSocketAddr), OpError>> {
        crate::fused::once(async move {
            let (res, data) = Op::new(ops::Accept::new(self.fd.clone())).await;
            let stream = UnixStream { fd: SharedFd::new(res? as RawFd) };
            let peer = UnixSocketAddr::from_raw(&data.addr)?;
            Ok((stream, peer))
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<UnixSocketAddr> {
        unix_addr::local(self.fd.raw())
    }

    /// Closes the listener, unblocking a pending `accept`. Not a cancellation point.
    pub fn close(self) -> impl std::future::Future<Output = Result<(), OpError>> {
        crate::fused::once(async move { self.fd.close().await })
    }
}

/// A Unix domain stream connection. Methods take `&self`, so one task can send while another
/// receives.
///
/// # Examples
/// ```no_run
/// use quartet_runtime::net::UnixStream;
/// # quartet_runtime::run(async {
/// let (a, b) = UnixStream::pair()?;
/// a.send_all(b"ping".to_vec()).await.0?;
/// let (n, buf) = b.recv(Vec::with_capacity(16)).await;
/// assert_eq!(&buf[..n?], b"ping");
/// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
/// ```
#[derive(Debug)]
pub struct UnixStream {
    fd: SharedFd,
}

impl UnixStream {
    /// The socket, for `PooledReceiver` (net/pooled.rs).
    pub(crate) fn shared_fd(&self) -> &SharedFd {
        &self.fd
    }

    /// Connects to the socket at `path`.
    ///
    /// # Cancellation
    /// A checkpoint; a cancelled connect leaves no socket behind.
    pub fn connect(path: impl AsRef<Path>) -> impl std::future::Future<Output = Result<UnixStream, OpError>> {
        crate::fused::once(async move { Self::connect_addr(&UnixSocketAddr::from_pathname(path)?).await })
    }

    /// Connects to any Unix address (for example an abstract name).
    ///
    /// # Cancellation
    /// A checkpoint; a cancelled connect leaves no socket behind.
    pub fn connect_addr(addr: &UnixSocketAddr) -> impl std::future::Future<Output = Result<UnixStream, OpError>> {
        crate::fused::once(async move {
            let fd = SharedFd::new(addr::socket(libc::AF_UNIX, libc::SOCK_STREAM)?);
            let (res, data) = Op::new(ops::Connect::new(fd, addr.to_raw())).await;
            res?;
            Ok(UnixStream { fd: data.fd.clone() })
        })
    }

    /// A connected pair (`socketpair(2)`), e.g. to talk to a child process or another thread.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = unix_addr::pair(libc::SOCK_STREAM)?;
        Ok((UnixStream { fd: SharedFd::new(a) }, UnixStream { fd: SharedFd::new(b) }))
    }

    /// Adopts a std stream (switched to blocking mode, which ring ops expect).
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        Self::from_fd(stream.into())
    }

    /// Adopts a connected stream socket fd made elsewhere.
    ///
    /// # Errors
    /// `InvalidInput` if `fd` is not a stream socket.
    pub fn from_fd(fd: OwnedFd) -> io::Result<UnixStream> {
        Ok(UnixStream { fd: addr::adopt(fd, libc::SOCK_STREAM)? })
    }

    /// Receives into `buf` (a `Vec` appends into its spare capacity, a fixed buffer fills from
    /// the start). `Ok(0)` is end of stream.
    ///
    /// # Cancellation
    /// A checkpoint. If it returns `Cancelled`, no byte was consumed; data that arrived as the
    /// cancel raced it is returned as a normal result.
    pub fn recv<B: IoBufMut>(&self, buf: B) -> impl std::future::Future<Output = (Result<usize, OpError>, B)> {
        crate::fused::once_pending(async move { stream::recv(&self.fd, buf).await })
    }

    /// Sends (part of) `buf`.
    ///
    /// # Cancellation
    /// A checkpoint. If it returns `Cancelled`, no byte was sent.
    pub fn send<B: IoBuf>(&self, buf: B) -> impl std::future::Future<Output = (Result<usize, OpError>, B)> {
        crate::fused::once_pending(async move { stream::send(&self.fd, buf).await })
    }

    /// Sends all of `buf`.
    ///
    /// # Cancellation
    /// `Cancelled` means nothing was sent; a cancel after part of the buffer went out is an
    /// [`PartialWrite`](crate::PartialWrite) naming how much was sent.
    pub fn send_all<B: IoBuf>(&self, buf: B) -> impl std::future::Future<Output = (Result<(), OpError>, B)> {
        crate::fused::once_pending(async move { stream::send_all(&self.fd, buf).await })
    }

    /// Sends (part of) `buf` with `fds` attached (`SCM_RIGHTS`): the peer receives duplicates
    /// of them. The fds are duplicated for the operation, so the caller may close its own copies
    /// at any time. The fds travel with the first byte sent.
    ///
    /// # Errors
    /// `InvalidInput` for more than [`MAX_FDS`](super::MAX_FDS) fds or an empty buffer (a
    /// stream needs at least one byte to carry them).
    ///
    /// # Cancellation
    /// A checkpoint. If it returns `Cancelled`, neither bytes nor fds were sent.
    pub fn send_with_fds<B: IoBuf>(
        &self,
        buf: B,
        fds: &[BorrowedFd<'_>],
    ) -> impl std::future::Future<Output = (Result<usize, OpError>, B)> {
        crate::fused::once_pending(async move {
            if buf.bytes_init() == 0 {
                let e =
                    io::Error::new(io::ErrorKind::InvalidInput, "fds need at least one byte of data to travel with");
                return (Err(e.into()), buf);
            }
            match dup_fds(fds) {
                Ok(owned) => msg::send_msg(&self.fd, buf, None, owned).await,
                Err(e) => (Err(e.into()), buf),
            }
        })
    }

    /// Receives bytes and up to `max_fds` passed fds, which arrive as [`OwnedFd`]s
    /// (close-on-exec). Fds beyond `max_fds` are discarded by the kernel.
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

    /// Shuts down the read half, write half, or both.
    ///
    /// # Cancellation
    /// A checkpoint; `Cancelled` means the socket was not shut down.
    pub fn shutdown(&self, how: Shutdown) -> impl std::future::Future<Output = Result<(), OpError>> {
        crate::fused::once(async move { stream::shutdown(&self.fd, how).await })
    }

    /// The local address (usually unnamed for a connecting socket).
    pub fn local_addr(&self) -> io::Result<UnixSocketAddr> {
        unix_addr::local(self.fd.raw())
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<UnixSocketAddr> {
        unix_addr::peer(self.fd.raw())
    }

    /// Closes the stream: pending ops are cancelled and waited for, then the fd is closed
    /// through the ring. Not a cancellation point.
    pub fn close(self) -> impl std::future::Future<Output = Result<(), OpError>> {
        crate::fused::once(async move { self.fd.close().await })
    }
}

/// `AsFd` for socket types holding a `SharedFd` in `fd`.
macro_rules! fd_traits_fd {
    ($($t:ty),*) => {$(
        impl AsFd for $t {
            fn as_fd(&self) -> BorrowedFd<'_> {
                // SAFETY: the fd stays open while `self`, which holds a reference to it, is
                // borrowed.
                unsafe { BorrowedFd::borrow_raw(self.fd.raw()) }
            }
        }
    )*};
}

/// `AsRawFd` and `AsFd` for socket types holding a `SharedFd` in `fd`.
macro_rules! fd_traits {
    ($($t:ty),*) => {$(
        impl AsRawFd for $t {
            fn as_raw_fd(&self) -> RawFd {
                self.fd.raw()
            }
        }
        super::unix::fd_traits_fd!($t);
    )*};
}
fd_traits!(UnixListener, UnixStream);
pub(crate) use {fd_traits, fd_traits_fd};
