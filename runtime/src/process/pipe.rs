//! Pipes as owned-buffer streams: a child's stdin/stdout/stderr, or an anonymous [`pipe`].
//!
//! Reads and writes are ring `READ`/`WRITE` ops on the pipe's fd (the kernel waits for data or
//! room by itself, no readiness loop). Like every owned-buffer I/O type in quartet, the buffer is
//! handed over with the call and given back with the result (H1).

use super::ops::PipeWrite;
use crate::buf::{IoBuf, IoBufMut, read_region};
use crate::error::OpError;
use crate::fd::SharedFd;
use crate::fs::ops::ReadAt;
use crate::io::{OwnedRead, OwnedWrite};
use crate::op::Op;
use std::future::Future;
use std::io;
use std::os::fd::{AsRawFd, IntoRawFd, OwnedFd, RawFd};
use std::process::Stdio;

/// The read end of a pipe (a child's stdout or stderr, or [`pipe`]'s first half).
///
/// # Examples
/// ```no_run
/// use quartet_runtime::process::Command;
/// # quartet_runtime::run(async {
/// let mut child = Command::new("echo").arg("hi").stdout(std::process::Stdio::piped()).spawn()?;
/// let out = child.stdout.take().unwrap();
/// let (n, text) = out.read_to_end(Vec::new()).await;
/// n?;
/// assert_eq!(text, b"hi\n");
/// child.wait().await?;
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap().unwrap();
/// ```
#[derive(Debug)]
pub struct PipeReader {
    fd: SharedFd,
}

/// The write end of a pipe (a child's stdin, or [`pipe`]'s second half). Dropping or
/// [closing](PipeWriter::close) it is how the reader sees end of stream.
///
/// # Examples
/// ```no_run
/// use quartet_runtime::process::Command;
/// # quartet_runtime::run(async {
/// let mut child = Command::new("cat").stdin(std::process::Stdio::piped()).spawn()?;
/// let input = child.stdin.take().unwrap();
/// input.write_all(b"to cat\n".to_vec()).await.0?;
/// input.close().await?; // end of input: cat exits
/// child.wait().await?;
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap().unwrap();
/// ```
#[derive(Debug)]
pub struct PipeWriter {
    fd: SharedFd,
}

/// Creates an anonymous pipe (`pipe2` with `O_CLOEXEC`): bytes written to the writer come out of
/// the reader. Either end can become a child's stdin/stdout with `into_stdio`.
///
/// # Errors
/// The `pipe2` error (`EMFILE` when out of fds).
///
/// # Examples
/// ```no_run
/// # quartet_runtime::run(async {
/// let (r, w) = quartet_runtime::process::pipe()?;
/// w.write_all(b"ping".to_vec()).await.0?;
/// let (n, buf) = r.read(Vec::with_capacity(16)).await;
/// assert_eq!(&buf[..n?], b"ping");
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap().unwrap();
/// ```
pub fn pipe() -> io::Result<(PipeReader, PipeWriter)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` is a valid, writable array of two ints, as pipe2 requires.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((PipeReader { fd: SharedFd::new(fds[0]) }, PipeWriter { fd: SharedFd::new(fds[1]) }))
}

impl PipeReader {
    pub(crate) fn from_owned(fd: OwnedFd) -> PipeReader {
        PipeReader { fd: SharedFd::new(fd.into_raw_fd()) }
    }

    /// Reads into `buf`: a `Vec` appends into its spare capacity (growing it if it has none), a
    /// fixed-size buffer is filled from the start. `Ok(0)` is end of stream (every writer closed).
    ///
    /// # Cancellation
    /// A checkpoint. If it returns `Cancelled`, no byte was taken from the pipe.
    ///
    /// # Examples
    /// ```no_run
    /// # quartet_runtime::run(async {
    /// let (r, _w) = quartet_runtime::process::pipe()?;
    /// let (n, buf) = r.read(Box::new([0u8; 512])).await;
    /// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap().unwrap();
    /// ```
    pub fn read<B: IoBufMut>(&self, mut buf: B) -> impl std::future::Future<Output = (Result<usize, OpError>, B)> {
        crate::fused::once_pending(async move {
            let (off, len) = match read_region(&mut buf) {
                Ok(r) => r,
                Err(e) => return (Err(e.into()), buf),
            };
            let (res, mut data) = Op::new(ReadAt { fd: self.fd.clone(), buf, pos: u64::MAX, off, len }).await;
            let res = res.map(|n| {
                // SAFETY: the kernel wrote `n <= len` bytes at `off`, after `off` initialised ones.
                unsafe { data.buf.set_init(off + n as usize) };
                n as usize
            });
            (res, data.buf)
        })
    }

    /// Reads until end of stream, appending to `buf`; returns how many bytes were appended.
    ///
    /// # Cancellation
    /// A checkpoint at every read. On `Cancelled`, `buf` holds what was read before the cancel
    /// (nothing was lost: those bytes left the pipe and are in `buf`).
    ///
    /// # Examples
    /// ```no_run
    /// # quartet_runtime::run(async {
    /// let (r, w) = quartet_runtime::process::pipe()?;
    /// w.write_all(b"all of it".to_vec()).await.0?;
    /// drop(w);
    /// let (n, buf) = r.read_to_end(Vec::new()).await;
    /// assert_eq!(n?, 9);
    /// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap().unwrap();
    /// ```
    pub fn read_to_end(
        &self,
        mut buf: Vec<u8>,
    ) -> impl std::future::Future<Output = (Result<usize, OpError>, Vec<u8>)> {
        crate::fused::once_pending(async move {
            let start = buf.len();
            loop {
                if buf.capacity() - buf.len() < 4096 {
                    buf.reserve(buf.len().max(16 * 1024));
                }
                let (n, b) = self.read(buf).await;
                buf = b;
                match n {
                    Ok(0) => return (Ok(buf.len() - start), buf),
                    Ok(_) => {}
                    Err(e) => return (Err(e), buf),
                }
            }
        })
    }

    /// Turns this end into a child's stdin, for pipelines (`a | b`). Fails with `ResourceBusy` if a
    /// read on it is still in flight (a dropped read future the kernel has not finished).
    ///
    /// # Examples
    /// ```no_run
    /// use quartet_runtime::process::Command;
    /// use std::process::Stdio;
    /// # quartet_runtime::run(async {
    /// let mut ls = Command::new("ls").stdout(Stdio::piped()).spawn()?;
    /// let mut sort = Command::new("sort").stdin(ls.stdout.take().unwrap().into_stdio()?).spawn()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap().unwrap();
    /// ```
    pub fn into_stdio(self) -> io::Result<Stdio> {
        into_owned(self.fd).map(Stdio::from)
    }

    /// Closes the pipe through the ring. Not a cancellation point.
    ///
    /// # Examples
    /// ```no_run
    /// # quartet_runtime::run(async {
    /// let (r, _w) = quartet_runtime::process::pipe()?;
    /// r.close().await?;
    /// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap().unwrap();
    /// ```
    pub fn close(self) -> impl std::future::Future<Output = Result<(), OpError>> {
        crate::fused::once(async move { self.fd.close().await })
    }
}

