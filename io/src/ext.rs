//! Whole-buffer helpers on any owned-buffer stream: [`ReadExt::read_exact`],
//! [`ReadExt::read_to_end`], [`WriteExt::write_all`].

use crate::slice::Slice;
use quartet_runtime::io::{OwnedRead, OwnedWrite};
use quartet_runtime::{IoBuf, OpError, PartialWrite};
use std::future::Future;
use std::io;

/// Reads that loop until a condition holds. Implemented for every [`OwnedRead`].
///
/// # Examples
/// ```no_run
/// use quartet_io::ReadExt;
/// # async fn f(stream: quartet_runtime::net::TcpStream) -> Result<(), quartet_runtime::OpError> {
/// let (res, header) = stream.read_exact(Vec::new(), 4).await;
/// res?;
/// assert_eq!(header.len(), 4);
/// # Ok(()) }
/// ```
pub trait ReadExt: OwnedRead {
    /// Appends exactly `n` bytes to `buf`. End of stream first is `UnexpectedEof` (the bytes
    /// that did arrive are in the returned buffer).
    ///
    /// The room for `n` bytes is reserved up front. A length that overflows `usize` is
    /// `InvalidInput`, and one the allocator refuses is `OutOfMemory`; both before anything is
    /// read, with `buf` returned unchanged.
    ///
    /// # Cancellation
    /// `Cancelled` interrupts the loop between reads: every byte read so far has been appended to
    /// the returned buffer (none is lost), and the stream is positioned after them.
    fn read_exact(&self, buf: Vec<u8>, n: usize) -> impl Future<Output = (Result<(), OpError>, Vec<u8>)> {
        async move {
            let mut buf = buf;
            // A length that cannot be held is the caller's error, reported before anything is
            // read; `try_reserve_exact` also turns an allocation the system refuses into an
            // error instead of an abort.
            let Some(target) = buf.len().checked_add(n) else {
                return (Err(io::Error::new(io::ErrorKind::InvalidInput, "read_exact: length overflows").into()), buf);
            };
            if buf.try_reserve_exact(n).is_err() {
                let e = io::Error::new(io::ErrorKind::OutOfMemory, "read_exact: cannot allocate the length asked for");
                return (Err(e.into()), buf);
            }
            while buf.len() < target {
                let want = target - buf.len();
                // A read fills all spare capacity, so read through an exact-size buffer when the
                // spare room is larger than what is missing: no byte past `n` leaves the stream.
                let res = if buf.capacity() - buf.len() > want {
                    // A boxed slice is filled from its start and never beyond its length.
                    let (res, part) = self.read(vec![0u8; want].into_boxed_slice()).await;
                    if let Ok(n) = res {
                        buf.extend_from_slice(&part[..n.min(want)]);
                    }
                    res
                } else {
                    let (res, back) = self.read(buf).await;
                    buf = back;
                    res
                };
                match res {
                    Ok(0) => return (Err(io::Error::from(io::ErrorKind::UnexpectedEof).into()), buf),
                    Ok(_) => {}
                    Err(e) => return (Err(e), buf),
                }
            }
            (Ok(()), buf)
        }
    }

    /// Appends everything up to end of stream to `buf`, returning how many bytes were added.
    ///
    /// # Cancellation
    /// `Cancelled` stops between reads; the bytes read so far are in the returned buffer.
    fn read_to_end(&self, buf: Vec<u8>) -> impl Future<Output = (Result<usize, OpError>, Vec<u8>)> {
        async move {
            let start = buf.len();
            let mut buf = buf;
            loop {
                if buf.capacity() == buf.len() {
                    buf.reserve(buf.len().clamp(quartet_runtime::DEFAULT_READ_CHUNK, 1 << 20));
                }
                let (res, back) = self.read(buf).await;
                buf = back;
                match res {
                    Ok(0) => return (Ok(buf.len() - start), buf),
                    Ok(_) => {}
                    Err(e) => return (Err(e), buf),
                }
            }
        }
    }
}

impl<R: OwnedRead + ?Sized> ReadExt for R {}

/// Writes that loop until the whole buffer is out. Implemented for every [`OwnedWrite`].
///
/// # Examples
/// ```no_run
/// use quartet_io::WriteExt;
/// # async fn f(stream: quartet_runtime::net::TcpStream) -> Result<(), quartet_runtime::OpError> {
/// stream.write_all(b"hello\n".to_vec()).await.0?;
/// # Ok(()) }
/// ```
pub trait WriteExt: OwnedWrite {
    /// Writes all of `buf`.
    ///
    /// # Cancellation
    /// `Cancelled` means nothing was written. A cancel after part of the buffer went out is a
    /// [`PartialWrite`](quartet_runtime::PartialWrite) naming how much was written (the stream's
    /// framing is then unknown to the peer), never a plain `Cancelled`.
    fn write_all<B: IoBuf>(&self, buf: B) -> impl Future<Output = (Result<(), OpError>, B)> {
        async move {
            let total = buf.bytes_init();
            let mut slice = Slice::new(buf, 0);
            while slice.begin() < total {
                let (res, back) = self.write(slice).await;
                slice = back;
                match res {
                    Ok(0) => return (Err(io::Error::from(io::ErrorKind::WriteZero).into()), slice.into_inner()),
                    Ok(n) => {
                        let next = slice.begin() + n;
                        slice.set_begin(next);
                    }
                    Err(e) => {
                        let e = partial_write("write_all", e, slice.begin(), total);
                        return (Err(e), slice.into_inner());
                    }
                }
            }
            (Ok(()), slice.into_inner())
        }
    }
}

impl<W: OwnedWrite + ?Sized> WriteExt for W {}

/// A cancellation after `done > 0` bytes went out is not "nothing happened": report it as a
/// [`PartialWrite`] that says how far the write got.
pub(crate) fn partial_write(what: &'static str, e: OpError, done: usize, total: usize) -> OpError {
    match e {
        OpError::Cancelled(c) if done > 0 => PartialWrite::new(what, done, total, c).into(),
        e => e,
    }
}
