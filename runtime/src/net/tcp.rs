//! TCP listener and stream.

use super::addr::{self, RawAddr, cvt, set_opt};
use super::ops;
use crate::buf::{IoBuf, IoBufMut, read_region};
use crate::error::OpError;
use crate::fd::SharedFd;
use crate::op::Op;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsRawFd, RawFd};

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
}

impl Default for ListenOptions {
    fn default() -> Self {
        ListenOptions { reuse_addr: true, reuse_port: false, backlog: 1024 }
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
        let (res, data) = Op::new(ops::Accept { fd: self.fd.clone(), addr: RawAddr::empty() }).await;
        let fd = res?;
        let stream = TcpStream { fd: SharedFd::new(fd as RawFd) };
        let peer = data.addr.to_std().or_else(|_| stream.peer_addr())?;
        Ok((stream, peer))
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
        let (res, data) = Op::new(ops::Connect { fd, addr: RawAddr::from_std(&addr) }).await;
        res?;
        Ok(TcpStream { fd: data.fd.clone() })
    }

    /// Receives into `buf`: a `Vec` appends into its spare capacity, a fixed-size buffer is filled
    /// from the start. `Ok(0)` is end of stream; a buffer with no room is an `InvalidInput` error.
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
    /// let (n, buf) = server.recv([0u8; 8]).await; // a fixed buffer is filled from the start
    /// assert_eq!(&buf[..n?], b"hi");
    /// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
    /// ```
    pub async fn recv<B: IoBufMut>(&self, buf: B) -> (Result<usize, OpError>, B) {
        let (off, len) = match read_region(&buf) {
            Ok(r) => r,
            Err(e) => return (Err(e.into()), buf),
        };
        let (res, data) = Op::new(ops::Recv { fd: self.fd.clone(), buf, off, len }).await;
        let mut data = *data;
        let res = res.map(|n| {
            // SAFETY: the kernel wrote `n <= len` bytes at `off`, after `off` initialised ones.
            unsafe { data.buf.set_init(off + n as usize) };
            n as usize
        });
        (res, data.buf)
    }

    /// Sends (part of) `buf`.
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
        let (res, data) = Op::new(ops::Send { fd: self.fd.clone(), buf, offset: 0 }).await;
        (res.map(|n| n as usize), data.buf)
    }

    /// Sends all of `buf`.
    ///
    /// # Cancellation
    /// `Cancelled` means nothing was sent. If a cancel arrives after part of the buffer went out,
    /// the error is an `io::ErrorKind::Interrupted` naming how much was sent (the stream's framing
    /// is then unknown), never a silent `Cancelled`.
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
        let total = buf.bytes_init();
        let mut data = Box::new(ops::Send { fd: self.fd.clone(), buf, offset: 0 });
        while data.offset < total {
            let (res, d) = Op::new(*data).await;
            data = d;
            match res {
                Ok(0) => return (Err(io::Error::from(io::ErrorKind::WriteZero).into()), data.buf),
                Ok(n) => data.offset += n as usize,
                Err(OpError::Cancelled(c)) if data.offset > 0 => {
                    let msg = format!("send_all interrupted after {} of {total} bytes: {c}", data.offset);
                    return (Err(io::Error::new(io::ErrorKind::Interrupted, msg).into()), data.buf);
                }
                Err(e) => return (Err(e), data.buf),
            }
        }
        (Ok(()), data.buf)
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
        let how = match how {
            Shutdown::Read => libc::SHUT_RD,
            Shutdown::Write => libc::SHUT_WR,
            Shutdown::Both => libc::SHUT_RDWR,
        };
        Op::new(ops::Shutdown { fd: self.fd.clone(), how }).await.0.map(drop)
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
