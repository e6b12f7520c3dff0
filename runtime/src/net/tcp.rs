//! TCP stream: connect, send and receive on owned buffers, shutdown and socket options.

use super::addr::{self, RawAddr, set_opt};
use super::{ops, stream};
use crate::buf::{IoBuf, IoBufMut};
use crate::error::OpError;
use crate::fd::SharedFd;
use crate::op::Op;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

/// A TCP connection. Methods take `&self`, so one task can send while another receives.
///
/// # Examples
/// ```
/// use quartet_runtime::net::{TcpListener, TcpStream};
/// # quartet_runtime::run(async {
/// let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
/// let client = TcpStream::connect(listener.local_addr()?).await?;
/// let (server, _) = listener.accept().await?;
/// let (r, _) = client.send_all(b"ping".to_vec()).await;
/// r?;
/// let (n, buf) = server.recv(Vec::with_capacity(64)).await; // owned buffer, given back
/// assert_eq!(&buf[..n?], b"ping");
/// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
/// ```
#[derive(Debug)]
pub struct TcpStream {
    /// `pub(super)` so that `tcp_listener::accepted` can wrap an accepted fd.
    pub(super) fd: SharedFd,
}

impl TcpStream {
    /// The socket, for `PooledReceiver` (net/pooled.rs).
    pub(crate) fn shared_fd(&self) -> &SharedFd {
        &self.fd
    }

    /// Connects to `addr`.
    ///
    /// # Cancellation
    /// A checkpoint; a cancelled connect leaves no socket behind.
    ///
    /// # Examples
    /// ```
    /// use quartet_runtime::net::{TcpListener, TcpStream};
    /// # quartet_runtime::run(async {
    /// let l = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
    /// let s = TcpStream::connect(l.local_addr()?).await?;
    /// assert_eq!(s.peer_addr()?, l.local_addr()?);
    /// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
    /// ```
    pub fn connect(addr: SocketAddr) -> impl std::future::Future<Output = Result<TcpStream, OpError>> {
        crate::fused::once(async move {
            let fd = SharedFd::new(addr::tcp_socket(&addr)?);
            let (res, data) = Op::new(ops::Connect::new(fd, RawAddr::from_std(&addr))).await;
            res?;
            Ok(TcpStream { fd: data.fd.clone() })
        })
    }

