//! What a parked task waits on: the description every blocking primitive leaves with its park.
//!
//! A data type only. Each [`Park`](crate::cancel::Park) carries a [`WaitKind`] chosen where the
//! primitive is written (a lock says "lock", a sleep gives its deadline), and each ring op an
//! [`OpInfo`] built from its data when it is submitted (opcode, fd, bytes asked, peer address
//! where the op knows it). Both are small (a peer address, which only `connect` knows, is boxed so
//! that every other leaf stays small), so recording them costs a copy per park and no allocation
//! except for a connect; the task-tree dump reads them back from the cancel-status tree's leaves.

use std::fmt;
use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::time::Instant;

/// A ring operation as the task-tree dump and instruments see it.
///
/// # Examples
/// ```
/// use quartet_runtime::introspect::OpInfo;
/// let op = OpInfo::new("Recv").with_fd(7).with_bytes(4096);
/// assert_eq!(op.to_string(), "Recv(fd 7, 4096 bytes)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpInfo {
    opcode: &'static str,
    /// The file descriptor, or -1 (not an `Option`: with `poll_first` beside it, the record
    /// stays 40 bytes, and a parked leaf, which holds one, stays 104).
    fd: RawFd,
    len: Option<u32>,
    /// Boxed: only a connect knows it, and an inline address would triple every parked leaf.
    peer: Option<Box<SocketAddr>>,
    /// A receive that asked the kernel to wait for data before trying (`IORING_RECVSEND_POLL_FIRST`).
    poll_first: bool,
}

impl OpInfo {
    /// An operation named `opcode` (the io_uring opcode's name, e.g. `"Recv"`).
    ///
    /// ```
    /// assert_eq!(quartet_runtime::introspect::OpInfo::new("Nop").opcode(), "Nop");
    /// ```
    pub const fn new(opcode: &'static str) -> OpInfo {
        OpInfo { opcode, fd: -1, len: None, peer: None, poll_first: false }
    }

    /// The same, on file descriptor `fd`.
    ///
    /// ```
    /// assert_eq!(quartet_runtime::introspect::OpInfo::new("Recv").with_fd(3).fd(), Some(3));
    /// ```
    pub const fn with_fd(mut self, fd: RawFd) -> OpInfo {
        self.fd = fd;
        self
    }

    /// The same, asking for `len` bytes.
    ///
    /// ```
    /// assert_eq!(quartet_runtime::introspect::OpInfo::new("Recv").with_bytes(10).bytes(), Some(10));
    /// ```
    pub const fn with_bytes(mut self, len: u32) -> OpInfo {
        self.len = Some(len);
        self
    }

    /// The same, with the peer's address.
    ///
    /// ```
    /// let peer: std::net::SocketAddr = "127.0.0.1:80".parse().unwrap();
    /// assert_eq!(quartet_runtime::introspect::OpInfo::new("Connect").with_peer(peer).peer(), Some(peer));
    /// ```
    pub fn with_peer(mut self, peer: SocketAddr) -> OpInfo {
        self.peer = Some(Box::new(peer));
        self
    }

    /// The same, marked as a receive that asks the kernel to wait for data before trying
    /// (`IORING_RECVSEND_POLL_FIRST`, which quartet sets on a stream receive that most likely
    /// finds the socket empty; see ARCHITECTURE.md, "Stream receives").
    ///
    /// ```
    /// assert!(quartet_runtime::introspect::OpInfo::new("Recv").with_poll_first(true).poll_first());
    /// ```
    pub const fn with_poll_first(mut self, on: bool) -> OpInfo {
        self.poll_first = on;
        self
    }

    /// Whether the op asked the kernel to wait for data before trying (a receive only).
    ///
    /// ```
    /// assert!(!quartet_runtime::introspect::OpInfo::new("Recv").poll_first());
    /// ```
    pub const fn poll_first(&self) -> bool {
        self.poll_first
    }

