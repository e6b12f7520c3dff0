//! TCP listener and stream.

use super::addr::{self, RawAddr, cvt, set_opt};
use super::{ops, stream};
use crate::buf::{IoBuf, IoBufMut};
use crate::error::OpError;
use crate::fd::SharedFd;
use crate::op::Op;
use futures_core::Stream;
use std::future::Future;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll};

/// Options for [`TcpListener::bind_with`].
///
/// # Examples
/// ```
/// use quartet_runtime::net::{ListenOptions, TcpListener};
/// # quartet_runtime::run(async {
/// // Several listeners on one port (one per thread or process), each with a small backlog.
/// let opts = ListenOptions::default().reuse_port(true).backlog(128);
/// let a = TcpListener::bind_with("127.0.0.1:0".parse().unwrap(), opts)?;
/// let b = TcpListener::bind_with(a.local_addr()?, opts)?;
/// assert_eq!(a.local_addr()?, b.local_addr()?);
/// # Ok::<(), std::io::Error>(()) }).unwrap().unwrap();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListenOptions {
    /// `SO_REUSEADDR` (default true): rebind while old connections sit in TIME_WAIT.
    pub reuse_addr: bool,
    /// `SO_REUSEPORT` (default false): several listeners share the port.
    pub reuse_port: bool,
    /// The `listen(2)` backlog (default 1024).
    pub backlog: i32,
    /// `IPV6_V6ONLY` for an IPv6 address (default `None`: the system's `net.ipv6.bindv6only`).
    /// `Some(false)` makes `[::]` accept IPv4 clients too (as `::ffff:a.b.c.d`).
    pub v6_only: Option<bool>,
}

impl Default for ListenOptions {
    fn default() -> Self {
        ListenOptions { reuse_addr: true, reuse_port: false, backlog: 1024, v6_only: None }
    }
}

impl ListenOptions {
    /// Sets `SO_REUSEPORT`.
    ///
    /// ```
    /// let opts = quartet_runtime::net::ListenOptions::default().reuse_port(true);
    /// assert!(opts.reuse_port);
    /// ```
    pub fn reuse_port(mut self, on: bool) -> Self {
        self.reuse_port = on;
        self
    }
    /// Sets `SO_REUSEADDR`.
    ///
    /// ```
    /// let opts = quartet_runtime::net::ListenOptions::default().reuse_addr(false);
    /// assert!(!opts.reuse_addr);
    /// ```
    pub fn reuse_addr(mut self, on: bool) -> Self {
        self.reuse_addr = on;
        self
    }
    /// Sets the backlog.
    ///
    /// ```
    /// let opts = quartet_runtime::net::ListenOptions::default().backlog(64);
    /// assert_eq!(opts.backlog, 64);
    /// ```
    pub fn backlog(mut self, n: i32) -> Self {
        self.backlog = n;
        self
    }
    /// Sets `IPV6_V6ONLY` (ignored for IPv4 addresses).
    pub fn v6_only(mut self, on: bool) -> Self {
        self.v6_only = Some(on);
        self
    }
}

/// A TCP listening socket.
///
/// # Examples
/// ```no_run
/// use quartet_runtime::net::TcpListener;
/// # quartet_runtime::run(async {
/// let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
/// let (stream, peer) = listener.accept().await?;
/// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
/// ```
#[derive(Debug)]
pub struct TcpListener {
    fd: SharedFd,
}