    /// Adopts a connected std stream (switched to blocking mode, which ring ops expect).
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        Self::from_fd(stream.into())
    }

    /// Adopts a connected stream socket fd made elsewhere.
    ///
    /// # Errors
    /// `InvalidInput` if `fd` is not a stream socket.
    pub fn from_fd(fd: OwnedFd) -> io::Result<TcpStream> {
        Ok(TcpStream { fd: addr::adopt(fd, libc::SOCK_STREAM)? })
    }

    /// Gives the socket up as an `OwnedFd`, to move the connection to another thread or core
    /// (adopt it there with [`from_fd`](Self::from_fd)). Gives the stream back if an operation
    /// still holds the socket.
    ///
    /// ```
    /// use quartet_runtime::net::{TcpListener, TcpStream};
    /// # quartet_runtime::run(async {
    /// let l = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
    /// let s = TcpStream::connect(l.local_addr()?).await?;
    /// let fd = s.into_fd().expect("no op in flight");
    /// let on_another_thread = std::thread::spawn(move || std::net::TcpStream::from(fd).peer_addr());
    /// assert_eq!(on_another_thread.join().unwrap()?, l.local_addr()?);
    /// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
    /// ```
    pub fn into_fd(self) -> Result<OwnedFd, TcpStream> {
        self.fd.into_owned().map_err(|fd| TcpStream { fd })
    }

    /// Receives into `buf`: a `Vec` appends into its spare capacity, a fixed-size buffer is filled
    /// from the start. `Ok(0)` is end of stream. A `Vec` with no spare capacity first grows by
    /// [`DEFAULT_READ_CHUNK`](crate::DEFAULT_READ_CHUNK); a full fixed-size buffer is an `InvalidInput` error.
    /// One call fills at most 2 GiB - 4 KiB (Linux's `MAX_RW_COUNT`), however large the buffer.
    ///
    /// # Cancellation
    /// A checkpoint. If it returns `Cancelled`, no byte was consumed from the socket; data that
    /// arrived as the cancel raced it is returned as a normal result.
    ///
    /// ```
    /// # use quartet_runtime::net::{TcpListener, TcpStream};
    /// # quartet_runtime::run(async {
    /// # let l = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
    /// # let client = TcpStream::connect(l.local_addr()?).await?;
    /// # let (server, _) = l.accept().await?;
    /// let (r, _) = client.send_all("hi").await;
    /// r?;
    /// let (n, buf) = server.recv(Box::new([0u8; 8])).await; // a fixed buffer is filled from the start
    /// assert_eq!(&buf[..n?], b"hi");
    /// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
    /// ```
    pub fn recv<B: IoBufMut>(&self, buf: B) -> impl std::future::Future<Output = (Result<usize, OpError>, B)> {
        crate::fused::once_pending(async move { stream::recv(&self.fd, buf).await })
    }

    /// Sends (part of) `buf`: at most 2 GiB - 4 KiB (Linux's `MAX_RW_COUNT`) per call.
    ///
    /// # Cancellation
    /// A checkpoint. If it returns `Cancelled`, no byte was sent.
    ///
    /// ```
    /// # use quartet_runtime::net::{TcpListener, TcpStream};
    /// # quartet_runtime::run(async {
    /// # let l = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
    /// # let client = TcpStream::connect(l.local_addr()?).await?;
    /// # let (server, _) = l.accept().await?;
    /// let (n, _) = client.send(b"abc".to_vec()).await;
    /// assert!(n? <= 3); // may send only part: use send_all to send everything
    /// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
    /// ```
    pub fn send<B: IoBuf>(&self, buf: B) -> impl std::future::Future<Output = (Result<usize, OpError>, B)> {
        crate::fused::once_pending(async move { stream::send(&self.fd, buf).await })
    }

    /// Sends all of `buf`.
    ///
    /// # Cancellation
    /// `Cancelled` means nothing was sent. If a cancel arrives after part of the buffer went out,
    /// the error is a [`PartialWrite`](crate::PartialWrite) naming how much was sent (the stream's
    /// framing is then unknown), never a silent `Cancelled`.
    ///
    /// ```
    /// # use quartet_runtime::net::{TcpListener, TcpStream};
    /// # quartet_runtime::run(async {
    /// # let l = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
    /// # let client = TcpStream::connect(l.local_addr()?).await?;
    /// # let (server, _) = l.accept().await?;
    /// let (r, buf) = client.send_all(vec![7u8; 100_000]).await;
    /// # let _ = server;
    /// r?;
    /// assert_eq!(buf.len(), 100_000); // the buffer comes back for reuse
    /// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
    /// ```
    pub fn send_all<B: IoBuf>(&self, buf: B) -> impl std::future::Future<Output = (Result<(), OpError>, B)> {
        crate::fused::once_pending(async move { stream::send_all(&self.fd, buf).await })
    }

    /// Shuts down the read half, write half, or both.
    ///
    /// ```
    /// # use quartet_runtime::net::{TcpListener, TcpStream};
    /// # quartet_runtime::run(async {
    /// # let l = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
    /// # let client = TcpStream::connect(l.local_addr()?).await?;
    /// # let (server, _) = l.accept().await?;
    /// client.shutdown(std::net::Shutdown::Write).await?; // no more data from the client
    /// let (n, _) = server.recv(Vec::with_capacity(16)).await;
    /// assert_eq!(n?, 0); // the server sees end of stream
    /// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> impl std::future::Future<Output = Result<(), OpError>> {
        crate::fused::once(async move { stream::shutdown(&self.fd, how).await })
    }

    /// Sets `TCP_NODELAY`.
    ///
    /// ```
    /// # use quartet_runtime::net::{TcpListener, TcpStream};
    /// # quartet_runtime::run(async {
    /// # let l = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
    /// # let client = TcpStream::connect(l.local_addr()?).await?;
    /// # let (server, _) = l.accept().await?;
    /// client.set_nodelay(true)?;
    /// assert!(client.nodelay()?);
    /// # let _ = server;
    /// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
    /// ```
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        set_opt(self.fd.raw(), libc::IPPROTO_TCP, libc::TCP_NODELAY, i32::from(on))
    }

    /// Reads `TCP_NODELAY`.
    ///
    /// ```
    /// # use quartet_runtime::net::{TcpListener, TcpStream};
    /// # quartet_runtime::run(async {
    /// # let l = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
    /// # let client = TcpStream::connect(l.local_addr()?).await?;
    /// # let (server, _) = l.accept().await?;
    /// assert!(!server.nodelay()?); // Nagle's algorithm is on by default
    /// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
    /// ```
    pub fn nodelay(&self) -> io::Result<bool> {
        addr::get_opt(self.fd.raw(), libc::IPPROTO_TCP, libc::TCP_NODELAY).map(|v| v != 0)
    }

    /// The local address.
    ///
    /// ```
    /// # use quartet_runtime::net::{TcpListener, TcpStream};
    /// # quartet_runtime::run(async {
    /// # let l = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
    /// # let client = TcpStream::connect(l.local_addr()?).await?;
    /// # let (server, _) = l.accept().await?;
    /// assert_eq!(client.local_addr()?, server.peer_addr()?);
    /// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        addr::local_addr(self.fd.raw())
    }

    /// The peer's address.
    ///
    /// ```
    /// # use quartet_runtime::net::{TcpListener, TcpStream};
    /// # quartet_runtime::run(async {
    /// # let l = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
    /// # let client = TcpStream::connect(l.local_addr()?).await?;
    /// # let (server, _) = l.accept().await?;
    /// assert_eq!(client.peer_addr()?, l.local_addr()?);
    /// # let _ = server;
    /// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        addr::peer_addr(self.fd.raw())
    }

    /// Closes the stream: pending ops on it are cancelled and waited for, then the fd is closed
    /// through the ring. Not a cancellation point.
    ///
    /// ```
    /// # use quartet_runtime::net::{TcpListener, TcpStream};
    /// # quartet_runtime::run(async {
    /// # let l = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
    /// # let client = TcpStream::connect(l.local_addr()?).await?;
    /// # let (server, _) = l.accept().await?;
    /// client.close().await?;
    /// let (n, _) = server.recv(Vec::with_capacity(16)).await;
    /// assert_eq!(n?, 0);
    /// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
    /// ```
    pub fn close(self) -> impl std::future::Future<Output = Result<(), OpError>> {
        crate::fused::once(async move { self.fd.close().await })
    }
}

impl AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.raw()
    }
}

super::unix::fd_traits_fd!(TcpStream);
