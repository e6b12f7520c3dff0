//! TCP listener: binding with options, `accept` and the `Incoming` stream of connections.
//!
//! Kept apart from `tcp.rs` (the stream) so each file reads on its own; an accepted connection
//! becomes a [`TcpStream`] in `accepted`.

use super::addr::{self, RawAddr, cvt, set_opt};
use super::ops;
use super::tcp::TcpStream;
use crate::error::OpError;
use crate::fd::SharedFd;
use crate::op::Op;
use futures_core::Stream;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
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
    pub fn accept(&self) -> impl std::future::Future<Output = Result<(TcpStream, SocketAddr), OpError>> {
        crate::fused::once(async move {
            let (res, data) = Op::new(ops::Accept::new(self.fd.clone())).await;
            accepted(res, &data)
        })
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
    pub fn close(self) -> impl std::future::Future<Output = Result<(), OpError>> {
        crate::fused::once(async move { self.fd.close().await })
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

super::unix::fd_traits_fd!(TcpListener);
