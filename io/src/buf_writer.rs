//! [`BufWriter`]: collects small writes into one buffer and sends it in as few ring operations
//! as possible.

use crate::ext::partial_write;
use crate::slice::Slice;
use quartet_runtime::OpError;
use quartet_runtime::io::OwnedWrite;
use std::io;

/// A buffered writer over any [`OwnedWrite`] stream. Call [`flush`](Self::flush) (or
/// [`shutdown`](Self::shutdown)) to send what is buffered: dropping the writer discards it.
///
/// # Examples
/// ```no_run
/// use quartet_io::BufWriter;
/// # async fn f(stream: quartet_runtime::net::TcpStream) -> Result<(), quartet_runtime::OpError> {
/// let mut w = BufWriter::new(&stream);
/// for i in 0..10 {
///     w.write_all(format!("line {i}\n").as_bytes()).await?;
/// }
/// w.flush().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct BufWriter<W> {
    inner: W,
    buf: Vec<u8>,
    capacity: usize,
}

impl<W: OwnedWrite> BufWriter<W> {
    /// A writer with an 8 KiB buffer.
    pub fn new(inner: W) -> BufWriter<W> {
        Self::with_capacity(crate::buf_reader::DEFAULT_BUF_SIZE, inner)
    }

    /// A writer that sends once `capacity` bytes are buffered. The buffer is allocated at the
    /// first write, and a capacity that cannot be allocated (`usize::MAX`) is an
    /// [`OutOfMemory`](io::ErrorKind::OutOfMemory) error there, not a panic.
    ///
    /// ```no_run
    /// # fn f(s: quartet_runtime::net::TcpStream) {
    /// let w = quartet_io::BufWriter::with_capacity(64 * 1024, s);
    /// # }
    /// ```
    pub fn with_capacity(capacity: usize, inner: W) -> BufWriter<W> {
        let capacity = capacity.max(1);
        BufWriter { inner, buf: Vec::new(), capacity }
    }

    /// The stream.
    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// The bytes buffered and not yet sent.
    pub fn buffer(&self) -> &[u8] {
        &self.buf
    }

    /// The stream and the unsent bytes.
    pub fn into_parts(self) -> (W, Vec<u8>) {
        (self.inner, self.buf)
    }

    /// Buffers `data`, first sending the buffer if `data` does not fit.
    ///
    /// # Cancellation
    /// As [`flush`](Self::flush) when it sends; `data` is buffered only if the call succeeds.
    pub fn write_all(&mut self, data: &[u8]) -> impl std::future::Future<Output = Result<(), OpError>> {
        quartet_runtime::fused::once(async move {
            if self.buf.len() + data.len() > self.capacity && !self.buf.is_empty() {
                self.flush().await?;
            }
            crate::buf_reader::reserve_buffer(&mut self.buf, self.capacity)?;
            self.buf.extend_from_slice(data);
            if self.buf.len() >= self.capacity {
                self.flush().await?;
            }
            Ok(())
        })
    }

    /// Sends everything buffered.
    ///
    /// # Cancellation
    /// `Cancelled` means nothing was sent and everything stays buffered. A cancel after part of
    /// the buffer went out is a [`PartialWrite`](quartet_runtime::PartialWrite) saying how much; the unsent rest stays
    /// buffered, so a later `flush` finishes the job (nothing lost, nothing sent twice). Drop the
    /// future mid-send instead and the buffered bytes are gone: cancel through a scope.
    ///
    /// ```no_run
    /// # async fn f(s: quartet_runtime::net::TcpStream) -> Result<(), quartet_runtime::OpError> {
    /// let mut w = quartet_io::BufWriter::new(s);
    /// w.write_all(b"PING\r\n").await?;
    /// w.flush().await?; // now it is on the wire
    /// # Ok(()) }
    /// ```
    pub fn flush(&mut self) -> impl std::future::Future<Output = Result<(), OpError>> {
        quartet_runtime::fused::once(async move {
            let total = self.buf.len();
            let mut slice = Slice::new(std::mem::take(&mut self.buf), 0);
            while slice.begin() < total {
                let (res, back) = self.inner.write(slice).await;
                slice = back;
                match res {
                    Ok(0) => {
                        self.restore(slice);
                        return Err(io::Error::from(io::ErrorKind::WriteZero).into());
                    }
                    Ok(n) => {
                        let next = slice.begin() + n;
                        slice.set_begin(next);
                    }
                    Err(e) => {
                        let done = slice.begin();
                        self.restore(slice);
                        return Err(partial_write("BufWriter::flush", e, done, total));
                    }
                }
            }
            let mut buf = slice.into_inner();
            buf.clear();
            self.buf = buf;
            Ok(())
        })
    }

    /// Flushes, then signals end of stream ([`OwnedWrite::shutdown_write`]).
    ///
    /// # Cancellation
    /// As [`flush`](Self::flush); the shutdown happens only after a complete flush.
    pub fn shutdown(&mut self) -> impl std::future::Future<Output = Result<(), OpError>> {
        quartet_runtime::fused::once(async move {
            self.flush().await?;
            self.inner.shutdown_write().await
        })
    }

    /// Puts the unsent tail back as the buffer.
    fn restore(&mut self, slice: Slice<Vec<u8>>) {
        let sent = slice.begin();
        let mut buf = slice.into_inner();
        buf.drain(..sent);
        self.buf = buf;
    }
}
