//! Networking: TCP over the ring. UDP and Unix sockets are not yet provided.

mod addr;
mod ops;
mod tcp;

pub(crate) use ops::clamp as clamp_len;
pub use tcp::{ListenOptions, TcpListener, TcpStream};
