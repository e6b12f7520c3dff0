//! Networking: the runtime's sockets ([`TcpStream`], [`UdpSocket`], [`UnixStream`], ...,
//! [`lookup_host`]) plus the high-level helpers that need nurseries: [`open_tcp_stream`] (Happy
//! Eyeballs), [`serve_tcp`] / [`serve_listeners`] (accept loops) and [`ReusePortListeners`]
//! (one listener per core, for serving on several cores).
//!
//! The helpers live in the facade because they are built from both crates: the runtime's ring
//! ops and the nursery's structured concurrency (the nursery crate depends on the runtime, so
//! the runtime cannot use nurseries itself).

mod happy_eyeballs;
mod serve;
mod shards;

pub use happy_eyeballs::{
    Attempt, ConnectError, DEFAULT_STAGGER, OpenTcp, Outcome, interleave_families, open_tcp_stream,
};
pub use quartet_runtime::net::*;
pub use serve::{ACCEPT_BACKOFF, HandlerFailure, Serve, ServeError, ServeEvent, serve_listeners, serve_tcp};
pub use shards::ReusePortListeners;
