//! [`copy`] one stream into another, and [`copy_bidirectional`] between two streams, both
//! directions as children of one nursery.

use crate::ext::WriteExt;
use quartet_nursery::{NurseryError, SpawnError, nursery};
use quartet_runtime::OpError;
use quartet_runtime::io::{OwnedRead, OwnedWrite};
use std::cell::Cell;

const COPY_BUF: usize = 16 * 1024;

/// Copies `reader` into `writer` until end of stream; returns the number of bytes copied. It does
/// not shut down `writer`.
///
/// # Cancellation
/// `Cancelled` stops the copy between operations. Every byte written went out whole; a chunk
/// already read when the cancel arrived, but not yet written, is dropped (at most one 16 KiB
/// buffer): a cancelled copy leaves the stream pair mid-transfer, so close both.
///
/// # Examples
/// ```no_run
/// # async fn f(a: quartet_runtime::net::TcpStream, b: quartet_runtime::net::TcpStream) -> Result<(), quartet_runtime::OpError> {
/// let n = quartet_io::copy(&a, &b).await?;
/// # Ok(()) }
/// ```
pub fn copy<R, W>(reader: &R, writer: &W) -> impl std::future::Future<Output = Result<u64, OpError>>
where
    R: OwnedRead + ?Sized,
    W: OwnedWrite + ?Sized,
{
    quartet_runtime::fused::once(async move {
        let mut buf = Vec::with_capacity(COPY_BUF);
        let mut total = 0u64;
        loop {
            buf.clear();
            let (res, back) = reader.read(buf).await;
            buf = back;
            let n = res?;
            if n == 0 {
                return Ok(total);
            }
            let (res, back) = writer.write_all(buf).await;
            buf = back;
            res?;
            total += n as u64;
        }
    })
}

/// Copies `a` to `b` and `b` to `a` at the same time, each direction a child of a nursery; when a
/// direction reaches end of stream it shuts down the write half of its destination. Returns
/// `(a to b, b to a)` byte counts once both directions have ended.
///
/// # Errors
/// If one direction fails, the nursery cancels the other and reports the failure (named
/// `"a->b"` or `"b->a"`).
///
/// # Cancellation
/// A cancel from an enclosing scope stops both directions (see [`copy`]) and comes back as a
/// cancelled [`NurseryError`].
///
/// # Examples
/// ```no_run
/// # async fn f(client: quartet_runtime::net::TcpStream) -> Result<(), Box<dyn std::error::Error>> {
/// let upstream = quartet_runtime::net::TcpStream::connect("127.0.0.1:8080".parse()?).await?;
/// let (up, down) = quartet_io::copy_bidirectional(&client, &upstream).await?;
/// # Ok(()) }
/// ```
pub fn copy_bidirectional<A, B>(a: &A, b: &B) -> impl std::future::Future<Output = Result<(u64, u64), NurseryError>>
where
    A: OwnedRead + OwnedWrite + ?Sized,
    B: OwnedRead + OwnedWrite + ?Sized,
{
    quartet_runtime::fused::once(async move {
        let (a_to_b, b_to_a) = (Cell::new(0u64), Cell::new(0u64));
        nursery(async |n| {
            n.spawn_named("a->b", one_way(a, b, &a_to_b))?;
            n.spawn_named("b->a", one_way(b, a, &b_to_a))?;
            Ok::<_, SpawnError>(())
        })
        .await?;
        Ok((a_to_b.get(), b_to_a.get()))
    })
}

async fn one_way<R, W>(from: &R, to: &W, count: &Cell<u64>) -> Result<(), OpError>
where
    R: OwnedRead + ?Sized,
    W: OwnedWrite + ?Sized,
{
    count.set(copy(from, to).await?);
    to.shutdown_write().await
}
