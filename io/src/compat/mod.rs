//! [`Compat`]: a quartet stream seen through the poll-based I/O traits of the ecosystem
//! (`futures-io`, tokio, hyper), each behind its cargo feature.
//!
//! Why and how: see [`Compat`].
//!
//! The adapter is `!Send`, like every quartet stream: it lives on the runtime's thread.

// Without any trait feature only `fill_buf` uses the poll methods.
#![cfg_attr(not(any(feature = "futures-io", feature = "tokio-io", feature = "hyper")), allow(dead_code))]

#[cfg(feature = "futures-io")]
mod futures_io;
#[cfg(feature = "tokio-io")]
mod tokio_io;

use crate::slice::Slice;
use quartet_runtime::OpError;
use quartet_runtime::io::{OwnedRead, OwnedWrite};
use std::fmt;
use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, ready};

type ReadFuture = Pin<Box<dyn Future<Output = (Result<usize, OpError>, Vec<u8>)>>>;
type WriteFuture = Pin<Box<dyn Future<Output = (Result<usize, OpError>, Slice<Vec<u8>>)>>>;
type ShutdownFuture = Pin<Box<dyn Future<Output = Result<(), OpError>>>>;

/// Default read buffer size (16 KiB); one `poll_write` accepts at most `MAX_WRITE` (64 KiB).
const READ_BUF: usize = 16 * 1024;
const MAX_WRITE: usize = 64 * 1024;

/// A quartet stream with the poll-based I/O traits: `futures_io::{AsyncRead, AsyncWrite,
/// AsyncBufRead}` (feature `futures-io`, on by default), tokio's (feature `tokio-io`) and
/// hyper's `rt::Read`/`rt::Write` (feature `hyper`).
///
/// Completion I/O does not fit `poll_read(&mut [u8])`: the kernel needs a buffer it owns until
/// the operation completes, and the caller's slice is gone as soon as its future is dropped. So
/// the adapter owns its buffers and its in-flight operations (H1, H10):
///
/// - **Reads** go into the adapter's buffer; `poll_read` copies out of it. The in-flight read op
///   lives in the adapter, not in the caller's future, so a read future dropped mid-flight (a
///   `select`, a caller's timeout) loses nothing: the op stays in the adapter, its data lands in
///   the adapter's buffer and the next read returns it.
/// - **Writes** are write-behind: `poll_write` copies the bytes into the adapter's buffer, starts
///   the send and reports them accepted; the next `poll_write` or `poll_flush` waits for that send
///   to finish (resending the rest after a short send). One send is in flight at a time. As with
///   any buffered writer, flush or close before dropping the adapter: a send still in flight when
///   it is dropped is cancelled.
/// - **Cancellation.** The ops are ring ops, so a cancel scope around a blocked read reaches it
///   like any quartet operation. It comes back as an `io::Error` of kind `Other` (not `Interrupted`, which
///   retry loops would spin on, since a cancelled scope fails every retry) whose inner
///   error is the [`Cancelled`](quartet_runtime::Cancelled) (so
///   [`is_cancellation`](quartet_runtime::is_cancellation) recognises it), never as end of file;
///   it consumed nothing, and unsent write data stays in the adapter for a later flush.
///
/// # Examples
/// ```no_run
/// use futures_util::{AsyncReadExt, AsyncWriteExt};
/// use quartet_io::Compat;
/// # async fn f(stream: quartet_runtime::net::TcpStream) -> std::io::Result<()> {
/// let mut io = Compat::new(stream);
/// io.write_all(b"ping").await?;
/// io.flush().await?;
/// let mut reply = [0u8; 4];
/// io.read_exact(&mut reply).await?;
/// # Ok(()) }
/// ```
pub struct Compat<S> {
    stream: Rc<S>,
    rbuf: Vec<u8>,
    rpos: usize,
    rcap: usize,
    reading: Option<ReadFuture>,
    /// Accepted bytes not yet sent (`begin()` = how many of them went out), when no send is in
    /// flight; while one is, it owns this buffer.
    wbuf: Option<Slice<Vec<u8>>>,
    writing: Option<WriteFuture>,
    shutdown: Option<ShutdownFuture>,
    shut: bool,
}

impl<S> fmt::Debug for Compat<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Compat")
            .field("buffered", &(self.rbuf.len() - self.rpos))
            .field("reading", &self.reading.is_some())
            .field("writing", &self.writing.is_some())
            .finish()
    }
}