impl TcpListener {
    /// Binds with [`ListenOptions::default`] (SO_REUSEADDR on).
    ///
    /// # Errors
    /// The `socket`, `bind` or `listen` error (e.g. `AddrInUse`).
    ///
    /// ```
    /// use quartet_runtime::net::TcpListener;
    /// let l = TcpListener::bind("127.0.0.1:0".parse().unwrap())?; // port 0: the kernel picks one
    /// assert_ne!(l.local_addr()?.port(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
        Self::bind_with(addr, ListenOptions::default())
    }

    /// Binds and listens with the given options.
    ///
    /// # Errors
    /// As for [`bind`](Self::bind).
    ///
    /// ```
    /// use quartet_runtime::net::{ListenOptions, TcpListener};
    /// let l = TcpListener::bind_with("127.0.0.1:0".parse().unwrap(), ListenOptions::default().backlog(16))?;
    /// # let _ = l;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind_with(addr: SocketAddr, opts: ListenOptions) -> io::Result<TcpListener> {
        let fd = SharedFd::new(addr::tcp_socket(&addr)?);
        if opts.reuse_addr {
            set_opt(fd.raw(), libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
        }
        if opts.reuse_port {
            set_opt(fd.raw(), libc::SOL_SOCKET, libc::SO_REUSEPORT, 1)?;
        }
        if let (Some(only), true) = (opts.v6_only, addr.is_ipv6()) {
            set_opt(fd.raw(), libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, i32::from(only))?;
        }
        let raw = RawAddr::from_std(&addr);
        // SAFETY: the address storage is live and `len` is its valid length.
        cvt(unsafe { libc::bind(fd.raw(), (&raw.storage as *const libc::sockaddr_storage).cast(), raw.len) })?;
        // SAFETY: plain syscall without pointers.
        cvt(unsafe { libc::listen(fd.raw(), opts.backlog) })?;
        Ok(TcpListener { fd })
    }

    /// The bound address (with the real port if bound to port 0).
    ///
    /// ```
    /// let l = quartet_runtime::net::TcpListener::bind("[::1]:0".parse().unwrap())?;
    /// assert!(l.local_addr()?.is_ipv6());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        addr::local_addr(self.fd.raw())
    }

    /// Accepts a connection.
    ///
    /// # Cancellation
    /// A checkpoint. If it returns `Cancelled`, no connection was taken from the queue. A
    /// connection the kernel accepted as the cancel raced it is returned, not lost; if the future
    /// is dropped instead, such a connection is closed by the driver.
    ///
    /// # Examples
    /// ```
    /// use quartet_runtime::net::{TcpListener, TcpStream};
    /// # quartet_runtime::run(async {
    /// let l = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
    /// let client = TcpStream::connect(l.local_addr()?).await?;
    /// let (server_side, peer) = l.accept().await?;
    /// assert_eq!(peer, client.local_addr()?);
    /// assert_eq!(server_side.peer_addr()?, peer);
    /// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
    /// ```
    pub async fn accept(&self) -> Result<(TcpStream, SocketAddr), OpError> {
        let (res, data) = Op::new(ops::Accept::new(self.fd.clone())).await;
        accepted(res, &data)
    }

    /// The connections as a [`Stream`](futures_core::Stream) of `accept` results: it never ends
    /// (a listener always has a next connection). Errors are items, so a caller can skip an
    /// `ECONNABORTED` and keep going.
    ///
    /// # Cancellation
    /// Each item is an `accept`, with its guarantees: an `Err(Cancelled)` item took no
    /// connection; dropping the stream while an accept is in flight closes a connection the
    /// kernel accepted meanwhile (nobody could receive it).
    ///
    /// # Examples
    /// ```no_run
    /// use quartet_runtime::net::TcpListener;
    /// use std::future::poll_fn;
    /// use std::pin::pin;
    /// use futures_core::Stream;
    /// # quartet_runtime::run(async {
    /// let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
    /// let mut incoming = pin!(listener.incoming());
    /// while let Some(conn) = poll_fn(|cx| incoming.as_mut().poll_next(cx)).await {
    ///     let (stream, peer) = conn?;
    ///     println!("connection from {peer}");
    /// }
    /// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
    /// ```
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self, op: None }
    }

    /// Adopts a std listener (switched to blocking mode, which ring ops expect).
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        Self::from_fd(listener.into())
    }

    /// Adopts a listening socket fd made elsewhere, e.g. one passed by systemd socket activation
    /// (`LISTEN_FDS`, starting at fd 3: `OwnedFd::from_raw_fd(3)`).
    ///
    /// # Errors
    /// `InvalidInput` if `fd` is not a stream socket.
    pub fn from_fd(fd: OwnedFd) -> io::Result<TcpListener> {
        Ok(TcpListener { fd: addr::adopt(fd, libc::SOCK_STREAM)? })
    }

    /// Gives the listening socket up as an `OwnedFd`, to hand it to another thread or core
    /// (adopt it there with [`from_fd`](Self::from_fd)). Gives the listener back if an `accept`
    /// still holds the socket.
    ///
    /// ```
    /// let l = quartet_runtime::net::TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
    /// let addr = l.local_addr()?;
    /// let fd = l.into_fd().expect("no accept in flight");
    /// assert_eq!(std::net::TcpListener::from(fd).local_addr()?, addr);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_fd(self) -> Result<OwnedFd, TcpListener> {
        self.fd.into_owned().map_err(|fd| TcpListener { fd })
    }

    /// Closes the listener, unblocking a pending `accept`. Not a cancellation point.
    ///
    /// ```
    /// # quartet_runtime::run(async {
    /// let l = quartet_runtime::net::TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
    /// l.close().await?; // the port is free again
    /// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
    /// ```
    pub async fn close(self) -> Result<(), OpError> {
        self.fd.close().await
    }
}

