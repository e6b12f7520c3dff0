//! Files over the ring: open, positional read/write, fsync, statx, close (how to open:
//! `open_options.rs`).

use super::metadata::Metadata;
use super::open_options::OpenOptions;
use super::ops;
use crate::buf::{IoBuf, IoBufMut, read_region};
use crate::error::{OpError, PartialWrite};
use crate::fallback::{blocking, ring_has};
use crate::fd::SharedFd;
use crate::op::Op;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::Path;

/// An open file. All I/O is positional; methods take `&self`, so reads may run concurrently.
///
/// # Examples
/// ```no_run
/// use quartet_runtime::fs::File;
/// # quartet_runtime::run(async {
/// let f = File::open("/etc/hostname").await?;
/// let (n, buf) = f.read_at(Vec::with_capacity(256), 0).await;
/// println!("{}", String::from_utf8_lossy(&buf[..n?]));
/// f.close().await?;
/// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
/// ```
#[derive(Debug)]
pub struct File {
    pub(crate) fd: SharedFd,
}

impl File {
    /// Opens read-only.
    ///
    /// Like every I/O future, the returned one is not `Send`: it must be polled, and dropped, on
    /// the thread of the runtime that submitted it.
    /// ```compile_fail,E0277
    /// fn assert_send<T: Send>(_: T) {}
    /// assert_send(quartet_runtime::fs::File::open("/etc/hostname"));
    /// ```
    pub fn open(path: impl AsRef<Path>) -> impl std::future::Future<Output = Result<File, OpError>> {
        crate::fused::once(async move { OpenOptions::new().read(true).open(path).await })
    }

    /// Creates (or truncates) for writing.
    ///
    /// ```
    /// use quartet_runtime::fs::{File, OpenOptions};
    /// # quartet_runtime::run(async {
    /// let path = std::env::temp_dir().join(format!("quartet-doc-create2-{}", std::process::id()));
    /// let f = File::create(&path).await?;
    /// let (r, _) = f.write_all_at(b"report".to_vec(), 0).await;
    /// r?;
    /// f.sync_all().await?;
    /// f.close().await?;
    /// # std::fs::remove_file(&path).ok();
    /// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
    /// ```
    pub fn create(path: impl AsRef<Path>) -> impl std::future::Future<Output = Result<File, OpError>> {
        crate::fused::once(async move { OpenOptions::new().write(true).create(true).truncate(true).open(path).await })
    }

    /// Reads at `pos` into `buf`: a `Vec` appends into its spare capacity, a fixed-size buffer is
    /// filled from the start. `Ok(0)` is end of file. A `Vec` with no spare capacity first grows by
    /// [`DEFAULT_READ_CHUNK`](crate::DEFAULT_READ_CHUNK); a full fixed-size buffer, or a `pos` above
    /// `i64::MAX`, is `InvalidInput`. One call reads at most 2 GiB - 4 KiB (`MAX_RW_COUNT`).
    ///
    /// # Cancellation
    /// A checkpoint; `Cancelled` means nothing was read. Reads of cached regular files usually
    /// complete before a cancel can take effect, and then return their data.
    ///
    /// ```
    /// use quartet_runtime::fs::{File, OpenOptions};
    /// # quartet_runtime::run(async {
    /// let path = std::env::temp_dir().join(format!("quartet-doc-read-at-{}", std::process::id()));
    /// std::fs::write(&path, "hello world")?;
    /// let f = File::open(&path).await?;
    /// let (n, buf) = f.read_at(Vec::with_capacity(5), 6).await; // 5 bytes from offset 6
    /// assert_eq!(&buf[..n?], b"world");
    /// # std::fs::remove_file(&path).ok();
    /// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
    /// ```
    pub fn read_at<B: IoBufMut>(
        &self,
        mut buf: B,
        pos: u64,
    ) -> impl std::future::Future<Output = (Result<usize, OpError>, B)> {
        crate::fused::once_pending(async move {
            let (off, len) = match read_region(&mut buf).and_then(|r| check_position(pos).map(|_| r)) {
                Ok(r) => r,
                Err(e) => return (Err(e.into()), buf),
            };
            let (res, mut data) = Op::new(ops::ReadAt { fd: self.fd.clone(), buf, pos, off, len }).await;
            let res = res.map(|n| {
                // SAFETY: the kernel wrote `n <= len` bytes at `off`, after `off` initialised ones.
                unsafe { data.buf.set_init(off + n as usize) };
                n as usize
            });
            (res, data.buf)
        })
    }

