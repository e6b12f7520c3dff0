//! [`FileCursor`]: a file read and written sequentially from a position, so the buffered
//! helpers, `copy` and the adapters work on files too (quartet's `File` is positional).

use quartet_runtime::fs::File;
use quartet_runtime::io::{OwnedRead, OwnedWrite};
use quartet_runtime::{IoBuf, IoBufMut, OpError};
use std::cell::Cell;
use std::io;

/// A [`File`] with a current position: each read or write happens at the position and moves it
/// past the bytes transferred. One operation at a time: a second one started while another is in
/// flight fails with `ResourceBusy` (two reads at one position would return the same bytes).
///
/// # Examples
/// ```no_run
/// use quartet_io::{BufReader, FileCursor};
/// # async fn f() -> Result<(), quartet_runtime::OpError> {
/// let file = quartet_runtime::fs::File::open("/etc/passwd").await?;
/// let mut lines = BufReader::new(FileCursor::new(file)).lines();
/// while let Some(line) = lines.next_line().await {
///     println!("{}", line?);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct FileCursor {
    file: File,
    pos: Cell<u64>,
    busy: Cell<bool>,
}

impl FileCursor {
    /// A cursor at the start of `file`.
    pub fn new(file: File) -> FileCursor {
        Self::at(file, 0)
    }

    /// A cursor at `pos`.
    pub fn at(file: File, pos: u64) -> FileCursor {
        FileCursor { file, pos: Cell::new(pos), busy: Cell::new(false) }
    }

    /// The current position.
    pub fn position(&self) -> u64 {
        self.pos.get()
    }

    /// The file.
    pub fn get_ref(&self) -> &File {
        &self.file
    }

    /// The file back.
    pub fn into_inner(self) -> File {
        self.file
    }

    fn claim(&self) -> Result<Busy<'_>, OpError> {
        if self.busy.replace(true) {
            let e = io::Error::new(io::ErrorKind::ResourceBusy, "FileCursor used by two operations at once");
            return Err(e.into());
        }
        Ok(Busy(&self.busy))
    }
}

/// Clears the busy flag when the operation ends or its future is dropped.
struct Busy<'a>(&'a Cell<bool>);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

impl OwnedRead for FileCursor {
    /// Reads at the position and advances it.
    ///
    /// # Cancellation
    /// A checkpoint; `Cancelled` means nothing was read and the position is unchanged.
    async fn read<B: IoBufMut>(&self, buf: B) -> (Result<usize, OpError>, B) {
        let _busy = match self.claim() {
            Ok(b) => b,
            Err(e) => return (Err(e), buf),
        };
        let pos = self.pos.get();
        let (res, buf) = self.file.read_at(buf, pos).await;
        if let Ok(n) = res {
            self.pos.set(pos + n as u64);
        }
        (res, buf)
    }
}

impl OwnedWrite for FileCursor {
    /// Writes at the position and advances it.
    ///
    /// # Cancellation
    /// A checkpoint; `Cancelled` means nothing was written and the position is unchanged.
    async fn write<B: IoBuf>(&self, buf: B) -> (Result<usize, OpError>, B) {
        let _busy = match self.claim() {
            Ok(b) => b,
            Err(e) => return (Err(e), buf),
        };
        let pos = self.pos.get();
        let (res, buf) = self.file.write_at(buf, pos).await;
        if let Ok(n) = res {
            self.pos.set(pos + n as u64);
        }
        (res, buf)
    }
}
