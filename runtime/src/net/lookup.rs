//! Name resolution: `getaddrinfo` on a worker thread (as Trio does), because the libc resolver
//! blocks and has no completion-based interface. A cancelled lookup returns at once and abandons
//! its thread: the thread finishes the (uninterruptible) `getaddrinfo` call on its own and its
//! result is dropped.

use crate::error::OpError;
use crate::thread::to_thread;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

/// Resolves `host` (a name or a literal IP address) to socket addresses with port `port`, in the
/// order the system resolver returns them (`/etc/gai.conf` rules, usually IPv6 first).
///
/// Literal addresses are parsed without a thread. Names go through `getaddrinfo(3)` on a worker
/// thread of the runtime's default [`CapacityLimiter`](crate::thread::CapacityLimiter).
///
/// # Errors
/// `Io` with the resolver's error (unknown name, no network); `Cancelled`; `NoRuntime`.
///
/// # Cancellation
/// A checkpoint. If it returns `Cancelled`, the caller gets control back at once even while
/// `getaddrinfo` is still running: the worker thread is abandoned, finishes the call by itself,
/// and its answer is dropped (a lookup has no side effects to undo).
///
/// # Examples
/// ```no_run
/// use quartet_runtime::net::lookup_host;
/// # quartet_runtime::run(async {
/// for addr in lookup_host("localhost", 80).await? {
///     println!("{addr}");
/// }
/// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
/// ```
pub fn lookup_host(host: &str, port: u16) -> impl std::future::Future<Output = Result<Vec<SocketAddr>, OpError>> {
    crate::fused::once(async move {
        let literal = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
        if let Ok(ip) = literal.parse::<IpAddr>() {
            crate::checkpoint().await?;
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        let host = host.to_owned();
        let found = to_thread(move || (host.as_str(), port).to_socket_addrs().map(Iterator::collect::<Vec<_>>))
            .abandon_on_cancel(true)
            .await??;
        Ok(found)
    })
}
