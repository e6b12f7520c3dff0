//! [`BufReader`]: buffered reading over an owned-buffer stream, with `read_until`/`read_line`
//! that never lose a byte to a cancellation.
//!
//! Invariant: the unconsumed bytes are `buf[pos..]`, and they are never handed to the kernel.
//! When the buffer is empty the next read goes straight into it (the fast path); when it holds a
//! partial line, new data is read into a separate chunk and appended, so even a read future that
//! is dropped mid-flight (rather than cancelled through a scope) loses only its own in-flight
//! data, never what was buffered before.

use crate::lines::Lines;
use quartet_runtime::OpError;
use quartet_runtime::io::OwnedRead;
use std::io;

/// Default buffer capacity (8 KiB).
pub const DEFAULT_BUF_SIZE: usize = 8 * 1024;
/// Default bound on a line held by `read_until`/`read_line` (1 MiB).
pub const DEFAULT_MAX_LINE: usize = 1 << 20;

/// A buffered reader over any [`OwnedRead`] stream.
///
/// # Examples
/// ```no_run
/// use quartet_io::BufReader;
/// # async fn f(stream: quartet_runtime::net::TcpStream) -> Result<(), quartet_runtime::OpError> {
/// let mut reader = BufReader::new(&stream);
/// let mut line = String::new();
/// while reader.read_line(&mut line).await? > 0 {
///     print!("{line}");
///     line.clear();
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct BufReader<R> {
    inner: R,
    buf: Vec<u8>,
    pos: usize,
    capacity: usize,
    max_line: usize,
    /// Scratch buffer for reads that append to unconsumed data (reused across reads).
    chunk: Vec<u8>,
}

impl<R: OwnedRead> BufReader<R> {
    /// A reader with a [`DEFAULT_BUF_SIZE`] buffer.
    pub fn new(inner: R) -> BufReader<R> {
        Self::with_capacity(DEFAULT_BUF_SIZE, inner)
    }

    /// A reader whose reads ask for up to `capacity` bytes (at least 1). The buffer is allocated
    /// at the first read, and a capacity that cannot be allocated (`usize::MAX`) is an
    /// [`OutOfMemory`](io::ErrorKind::OutOfMemory) error there, not a panic.
    ///
    /// ```no_run
    /// # fn f(s: quartet_runtime::net::TcpStream) {
    /// let reader = quartet_io::BufReader::with_capacity(64 * 1024, s);
    /// # }
    /// ```
    pub fn with_capacity(capacity: usize, inner: R) -> BufReader<R> {
        let capacity = capacity.max(1);
        BufReader { inner, buf: Vec::new(), pos: 0, capacity, max_line: DEFAULT_MAX_LINE, chunk: Vec::new() }
    }

    /// Sets the longest line `read_until`/`read_line` will buffer (default [`DEFAULT_MAX_LINE`]);
    /// a longer one is an `InvalidData` error and stays in the buffer.
    ///
    /// ```no_run
    /// # fn f(s: quartet_runtime::net::TcpStream) {
    /// let mut reader = quartet_io::BufReader::new(s);
    /// reader.set_max_line(4096);
    /// # }
    /// ```
    pub fn set_max_line(&mut self, max: usize) {
        self.max_line = max.max(1);
    }

