//! Sharded serving: one listening socket per core, all bound to the same address with
//! `SO_REUSEPORT` ([`ReusePortListeners`]).
//!
//! With one listener shared by every core (each core accepting on a dup of the same socket),
//! every core's `accept` waits on one queue; the kernel wakes one waiter per connection, and which
//! one depends on who was parked when it came, so a busy core that re-arms its accept last gets
//! fewer connections and an idle one more (or the reverse: with exclusive wake-ups the most
//! recent waiter tends to win). The load follows wake-up order, not the cores' load.
//! With `SO_REUSEPORT` each core has its *own* accept queue and the kernel spreads incoming
//! connections over the sockets of the group by a hash of the 4-tuple: each core gets about
//! `1/n` of the connections, independent of timing, and a connection stays on the core whose
//! socket received it (no cross-core hand-off on the hot path). The cost is the other side of
//! the same coin: a hash does not look at load, so a core with slow connections keeps getting
//! its share. (`SO_INCOMING_CPU` or a reuseport BPF program can steer by receiving CPU instead.)
//!
//! The listeners are bound on the calling thread, before the cores start, so port 0 picks one
//! port for all of them and a bind error is reported before any core runs.

use quartet_runtime::net::{ListenOptions, TcpListener};
use std::io;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::sync::Mutex;

/// The most listeners [`ReusePortListeners::bind`] opens: one per core of the largest group.
const MAX_LISTENERS: usize = 1024;

/// `n` listening sockets bound to one address with `SO_REUSEPORT`, one per core; each core takes
/// its own with [`take`](Self::take). `Send + Sync`: share it with the cores' body by reference.
///
/// # Examples
/// ```no_run
/// use quartet::net::{ReusePortListeners, Serve, TcpStream};
/// use quartet::{Core, PerCore};
/// let shards = ReusePortListeners::bind("0.0.0.0:8080".parse()?, 2)?;
/// PerCore::new(2).run(|core: Core| {
///     let shards = &shards;
///     async move {
///         let listener = shards.take(core.index())?;
///         Serve::new()
///             .listeners(vec![listener], async |s: TcpStream| {
///                 let (n, buf) = s.recv(Vec::with_capacity(1024)).await;
///                 n?;
///                 s.send_all(buf).await.0
///             })
///             .await?;
///         Ok::<_, quartet::BoxError>(())
///     }
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ReusePortListeners {
    addr: SocketAddr,
    fds: Mutex<Vec<Option<OwnedFd>>>,
}

impl ReusePortListeners {
    /// Binds `n` listeners to `addr` with `SO_REUSEPORT` (and `SO_REUSEADDR`). With port 0 the
    /// first picks a port and the others bind to it.
    ///
    /// # Errors
    /// The `socket`/`setsockopt`/`bind`/`listen` error; `InvalidInput` for `n == 0` or
    /// `n > 1024` (one listener per core, and a group runs at most 1024 cores: a larger count is
    /// a mistake that would otherwise open sockets until the process ran out of descriptors).
    ///
    /// ```
    /// let shards = quartet::net::ReusePortListeners::bind("127.0.0.1:0".parse()?, 2)?;
    /// assert_ne!(shards.local_addr().port(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn bind(addr: SocketAddr, n: usize) -> io::Result<ReusePortListeners> {
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "no listeners asked for"));
        }
        if n > MAX_LISTENERS {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "more than 1024 listeners asked for"));
        }
        let opts = ListenOptions::default().reuse_port(true);
        let mut addr = addr;
        let mut fds = Vec::with_capacity(n);
        for _ in 0..n {
            let l = TcpListener::bind_with(addr, opts)?;
            addr = l.local_addr()?;
            let fd = l.into_fd().map_err(|_| io::Error::other("a new listener is held by an accept"))?;
            fds.push(Some(fd));
        }
        Ok(ReusePortListeners { addr, fds: Mutex::new(fds) })
    }

    /// The address every listener is bound to (with the real port).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Takes listener `i` as a [`TcpListener`] of the calling thread's runtime.
    ///
    /// # Errors
    /// `NotFound` if there is no listener `i` or it was taken already.
    pub fn take(&self, i: usize) -> io::Result<TcpListener> {
        let fd = self
            .fds
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(i)
            .and_then(Option::take)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no listener {i} left")))?;
        TcpListener::from_fd(fd)
    }
}