    /// The opcode's name.
    ///
    /// ```
    /// assert_eq!(quartet_runtime::introspect::OpInfo::new("Accept").opcode(), "Accept");
    /// ```
    pub const fn opcode(&self) -> &'static str {
        self.opcode
    }

    /// The file descriptor, if the op has one.
    ///
    /// ```
    /// assert_eq!(quartet_runtime::introspect::OpInfo::new("Nop").fd(), None);
    /// ```
    pub const fn fd(&self) -> Option<RawFd> {
        if self.fd >= 0 { Some(self.fd) } else { None }
    }

    /// The bytes asked for (read/recv: buffer space; write/send: bytes offered).
    ///
    /// ```
    /// assert_eq!(quartet_runtime::introspect::OpInfo::new("Send").with_bytes(5).bytes(), Some(5));
    /// ```
    pub const fn bytes(&self) -> Option<u32> {
        self.len
    }

    /// The peer's address, where the op knows it (connect) or the dump looked it up (`getpeername`).
    ///
    /// ```
    /// assert_eq!(quartet_runtime::introspect::OpInfo::new("Recv").peer(), None);
    /// ```
    pub fn peer(&self) -> Option<SocketAddr> {
        self.peer.as_deref().copied()
    }
}

impl fmt::Display for OpInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.opcode)?;
        let mut sep = "(";
        if let Some(fd) = self.fd() {
            write!(f, "{sep}fd {fd}")?;
            sep = ", ";
        }
        if let Some(len) = self.len {
            write!(f, "{sep}{len} bytes")?;
            sep = ", ";
        }
        if let Some(p) = &self.peer {
            write!(f, "{sep}peer {p}")?;
            sep = ", ";
        }
        if sep == ", " { f.write_str(")") } else { Ok(()) }
    }
}

/// What a parked wait is waiting for.
///
/// # Examples
/// ```
/// use quartet_runtime::introspect::{OpInfo, WaitKind};
/// assert_eq!(WaitKind::Lock.to_string(), "lock");
/// assert_eq!(WaitKind::Op(OpInfo::new("Recv").with_fd(4)).to_string(), "ring op Recv(fd 4)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WaitKind {
    /// A ring operation in flight.
    Op(OpInfo),
    /// A sleep or timer, until `deadline`.
    Timer {
        /// When it fires.
        deadline: Instant,
    },
    /// A channel send or receive.
    Channel,
    /// A `Lock`.
    Lock,
    /// A `Semaphore` (or another counted resource).
    Semaphore,
    /// An `Event`.
    Event,
    /// A `Condition`.
    Condition,
    /// A `CapacityLimiter` token.
    CapacityLimiter,
    /// A job on a worker thread (`to_thread`).
    ThreadJob,
    /// Another task's result (`JoinHandle`).
    Join,
    /// A `start`ed task to call `started`.
    Start,
    /// A graceful shutdown request.
    ShutdownRequest,
    /// Something else (a primitive that did not say).
    Other,
}

impl fmt::Display for WaitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaitKind::Op(op) => write!(f, "ring op {op}"),
            WaitKind::Timer { deadline } => {
                let now = Instant::now();
                if *deadline > now {
                    write!(f, "timer (fires in {:.3?})", *deadline - now)
                } else {
                    write!(f, "timer (due {:.3?} ago)", now - *deadline)
                }
            }
            WaitKind::Channel => f.write_str("channel"),
            WaitKind::Lock => f.write_str("lock"),
            WaitKind::Semaphore => f.write_str("semaphore"),
            WaitKind::Event => f.write_str("event"),
            WaitKind::Condition => f.write_str("condition"),
            WaitKind::CapacityLimiter => f.write_str("capacity limiter"),
            WaitKind::ThreadJob => f.write_str("thread job"),
            WaitKind::Join => f.write_str("join (another task's result)"),
            WaitKind::Start => f.write_str("start (the task to call started)"),
            WaitKind::ShutdownRequest => f.write_str("shutdown request"),
            WaitKind::Other => f.write_str("unspecified wait"),
        }
    }
}
