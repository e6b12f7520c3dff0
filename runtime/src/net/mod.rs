//! Networking on the ring: TCP, UDP and Unix domain sockets (stream, datagram, fd passing),
//! and name resolution on a worker thread.
//!
//! Every async operation is a checkpoint and keeps "`Cancelled` ⇒ nothing happened"; buffers are
//! owned by the op until the kernel is done with them. Socket setup and options (`bind`,
//! `listen`, `setsockopt`) never block and are plain synchronous calls.

mod addr;
mod lookup;
#[cfg(all(test, not(loom)))]
mod moved_ops_tests;
mod msg;
mod ops;
mod pooled;
mod recv_hint;
mod stream;
mod tcp;
mod tcp_listener;
mod udp;
mod unix;
mod unix_addr;
mod unix_dgram;

pub use crate::driver::{BufPoolConfig, BufPoolError, BufPoolStats};
pub(crate) use addr::peer_addr;
pub use lookup::lookup_host;
pub use msg::{MAX_FDS, RecvMeta};
pub(crate) use ops::clamp as clamp_len;
pub use pooled::{PoolUnavailable, PooledBuf, PooledReceiver, PooledSource, RecvPooled, buf_pool_stats};
pub use tcp::TcpStream;
pub use tcp_listener::{Incoming, ListenOptions, TcpListener};
pub use udp::UdpSocket;
pub use unix::{UnixListener, UnixStream};
pub use unix_addr::UnixSocketAddr;
pub use unix_dgram::UnixDatagram;