fn accepted(res: Result<u32, OpError>, data: &ops::Accept) -> Result<(TcpStream, SocketAddr), OpError> {
    let stream = TcpStream { fd: SharedFd::new(res? as RawFd) };
    let peer = data.addr.to_std().or_else(|_| stream.peer_addr())?;
    Ok((stream, peer))
}

/// The stream of connections of [`TcpListener::incoming`] (see there for an example).
///
/// # Examples
/// ```
/// use quartet_runtime::net::{Incoming, TcpListener};
/// let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
/// let incoming: Incoming<'_> = listener.incoming(); // a Stream of accepted connections
/// # drop(incoming);
/// # Ok::<(), std::io::Error>(())
/// ```
#[must_use = "streams do nothing unless polled"]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
    op: Option<Op<ops::Accept>>,
}

impl std::fmt::Debug for Incoming<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Incoming").field("listener", self.listener).field("accepting", &self.op.is_some()).finish()
    }
}

impl Stream for Incoming<'_> {
    type Item = Result<(TcpStream, SocketAddr), OpError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let fd = &this.listener.fd;
        let op = this.op.get_or_insert_with(|| Op::new(ops::Accept::new(fd.clone())));
        match Pin::new(op).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready((res, data)) => {
                this.op = None;
                Poll::Ready(Some(accepted(res, &data)))
            }
        }
    }
}

impl AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.raw()
    }
}

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
/// A TCP connection. Methods take `&self`, so one task can send while another receives.
#[derive(Debug)]
pub struct TcpStream {
    fd: SharedFd,
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
    pub async fn connect(addr: SocketAddr) -> Result<TcpStream, OpError> {
        let fd = SharedFd::new(addr::tcp_socket(&addr)?);
        let (res, data) = Op::new(ops::Connect::new(fd, RawAddr::from_std(&addr))).await;
        res?;
        Ok(TcpStream { fd: data.fd.clone() })
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
    pub async fn recv<B: IoBufMut>(&self, buf: B) -> (Result<usize, OpError>, B) {
        stream::recv(&self.fd, buf).await
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
    pub async fn send<B: IoBuf>(&self, buf: B) -> (Result<usize, OpError>, B) {
        stream::send(&self.fd, buf).await
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
    pub async fn send_all<B: IoBuf>(&self, buf: B) -> (Result<(), OpError>, B) {
        stream::send_all(&self.fd, buf).await
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
    pub async fn shutdown(&self, how: Shutdown) -> Result<(), OpError> {
        stream::shutdown(&self.fd, how).await
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
    pub async fn close(self) -> Result<(), OpError> {
        self.fd.close().await
    }
}

impl AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.raw()
    }
}

super::unix::fd_traits_fd!(TcpListener, TcpStream);