    /// Writes `buf` at `pos`, returning how many bytes were written. A `pos` above `i64::MAX` is
    /// `InvalidInput` (as with `pwrite`), never "the current position". One call writes at most
    /// 2 GiB - 4 KiB (`MAX_RW_COUNT`); `write_all_at` loops.
    ///
    /// # Cancellation
    /// A checkpoint; `Cancelled` means nothing was written.
    ///
    /// ```
    /// use quartet_runtime::fs::{File, OpenOptions};
    /// # quartet_runtime::run(async {
    /// let path = std::env::temp_dir().join(format!("quartet-doc-write-at-{}", std::process::id()));
    /// let f = File::create(&path).await?;
    /// let (n, _) = f.write_at("abc", 0).await;
    /// assert_eq!(n?, 3); // may be short for some files: write_all_at writes everything
    /// # std::fs::remove_file(&path).ok();
    /// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
    /// ```
    pub fn write_at<B: IoBuf>(
        &self,
        buf: B,
        pos: u64,
    ) -> impl std::future::Future<Output = (Result<usize, OpError>, B)> {
        crate::fused::once_pending(async move {
            if let Err(e) = check_position(pos) {
                return (Err(e.into()), buf);
            }
            let (res, data) = Op::new(ops::WriteAt { fd: self.fd.clone(), buf, pos, off: 0 }).await;
            (res.map(|n| n as usize), data.buf)
        })
    }

    /// Writes all of `buf` at `pos` (see [`TcpStream::send_all`](crate::net::TcpStream::send_all)
    /// for what a cancel after partial progress returns).
    ///
    /// ```
    /// use quartet_runtime::fs::{File, OpenOptions};
    /// # quartet_runtime::run(async {
    /// let path = std::env::temp_dir().join(format!("quartet-doc-write-all-at-{}", std::process::id()));
    /// let f = File::create(&path).await?;
    /// let (r, buf) = f.write_all_at(vec![b'x'; 10_000], 0).await;
    /// r?;
    /// assert_eq!(f.metadata().await?.len(), buf.len() as u64);
    /// # std::fs::remove_file(&path).ok();
    /// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
    /// ```
    pub fn write_all_at<B: IoBuf>(
        &self,
        buf: B,
        pos: u64,
    ) -> impl std::future::Future<Output = (Result<(), OpError>, B)> {
        crate::fused::once_pending(async move {
            if let Err(e) = check_position(pos) {
                return (Err(e.into()), buf);
            }
            let total = buf.bytes_init();
            let mut done = 0usize;
            // The op data (inline, no allocation) is resubmitted with its cursor moved on after a
            // short write (rare for regular files): the rest is written from the caller's buffer.
            let mut data = ops::WriteAt { fd: self.fd.clone(), buf, pos, off: 0 };
            while done < total {
                if done > 0 {
                    match pos.checked_add(done as u64).ok_or_else(past_end).and_then(check_position) {
                        Ok(at) => (data.pos, data.off) = (at, done),
                        Err(e) => return (Err(partial(e.into(), done, total)), data.buf),
                    }
                }
                let (res, d) = Op::new(data).await;
                data = d;
                match res {
                    Ok(0) => return (Err(io::Error::from(io::ErrorKind::WriteZero).into()), data.buf),
                    Ok(n) => done += n as usize,
                    Err(e) if done > 0 => return (Err(partial(e, done, total)), data.buf),
                    Err(e) => return (Err(e), data.buf),
                }
            }
            (Ok(()), data.buf)
        })
    }

    /// Flushes data and metadata to storage (`fsync`).
    ///
    /// # Cancellation
    /// A checkpoint; `Cancelled` means the flush was not started (data already written stays
    /// written, it is just not known to be on storage).
    ///
    /// # Examples
    /// ```no_run
    /// # quartet_runtime::run(async {
    /// let f = quartet_runtime::fs::File::create("/tmp/journal").await?;
    /// f.write_all_at(b"entry\n".to_vec(), 0).await.0?;
    /// f.sync_all().await?;
    /// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
    /// ```
    pub fn sync_all(&self) -> impl std::future::Future<Output = Result<(), OpError>> {
        crate::fused::once(
            async move { Op::new(ops::Fsync { fd: self.fd.clone(), datasync: false }).await.0.map(drop) },
        )
    }

    /// Flushes data, and only the metadata needed to read it back, to storage (`fdatasync`).
    ///
    /// # Cancellation
    /// A checkpoint; `Cancelled` means the flush was not started.
    ///
    /// # Examples
    /// ```no_run
    /// # quartet_runtime::run(async {
    /// let f = quartet_runtime::fs::File::create("/tmp/journal").await?;
    /// f.sync_data().await?;
    /// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
    /// ```
    pub fn sync_data(&self) -> impl std::future::Future<Output = Result<(), OpError>> {
        crate::fused::once(async move { Op::new(ops::Fsync { fd: self.fd.clone(), datasync: true }).await.0.map(drop) })
    }

