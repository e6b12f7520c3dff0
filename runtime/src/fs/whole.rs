//! Whole-file conveniences: [`read`] and [`write`].

use super::file::File;
use super::ops::WriteAt;
use crate::buf::IoBuf;
use crate::error::OpError;
use crate::op::Op;
use std::io;
use std::path::Path;

/// Reads the whole file at `path` (open, `statx` for a size hint, reads until end of file, close;
/// all on the ring).
///
/// # Cancellation
/// A checkpoint at every step. Reading has no effect to undo, so a cancel stops at the step it
/// reaches: the file is closed and `Cancelled` returned.
///
/// # Examples
/// ```no_run
/// # quartet_runtime::run(async {
/// let bytes = quartet_runtime::fs::read("/etc/hostname").await?;
/// println!("{}", String::from_utf8_lossy(&bytes));
/// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
/// ```
pub fn read(path: impl AsRef<Path>) -> impl std::future::Future<Output = Result<Vec<u8>, OpError>> {
    crate::fused::once(async move {
        let file = File::open(path).await?;
        let data = read_to_end(&file).await;
        let closed = file.close().await;
        let data = data?;
        closed?;
        Ok(data)
    })
}

async fn read_to_end(file: &File) -> Result<Vec<u8>, OpError> {
    // Files in /proc report size 0: the hint is only a starting capacity.
    let hint = usize::try_from(file.metadata().await?.len()).unwrap_or(0).min(1 << 30);
    let mut buf = Vec::with_capacity(hint + 1);
    loop {
        if buf.len() == buf.capacity() {
            buf.reserve(buf.len().max(8 * 1024));
        }
        let pos = buf.len() as u64;
        let (n, b) = file.read_at(buf, pos).await;
        buf = b;
        if n? == 0 {
            return Ok(buf);
        }
    }
}

/// Writes `contents` as the whole content of the file at `path`, creating it (mode 0o666 less the
/// umask) or truncating it first, like `std::fs::write`.
///
/// # Cancellation
/// A checkpoint that commits: `Cancelled` means the file was neither created nor truncated. Once
/// the open has succeeded (and truncated the file), all of `contents` is written without
/// interruption and the result reported, so a cancel never leaves a half-written file behind while
/// claiming nothing happened. Do not use it on a FIFO whose reader may stop reading.
///
/// # Examples
/// ```no_run
/// # quartet_runtime::run(async {
/// quartet_runtime::fs::write("/tmp/greeting.txt", "hello\n").await?;
/// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
/// ```
pub fn write(path: impl AsRef<Path>, contents: impl IoBuf) -> impl std::future::Future<Output = Result<(), OpError>> {
    crate::fused::once(async move {
        let file = File::create(path).await?;
        let written = write_all_committed(&file, contents).await;
        let closed = file.close().await;
        written?;
        closed
    })
}

/// Writes all of `buf` from offset 0, ignoring cancel scopes.
async fn write_all_committed<B: IoBuf>(file: &File, buf: B) -> Result<(), OpError> {
    let total = buf.bytes_init();
    if total == 0 {
        return Ok(());
    }
    // A short write (rare for regular files) resubmits the same data with its cursor moved on.
    let mut data = WriteAt { fd: file.fd.clone(), buf, pos: 0, off: 0 };
    while data.off < total {
        let (res, d) = Op::uncancellable(data).await;
        data = d;
        let n = res? as usize;
        if n == 0 {
            return Err(io::Error::from(io::ErrorKind::WriteZero).into());
        }
        data.off += n;
        data.pos += n as u64;
    }
    Ok(())
}
