//! The two traits every quartet byte stream implements, so buffered readers, `copy` and the
//! ecosystem adapters (crate `quartet-io`) work over any of them without trait objects.
//!
//! They keep quartet's owned-buffer shape: the buffer goes in by value and comes back with the
//! result, because the kernel may still write it after the future is gone (H1). Methods take
//! `&self` so one task can read while another writes (as [`TcpStream`]
//! allows); `&S` implements them too, so generic code can borrow a stream.
//!
//! Contract for implementors: an operation that returns `Err(OpError::Cancelled(_))` did nothing
//! (no byte consumed or sent), and a read of `Ok(0)` means end of stream, never "no room" (a
//! buffer without room is grown with [`IoBufMut::reserve_for_read`] or refused with an error).

use crate::buf::{IoBuf, IoBufMut};
use crate::error::OpError;
use crate::net::TcpStream;
use std::future::Future;
use std::net::Shutdown;

/// A stream that reads into owned buffers.
///
/// # Examples
/// ```no_run
/// use quartet_runtime::io::OwnedRead;
/// async fn first_bytes(r: &impl OwnedRead) -> Vec<u8> {
///     let (res, buf) = r.read(Vec::with_capacity(512)).await;
///     res.map(|_| buf).unwrap_or_default()
/// }
/// ```
pub trait OwnedRead {
    /// Reads into `buf` (a `Vec` appends into its spare capacity, growing it if it has none).
    /// `Ok(0)` is end of stream.
    ///
    /// # Cancellation
    /// A checkpoint; `Cancelled` means no byte was consumed.
    fn read<B: IoBufMut>(&self, buf: B) -> impl Future<Output = (Result<usize, OpError>, B)>;
}

/// A stream that writes from owned buffers.
///
/// # Examples
/// ```no_run
/// use quartet_runtime::io::OwnedWrite;
/// async fn hello(w: &impl OwnedWrite) -> Result<usize, quartet_runtime::OpError> {
///     w.write("hello\n").await.0
/// }
/// ```
pub trait OwnedWrite {
    /// Writes (part of) `buf`, returning how many bytes went out.
    ///
    /// # Cancellation
    /// A checkpoint; `Cancelled` means no byte was written.
    fn write<B: IoBuf>(&self, buf: B) -> impl Future<Output = (Result<usize, OpError>, B)>;

    /// Signals end of stream to the peer (TCP: shuts down the write half). The default does
    /// nothing, for streams without such a notion.
    fn shutdown_write(&self) -> impl Future<Output = Result<(), OpError>> {
        async { Ok(()) }
    }
}

impl OwnedRead for TcpStream {
    fn read<B: IoBufMut>(&self, buf: B) -> impl Future<Output = (Result<usize, OpError>, B)> {
        self.recv(buf)
    }
}

impl OwnedWrite for TcpStream {
    fn write<B: IoBuf>(&self, buf: B) -> impl Future<Output = (Result<usize, OpError>, B)> {
        self.send(buf)
    }

    fn shutdown_write(&self) -> impl Future<Output = Result<(), OpError>> {
        self.shutdown(Shutdown::Write)
    }
}

impl<S: OwnedRead + ?Sized> OwnedRead for &S {
    fn read<B: IoBufMut>(&self, buf: B) -> impl Future<Output = (Result<usize, OpError>, B)> {
        (**self).read(buf)
    }
}

impl<S: OwnedWrite + ?Sized> OwnedWrite for &S {
    fn write<B: IoBuf>(&self, buf: B) -> impl Future<Output = (Result<usize, OpError>, B)> {
        (**self).write(buf)
    }

    fn shutdown_write(&self) -> impl Future<Output = Result<(), OpError>> {
        (**self).shutdown_write()
    }
}

impl<S: OwnedRead + ?Sized> OwnedRead for std::rc::Rc<S> {
    fn read<B: IoBufMut>(&self, buf: B) -> impl Future<Output = (Result<usize, OpError>, B)> {
        (**self).read(buf)
    }
}

impl<S: OwnedWrite + ?Sized> OwnedWrite for std::rc::Rc<S> {
    fn write<B: IoBuf>(&self, buf: B) -> impl Future<Output = (Result<usize, OpError>, B)> {
        (**self).write(buf)
    }

    fn shutdown_write(&self) -> impl Future<Output = Result<(), OpError>> {
        (**self).shutdown_write()
    }
}