impl<S: OwnedRead + OwnedWrite + 'static> Compat<S> {
    /// Wraps `stream` with a 16 KiB read buffer.
    pub fn new(stream: S) -> Compat<S> {
        Self::with_capacity(READ_BUF, stream)
    }

    /// Wraps `stream`; each read asks for up to `read_capacity` bytes. The read buffer is
    /// allocated at the first read; a capacity that cannot be allocated (`usize::MAX`) is an
    /// [`OutOfMemory`](io::ErrorKind::OutOfMemory) error there, not a panic.
    ///
    /// ```no_run
    /// # fn f(s: quartet_runtime::net::TcpStream) {
    /// let io = quartet_io::Compat::with_capacity(64 * 1024, s);
    /// # }
    /// ```
    pub fn with_capacity(read_capacity: usize, stream: S) -> Compat<S> {
        Compat {
            stream: Rc::new(stream),
            rbuf: Vec::new(),
            rpos: 0,
            rcap: read_capacity.max(1),
            reading: None,
            wbuf: None,
            writing: None,
            shutdown: None,
            shut: false,
        }
    }

    /// The stream.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// Bytes received and not yet read through the adapter.
    pub fn buffered(&self) -> &[u8] {
        &self.rbuf[self.rpos..]
    }

    /// Waits until bytes are buffered and returns them without consuming them (an empty slice is
    /// end of stream): lets a server peek at a protocol preface.
    ///
    /// # Cancellation
    /// `Cancelled` (inside the `io::Error`) means nothing was consumed.
    ///
    /// ```no_run
    /// # async fn f(s: quartet_runtime::net::TcpStream) -> std::io::Result<()> {
    /// let mut io = quartet_io::Compat::new(s);
    /// let is_h2 = io.fill_buf().await?.starts_with(b"PRI * HTTP/2.0");
    /// # Ok(()) }
    /// ```
    pub fn fill_buf(&mut self) -> impl std::future::Future<Output = io::Result<&[u8]>> {
        quartet_runtime::fused::once(async move {
            poll_fn(|cx| self.poll_fill(cx).map_ok(|_| ())).await?;
            Ok(self.buffered())
        })
    }

    /// The buffered bytes, reading into the buffer first if it is empty.
    pub(crate) fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        if self.rpos == self.rbuf.len() {
            let mut fut = match self.reading.take() {
                Some(fut) => fut,
                None => {
                    self.rbuf.clear();
                    self.rpos = 0;
                    // A capacity too large to allocate is an error here, not a panic.
                    crate::buf_reader::reserve_buffer(&mut self.rbuf, self.rcap)?;
                    let buf = std::mem::take(&mut self.rbuf);
                    let stream = self.stream.clone();
                    Box::pin(async move { stream.read(buf).await })
                }
            };
            let Poll::Ready((res, buf)) = fut.as_mut().poll(cx) else {
                self.reading = Some(fut);
                return Poll::Pending;
            };
            self.rbuf = buf;
            self.rpos = 0;
            res.map_err(io::Error::from)?;
        }
        Poll::Ready(Ok(&self.rbuf[self.rpos..]))
    }

    pub(crate) fn consume(&mut self, n: usize) {
        // Saturating: `AsyncBufRead::consume` takes any `usize` from the caller.
        self.rpos = self.rpos.saturating_add(n).min(self.rbuf.len());
    }

    /// Copies buffered bytes into `dst` (reading first if none); `Ok(0)` is end of stream.
    #[cfg_attr(not(feature = "futures-io"), allow(dead_code))]
    pub(crate) fn poll_read_into(&mut self, cx: &mut Context<'_>, dst: &mut [u8]) -> Poll<io::Result<usize>> {
        self.poll_read_with(cx, dst.len(), |bytes| dst[..bytes.len()].copy_from_slice(bytes))
    }

    /// Hands `put` up to `room` buffered bytes (reading first if none are buffered) and consumes
    /// them; the one read path behind every trait's `poll_read`, whatever its buffer type.
    pub(crate) fn poll_read_with(
        &mut self,
        cx: &mut Context<'_>,
        room: usize,
        put: impl FnOnce(&[u8]),
    ) -> Poll<io::Result<usize>> {
        if room == 0 {
            return Poll::Ready(Ok(0));
        }
        let avail = ready!(self.poll_fill(cx))?;
        let n = avail.len().min(room);
        put(&avail[..n]);
        self.consume(n);
        Poll::Ready(Ok(n))
    }

    /// Accepts up to 64 KiB of `data` once the previous send has finished, and starts sending it.
    pub(crate) fn poll_write_from(&mut self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        ready!(self.poll_drain(cx))?;
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let n = data.len().min(MAX_WRITE);
        let mut buf = self.wbuf.take().map(Slice::into_inner).unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(&data[..n]);
        self.wbuf = Some(Slice::new(buf, 0));
        // Submit now, so the bytes go out even if the caller is slow to flush. A failure here is
        // reported by the next write or flush, and the data stays queued.
        let _ = self.poll_drain(cx);
        Poll::Ready(Ok(n))
    }

    /// Sends everything accepted; ready once it all went out.
    pub(crate) fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            if let Some(fut) = self.writing.as_mut() {
                let (res, mut slice) = ready!(fut.as_mut().poll(cx));
                self.writing = None;
                match res {
                    Ok(0) => {
                        self.wbuf = Some(slice);
                        return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                    }
                    Ok(n) => {
                        let next = slice.begin() + n;
                        slice.set_begin(next);
                        self.wbuf = Some(slice);
                    }
                    Err(e) => {
                        // Nothing of this send went out: keep it queued for a later flush.
                        self.wbuf = Some(slice);
                        return Poll::Ready(Err(e.into()));
                    }
                }
            }
            match self.wbuf.take() {
                Some(slice) if quartet_runtime::IoBuf::bytes_init(&slice) > 0 => {
                    let stream = self.stream.clone();
                    self.writing = Some(Box::pin(async move { stream.write(slice).await }));
                }
                other => {
                    self.wbuf = other;
                    return Poll::Ready(Ok(()));
                }
            }
        }
    }

    /// Sends everything accepted, then shuts down the write half (once).
    pub(crate) fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(cx))?;
        if self.shut {
            return Poll::Ready(Ok(()));
        }
        let fut = self.shutdown.get_or_insert_with(|| {
            let stream = self.stream.clone();
            Box::pin(async move { stream.shutdown_write().await })
        });
        let res = ready!(fut.as_mut().poll(cx));
        self.shutdown = None;
        res.map_err(io::Error::from)?;
        self.shut = true;
        Poll::Ready(Ok(()))
    }
}
