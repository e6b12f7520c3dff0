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
    pub fn reuse_port(mut self, on: bool) -> Self {
        self.reuse_port = on;
        self
    }
    /// Sets `SO_REUSEADDR`.
    pub fn reuse_addr(mut self, on: bool) -> Self {
        self.reuse_addr = on;
        self
    }
    /// Sets the backlog.
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
    pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
        Self::bind_with(addr, ListenOptions::default())
    }

    /// Binds and listens with the given options.
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
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        addr::local_addr(self.fd.raw())
    }

    /// Accepts a connection.
    ///
    /// # Cancellation
    /// A checkpoint. If it returns `Cancelled`, no connection was taken from the queue. A
    /// connection the kernel accepted as the cancel raced it is returned, not lost; if the future
    /// is dropped instead, such a connection is closed by the driver.
    pub async fn accept(&self) -> Result<(TcpStream, SocketAddr), OpError> {
        let (res, data) = Op::new(ops::Accept { fd: self.fd.clone(), addr: RawAddr::empty() }).await;
        let fd = res?;
        let stream = TcpStream { fd: SharedFd::new(fd as RawFd) };
        let peer = data.addr.to_std().or_else(|_| stream.peer_addr())?;
        Ok((stream, peer))
    }

    /// Closes the listener, unblocking a pending `accept`. Not a cancellation point.
    pub async fn close(self) -> Result<(), OpError> {
        self.fd.close().await
    }
}

impl AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.raw()
    }
}

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
    pub async fn connect(addr: SocketAddr) -> Result<TcpStream, OpError> {
        let fd = SharedFd::new(addr::tcp_socket(&addr)?);
        let (res, data) = Op::new(ops::Connect { fd, addr: RawAddr::from_std(&addr) }).await;
        res?;
        Ok(TcpStream { fd: data.fd.clone() })
    }

    /// Receives into `buf`: a `Vec` appends into its spare capacity, a fixed-size buffer is filled
    /// from the start. `Ok(0)` is end of stream; a buffer with no room is an `InvalidInput` error.
    /// One call fills at most 2 GiB - 4 KiB (Linux's `MAX_RW_COUNT`), however large the buffer.
    ///
    /// # Cancellation
    /// A checkpoint. If it returns `Cancelled`, no byte was consumed from the socket; data that
    /// arrived as the cancel raced it is returned as a normal result.
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

    /// Sends (part of) `buf`: at most 2 GiB - 4 KiB (Linux's `MAX_RW_COUNT`) per call.
    ///
    /// # Cancellation
    /// A checkpoint. If it returns `Cancelled`, no byte was sent.
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
    pub async fn shutdown(&self, how: Shutdown) -> Result<(), OpError> {
        let how = match how {
            Shutdown::Read => libc::SHUT_RD,
            Shutdown::Write => libc::SHUT_WR,
            Shutdown::Both => libc::SHUT_RDWR,
        };
        Op::new(ops::Shutdown { fd: self.fd.clone(), how }).await.0.map(drop)
    }

    /// Sets `TCP_NODELAY`.
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        set_opt(self.fd.raw(), libc::IPPROTO_TCP, libc::TCP_NODELAY, i32::from(on))
    }

    /// Reads `TCP_NODELAY`.
    pub fn nodelay(&self) -> io::Result<bool> {
        addr::get_opt(self.fd.raw(), libc::IPPROTO_TCP, libc::TCP_NODELAY).map(|v| v != 0)
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        addr::local_addr(self.fd.raw())
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        addr::peer_addr(self.fd.raw())
    }

    /// Closes the stream: pending ops on it are cancelled and waited for, then the fd is closed
    /// through the ring. Not a cancellation point.
    pub async fn close(self) -> Result<(), OpError> {
        self.fd.close().await
    }
}

impl AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.raw()
    }
}