    /// File metadata via `statx`.
    ///
    /// # Cancellation
    /// A checkpoint; `Cancelled` means nothing was read.
    ///
    /// # Examples
    /// ```no_run
    /// # quartet_runtime::run(async {
    /// let f = quartet_runtime::fs::File::open("/etc/hostname").await?;
    /// println!("{} bytes", f.metadata().await?.len());
    /// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
    /// ```
    pub fn metadata(&self) -> impl std::future::Future<Output = Result<Metadata, OpError>> {
        crate::fused::once(async move {
            let (res, data) = Op::new(ops::Statx::of_fd(self.fd.clone())).await;
            res?;
            Ok(Metadata::from_statx(&data.out))
        })
    }

    /// Allocates storage for the byte range `offset..offset + len` (`fallocate` with mode 0): the
    /// file grows to cover it if needed, and later writes there cannot fail for lack of space.
    ///
    /// # Cancellation
    /// A checkpoint; `Cancelled` means nothing was allocated.
    ///
    /// # Examples
    /// ```no_run
    /// # quartet_runtime::run(async {
    /// let f = quartet_runtime::fs::File::create("/tmp/big").await?;
    /// f.fallocate(0, 1 << 20).await?;
    /// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
    /// ```
    pub fn fallocate(&self, offset: u64, len: u64) -> impl std::future::Future<Output = Result<(), OpError>> {
        crate::fused::once(async move {
            if ring_has(io_uring::opcode::Fallocate::CODE) {
                return Op::new(ops::Fallocate { fd: self.fd.clone(), mode: 0, offset, len }).await.0.map(drop);
            }
            let (fd, off, len) = (self.dup()?, to_off(offset)?, to_off(len)?);
            // SAFETY: plain syscall on the job's own duplicate of the fd.
            blocking(move || cvt(unsafe { libc::fallocate(fd.as_raw_fd(), 0, off, len) })).await
        })
    }

    /// A duplicate of the fd for a worker job: the job owns it, so an abandoned job can never act
    /// on a reused fd number after this file is closed (H5).
    fn dup(&self) -> Result<OwnedFd, OpError> {
        // SAFETY: `self.fd` is open for as long as `self` lives, which covers this call.
        let fd = unsafe { BorrowedFd::borrow_raw(self.fd.raw()) };
        Ok(fd.try_clone_to_owned()?)
    }

    /// Truncates or extends the file to `len` bytes (`ftruncate`; a ring op on Linux 6.9+, a
    /// worker-thread syscall before). Extending fills with zeros.
    ///
    /// # Cancellation
    /// A checkpoint; `Cancelled` means the length did not change.
    ///
    /// # Examples
    /// ```no_run
    /// # quartet_runtime::run(async {
    /// let f = quartet_runtime::fs::OpenOptions::new().write(true).open("/tmp/log").await?;
    /// f.set_len(0).await?;
    /// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
    /// ```
    #[doc(alias = "truncate")]
    #[doc(alias = "ftruncate")]
    pub fn set_len(&self, len: u64) -> impl std::future::Future<Output = Result<(), OpError>> {
        crate::fused::once(async move {
            if ring_has(io_uring::opcode::Ftruncate::CODE) {
                return Op::new(ops::Ftruncate { fd: self.fd.clone(), len }).await.0.map(drop);
            }
            let (fd, len) = (self.dup()?, to_off(len)?);
            // SAFETY: plain syscall on the job's own duplicate of the fd.
            blocking(move || cvt(unsafe { libc::ftruncate(fd.as_raw_fd(), len) })).await
        })
    }

    /// Closes the file through the ring and reports the result. Not a cancellation point.
    ///
    /// ```
    /// use quartet_runtime::fs::{File, OpenOptions};
    /// # quartet_runtime::run(async {
    /// let path = std::env::temp_dir().join(format!("quartet-doc-close-{}", std::process::id()));
    /// let f = File::create(&path).await?;
    /// f.close().await?; // reports the close(2) result, which a drop cannot
    /// # std::fs::remove_file(&path).ok();
    /// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
    /// ```
    pub fn close(self) -> impl std::future::Future<Output = Result<(), OpError>> {
        crate::fused::once(async move { self.fd.close().await })
    }
}

/// A file position the kernel can take: at most `i64::MAX`. io_uring reads an offset of -1
/// (`u64::MAX`) as "the current file position", so without this check a bad offset would silently
/// read or write somewhere else; `pread`/`pwrite` refuse it with `EINVAL`, and so do we.
fn check_position(pos: u64) -> io::Result<u64> {
    if i64::try_from(pos).is_ok() { Ok(pos) } else { Err(past_end()) }
}

fn past_end() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "file position above i64::MAX")
}

fn to_off(n: u64) -> Result<libc::off_t, OpError> {
    libc::off_t::try_from(n)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "offset or length too large").into())
}

fn cvt(rc: libc::c_int) -> io::Result<()> {
    if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

fn partial(e: OpError, done: usize, total: usize) -> OpError {
    match e {
        OpError::Cancelled(c) => PartialWrite::new("write_all_at", done, total, c).into(),
        e => e,
    }
}

impl AsRawFd for File {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.raw()
    }
}