    /// The stream.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// The buffered, unconsumed bytes.
    pub fn buffer(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    /// The stream and the unconsumed bytes (which were already read from it).
    pub fn into_parts(mut self) -> (R, Vec<u8>) {
        self.buf.drain(..self.pos);
        (self.inner, self.buf)
    }

    /// Returns the buffered bytes, reading more first if there are none. An empty slice is end of
    /// stream. Follow with [`consume`](Self::consume).
    ///
    /// # Cancellation
    /// A checkpoint when the buffer is empty; `Cancelled` means nothing was read.
    ///
    /// ```no_run
    /// # async fn f(s: quartet_runtime::net::TcpStream) -> Result<(), quartet_runtime::OpError> {
    /// let mut reader = quartet_io::BufReader::new(s);
    /// let n = reader.fill_buf().await?.len();
    /// reader.consume(n); // used it all
    /// # Ok(()) }
    /// ```
    pub fn fill_buf(&mut self) -> impl std::future::Future<Output = Result<&[u8], OpError>> {
        quartet_runtime::fused::once(async move {
            if self.pos == self.buf.len() {
                self.read_more().await?;
            }
            Ok(self.buffer())
        })
    }

    /// Marks `n` buffered bytes as used (clamped to what is buffered; any `n`, `usize::MAX`
    /// included, is fine).
    pub fn consume(&mut self, n: usize) {
        self.pos = self.pos.saturating_add(n).min(self.buf.len());
    }

    /// Copies buffered bytes into `dst`, reading first if none are buffered; `Ok(0)` is end of
    /// stream (or an empty `dst`).
    ///
    /// # Cancellation
    /// As [`fill_buf`](Self::fill_buf): `Cancelled` means nothing was read or consumed.
    pub fn read(&mut self, dst: &mut [u8]) -> impl std::future::Future<Output = Result<usize, OpError>> {
        quartet_runtime::fused::once(async move {
            if dst.is_empty() {
                return Ok(0);
            }
            let avail = self.fill_buf().await?;
            let n = avail.len().min(dst.len());
            dst[..n].copy_from_slice(&avail[..n]);
            self.consume(n);
            Ok(n)
        })
    }

    /// Appends bytes up to and including `byte` to `out`, or up to end of stream if `byte` never
    /// comes. Returns how many bytes were appended (0 only at end of stream).
    ///
    /// # Errors
    /// `InvalidData` if more than the line bound (see [`set_max_line`](Self::set_max_line)) is
    /// buffered without `byte`; the bytes stay buffered.
    ///
    /// # Cancellation
    /// `Cancelled` means nothing was consumed and `out` is unchanged: the partial line read so
    /// far stays in the buffer and the next call returns it whole.
    ///
    /// ```no_run
    /// # async fn f(s: quartet_runtime::net::TcpStream) -> Result<(), quartet_runtime::OpError> {
    /// let mut reader = quartet_io::BufReader::new(s);
    /// let mut record = Vec::new();
    /// reader.read_until(0, &mut record).await?; // a NUL-terminated record
    /// # Ok(()) }
    /// ```
    pub fn read_until(
        &mut self,
        byte: u8,
        out: &mut Vec<u8>,
    ) -> impl std::future::Future<Output = Result<usize, OpError>> {
        quartet_runtime::fused::once(async move {
            let end = self.find(byte).await?;
            let n = end - self.pos;
            out.extend_from_slice(&self.buf[self.pos..end]);
            self.consume(n);
            Ok(n)
        })
    }

    /// Appends one line, including its `\n`, to `out`; returns its length in bytes (0 only at
    /// end of stream). The last line may lack the `\n`.
    ///
    /// # Errors
    /// `InvalidData` if the line is not UTF-8 (the line is consumed, `out` unchanged) or exceeds
    /// the line bound (the bytes stay buffered).
    ///
    /// # Cancellation
    /// `Cancelled` means nothing was consumed and `out` is unchanged; the bytes of the partial
    /// line already received stay buffered, and the next call returns the whole line.
    pub fn read_line(&mut self, out: &mut String) -> impl std::future::Future<Output = Result<usize, OpError>> {
        quartet_runtime::fused::once(async move {
            let end = self.find(b'\n').await?;
            let line = std::str::from_utf8(&self.buf[self.pos..end]);
            let res = match line {
                Ok(s) => {
                    out.push_str(s);
                    Ok(s.len())
                }
                Err(_) => Err(io::Error::new(io::ErrorKind::InvalidData, "line is not valid UTF-8").into()),
            };
            self.consume(end - self.pos);
            res
        })
    }

    /// The lines of the stream, without their `\n` or `\r\n`, as a
    /// [`Stream`](futures_core::Stream).
    ///
    /// ```no_run
    /// # async fn f(s: quartet_runtime::net::TcpStream) -> Result<(), quartet_runtime::OpError> {
    /// let mut lines = quartet_io::BufReader::new(s).lines();
    /// while let Some(line) = lines.next_line().await {
    ///     println!("{}", line?);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn lines<'a>(self) -> Lines<'a, R>
    where
        R: 'a,
    {
        Lines::new(self)
    }

    /// The end (exclusive) of the buffered run up to and including `byte`, reading until it is
    /// buffered or the stream ends.
    async fn find(&mut self, byte: u8) -> Result<usize, OpError> {
        // How many unconsumed bytes were already searched (relative: `read_more` may compact).
        let mut scanned = 0;
        loop {
            let from = self.pos + scanned;
            if let Some(i) = self.buf[from..].iter().position(|&b| b == byte) {
                return Ok(from + i + 1);
            }
            scanned = self.buf.len() - self.pos;
            if scanned >= self.max_line {
                let msg = format!("no {byte:#04x} within {} bytes", self.max_line);
                return Err(io::Error::new(io::ErrorKind::InvalidData, msg).into());
            }
            if self.read_more().await? == 0 {
                return Ok(self.buf.len());
            }
        }
    }

    /// Reads more bytes after the buffered ones, keeping them (for parsers that found an
    /// incomplete frame in [`buffer`](Self::buffer)); returns how many arrived (0 at end of
    /// stream).
    ///
    /// # Cancellation
    /// A checkpoint; `Cancelled` means nothing was read, and the buffered bytes are untouched.
    ///
    /// ```no_run
    /// # async fn f(s: quartet_runtime::net::TcpStream) -> Result<(), quartet_runtime::OpError> {
    /// // A length-prefixed frame: wait until the prefix and the body are buffered.
    /// let mut reader = quartet_io::BufReader::new(s);
    /// let frame = loop {
    ///     let buf = reader.buffer();
    ///     if buf.len() >= 4 {
    ///         let len = u32::from_be_bytes(buf[..4].try_into().unwrap()) as usize;
    ///         if buf.len() >= 4 + len {
    ///             let frame = buf[4..4 + len].to_vec();
    ///             reader.consume(4 + len);
    ///             break frame;
    ///         }
    ///     }
    ///     if reader.read_more().await? == 0 {
    ///         return Ok(()); // end of stream
    ///     }
    /// };
    /// # Ok(()) }
    /// ```
    pub fn read_more(&mut self) -> impl std::future::Future<Output = Result<usize, OpError>> {
        quartet_runtime::fused::once(async move {
            if self.pos == self.buf.len() {
                // Nothing buffered: read straight into the buffer.
                let mut buf = std::mem::take(&mut self.buf);
                buf.clear();
                self.pos = 0;
                if let Err(e) = reserve_buffer(&mut buf, self.capacity) {
                    self.buf = buf;
                    return Err(e.into());
                }
                let (res, buf) = self.inner.read(buf).await;
                self.buf = buf;
                return res;
            }
            // Keep the unconsumed bytes out of the kernel's reach: read into a scratch chunk.
            if self.pos > 0 {
                self.buf.drain(..self.pos);
                self.pos = 0;
            }
            let mut chunk = std::mem::take(&mut self.chunk);
            chunk.clear();
            if let Err(e) = reserve_buffer(&mut chunk, self.capacity) {
                self.chunk = chunk;
                return Err(e.into());
            }
            let (res, chunk) = self.inner.read(chunk).await;
            self.buf.extend_from_slice(&chunk);
            self.chunk = chunk;
            res
        })
    }
}

/// Makes room for `capacity` bytes in `buf`, or reports that they cannot be allocated: a
/// capacity too large for memory (say `usize::MAX`) is an `OutOfMemory` error at the first use of
/// the buffer, never a capacity-overflow panic or an allocation abort.
pub(crate) fn reserve_buffer(buf: &mut Vec<u8>, capacity: usize) -> io::Result<()> {
    if buf.capacity() >= capacity {
        return Ok(());
    }
    buf.try_reserve_exact(capacity - buf.len()).map_err(|e| {
        io::Error::new(io::ErrorKind::OutOfMemory, format!("a buffer of {capacity} bytes cannot be allocated: {e}"))
    })
}
