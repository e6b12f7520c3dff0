//! Networking on the ring: TCP, UDP and Unix domain sockets, and name resolution.
//!
//! Every async operation is a checkpoint and keeps "`Cancelled` ⇒ nothing happened"; buffers are
//! owned by the op until the kernel is done with them. Socket setup and options (`bind`,
//! `listen`, `setsockopt`) never block and are plain synchronous calls.

mod addr;
mod msg;
mod ops;
mod tcp;
mod udp;

pub(crate) use ops::clamp as clamp_len;
pub use msg::{MAX_FDS, RecvMeta};
pub use tcp::{ListenOptions, TcpListener, TcpStream};
pub use udp::UdpSocket;