impl PipeWriter {
    pub(crate) fn from_owned(fd: OwnedFd) -> PipeWriter {
        PipeWriter { fd: SharedFd::new(fd.into_raw_fd()) }
    }

    /// Writes (part of) `buf`, returning how many bytes went into the pipe. Waits while the pipe
    /// is full. `BrokenPipe` once every reader has closed.
    ///
    /// # Cancellation
    /// A checkpoint. If it returns `Cancelled`, no byte was written.
    ///
    /// # Examples
    /// ```no_run
    /// # quartet_runtime::run(async {
    /// let (_r, w) = quartet_runtime::process::pipe()?;
    /// let (n, _buf) = w.write(b"abc".to_vec()).await;
    /// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap().unwrap();
    /// ```
    pub fn write<B: IoBuf>(&self, buf: B) -> impl std::future::Future<Output = (Result<usize, OpError>, B)> {
        crate::fused::once_pending(async move {
            let (res, data) = Op::new(PipeWrite { fd: self.fd.clone(), buf, offset: 0 }).await;
            (res.map(|n| n as usize), data.buf)
        })
    }

    /// Writes all of `buf`.
    ///
    /// # Cancellation
    /// `Cancelled` means nothing was written. A cancel after part of the buffer went out is a
    /// [`PartialWrite`](crate::PartialWrite) naming how much was written, never a silent `Cancelled`.
    ///
    /// # Examples
    /// ```no_run
    /// # quartet_runtime::run(async {
    /// let (_r, w) = quartet_runtime::process::pipe()?;
    /// w.write_all(b"line\n".to_vec()).await.0?;
    /// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap().unwrap();
    /// ```
    pub fn write_all<B: IoBuf>(&self, buf: B) -> impl std::future::Future<Output = (Result<(), OpError>, B)> {
        crate::fused::once_pending(async move {
            crate::write_all::write_all(PipeWrite { fd: self.fd.clone(), buf, offset: 0 }, "write_all").await
        })
    }

    /// Turns this end into a child's stdout or stderr. Fails with `ResourceBusy` if a write on it
    /// is still in flight.
    ///
    /// # Examples
    /// ```no_run
    /// use quartet_runtime::process::{Command, pipe};
    /// # quartet_runtime::run(async {
    /// let (r, w) = pipe()?;
    /// let mut child = Command::new("date").stdout(w.into_stdio()?).spawn()?;
    /// let (n, out) = r.read_to_end(Vec::new()).await;
    /// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap().unwrap();
    /// ```
    pub fn into_stdio(self) -> io::Result<Stdio> {
        into_owned(self.fd).map(Stdio::from)
    }

    /// Closes the pipe through the ring (the reader then sees end of stream). Not a cancellation
    /// point.
    ///
    /// # Examples
    /// ```no_run
    /// # quartet_runtime::run(async {
    /// let (_r, w) = quartet_runtime::process::pipe()?;
    /// w.close().await?;
    /// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap().unwrap();
    /// ```
    pub fn close(self) -> impl std::future::Future<Output = Result<(), OpError>> {
        crate::fused::once(async move { self.fd.close().await })
    }
}

/// Pipes are byte streams like sockets: buffered readers, `copy` and the `quartet-io` adapters
/// work over them.
impl OwnedRead for PipeReader {
    fn read<B: IoBufMut>(&self, buf: B) -> impl Future<Output = (Result<usize, OpError>, B)> {
        PipeReader::read(self, buf)
    }
}

impl OwnedWrite for PipeWriter {
    fn write<B: IoBuf>(&self, buf: B) -> impl Future<Output = (Result<usize, OpError>, B)> {
        PipeWriter::write(self, buf)
    }
}

fn into_owned(fd: SharedFd) -> io::Result<OwnedFd> {
    fd.into_owned()
        .map_err(|_| io::Error::new(io::ErrorKind::ResourceBusy, "the pipe still has an operation in flight"))
}

impl AsRawFd for PipeReader {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.raw()
    }
}

impl AsRawFd for PipeWriter {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.raw()
    }
}
