//! `OpenOptions`: the flags and mode an open is made with, checked before the ring sees them.

use super::file::File;
use super::{cstring, ops};
use crate::error::OpError;
use crate::fd::SharedFd;
use crate::op::Op;
use std::io;
use std::os::fd::RawFd;
use std::path::Path;

/// How to open a file, like `std::fs::OpenOptions`.
///
/// # Examples
/// ```
/// use quartet_runtime::fs::{File, OpenOptions};
/// # quartet_runtime::run(async {
/// let path = std::env::temp_dir().join(format!("quartet-doc-oo-{}", std::process::id()));
/// let log = OpenOptions::new().append(true).create(true).mode(0o600).open(&path).await?;
/// let (r, _) = log.write_all_at("started\n", 0).await; // O_APPEND: the position is ignored
/// r?;
/// log.close().await?;
/// # std::fs::remove_file(&path).ok();
/// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct OpenOptions {
    read: bool,
    write: bool,
    append: bool,
    truncate: bool,
    create: bool,
    create_new: bool,
    mode: u32,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl OpenOptions {
    /// All options off, mode 0o666.
    ///
    /// ```
    /// let mut opts = quartet_runtime::fs::OpenOptions::new();
    /// opts.read(true);
    /// ```
    pub fn new() -> Self {
        OpenOptions {
            read: false,
            write: false,
            append: false,
            truncate: false,
            create: false,
            create_new: false,
            mode: 0o666,
        }
    }
    /// Open for reading.
    ///
    /// ```
    /// use quartet_runtime::fs::{File, OpenOptions};
    /// # quartet_runtime::run(async {
    /// let path = std::env::temp_dir().join(format!("quartet-doc-read-{}", std::process::id()));
    /// std::fs::write(&path, "data")?;
    /// let f = OpenOptions::new().read(true).open(&path).await?;
    /// # let _ = f;
    /// # std::fs::remove_file(&path).ok();
    /// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
    /// ```
    pub fn read(&mut self, on: bool) -> &mut Self {
        self.read = on;
        self
    }
    /// Open for writing.
    ///
    /// ```
    /// use quartet_runtime::fs::{File, OpenOptions};
    /// # quartet_runtime::run(async {
    /// let path = std::env::temp_dir().join(format!("quartet-doc-write-{}", std::process::id()));
    /// std::fs::write(&path, "xxxx")?;
    /// let f = OpenOptions::new().write(true).open(&path).await?; // no truncation: overwrite in place
    /// let (r, _) = f.write_all_at("ab", 1).await;
    /// r?;
    /// assert_eq!(std::fs::read(&path)?, b"xabx");
    /// # std::fs::remove_file(&path).ok();
    /// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
    /// ```
    pub fn write(&mut self, on: bool) -> &mut Self {
        self.write = on;
        self
    }
    /// Append on every write.
    ///
    /// ```
    /// use quartet_runtime::fs::{File, OpenOptions};
    /// # quartet_runtime::run(async {
    /// let path = std::env::temp_dir().join(format!("quartet-doc-append-{}", std::process::id()));
    /// std::fs::write(&path, "a")?;
    /// let f = OpenOptions::new().append(true).open(&path).await?;
    /// let (r, _) = f.write_all_at("b", 0).await;
    /// r?;
    /// assert_eq!(std::fs::read(&path)?, b"ab");
    /// # std::fs::remove_file(&path).ok();
    /// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
    /// ```
    pub fn append(&mut self, on: bool) -> &mut Self {
        self.append = on;
        self
    }
    /// Truncate to zero length.
    ///
    /// ```
    /// use quartet_runtime::fs::{File, OpenOptions};
    /// # quartet_runtime::run(async {
    /// let path = std::env::temp_dir().join(format!("quartet-doc-trunc-{}", std::process::id()));
    /// std::fs::write(&path, "old contents")?;
    /// let f = OpenOptions::new().write(true).truncate(true).open(&path).await?;
    /// assert_eq!(f.metadata().await?.len(), 0);
    /// # std::fs::remove_file(&path).ok();
    /// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
    /// ```
    pub fn truncate(&mut self, on: bool) -> &mut Self {
        self.truncate = on;
        self
    }
    /// Create if missing.
    ///
    /// ```
    /// use quartet_runtime::fs::{File, OpenOptions};
    /// # quartet_runtime::run(async {
    /// let path = std::env::temp_dir().join(format!("quartet-doc-create-{}", std::process::id()));
    /// let f = OpenOptions::new().write(true).create(true).open(&path).await?;
    /// assert!(f.metadata().await?.is_file());
    /// # std::fs::remove_file(&path).ok();
    /// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
    /// ```
    pub fn create(&mut self, on: bool) -> &mut Self {
        self.create = on;
        self
    }
    /// Create, failing if it exists.
    ///
    /// ```
    /// use quartet_runtime::fs::{File, OpenOptions};
    /// # quartet_runtime::run(async {
    /// let path = std::env::temp_dir().join(format!("quartet-doc-create-new-{}", std::process::id()));
    /// OpenOptions::new().write(true).create_new(true).open(&path).await?;
    /// let again = OpenOptions::new().write(true).create_new(true).open(&path).await;
    /// assert!(again.is_err()); // it exists now
    /// # std::fs::remove_file(&path).ok();
    /// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
    /// ```
    pub fn create_new(&mut self, on: bool) -> &mut Self {
        self.create_new = on;
        self
    }
    /// Permission bits for a created file.
    ///
    /// ```
    /// use quartet_runtime::fs::{File, OpenOptions};
    /// # quartet_runtime::run(async {
    /// let path = std::env::temp_dir().join(format!("quartet-doc-mode-{}", std::process::id()));
    /// let f = OpenOptions::new().write(true).create(true).mode(0o600).open(&path).await?;
    /// assert_eq!(f.metadata().await?.mode() & 0o077, 0); // private to the owner
    /// # std::fs::remove_file(&path).ok();
    /// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
    /// ```
    pub fn mode(&mut self, mode: u32) -> &mut Self {
        self.mode = mode;
        self
    }

    fn flags(&self) -> io::Result<libc::c_int> {
        let acc = match (self.read, self.write || self.append) {
            (true, false) => libc::O_RDONLY,
            (false, true) => libc::O_WRONLY,
            (true, true) => libc::O_RDWR,
            (false, false) => {
                return Err(io::Error::new(io::ErrorKind::InvalidInput, "open needs read, write or append"));
            }
        };
        let mut f = acc;
        if self.append {
            f |= libc::O_APPEND;
        }
        if self.truncate {
            f |= libc::O_TRUNC;
        }
        if self.create_new {
            f |= libc::O_CREAT | libc::O_EXCL;
        } else if self.create {
            f |= libc::O_CREAT;
        }
        Ok(f)
    }

    /// Opens `path`.
    ///
    /// # Cancellation
    /// A checkpoint. If it returns `Cancelled`, no file was opened (or created); a file the kernel
    /// opened as the cancel raced it is returned; if the future is dropped, it is closed.
    ///
    /// # Errors
    /// The kernel's error (`NotFound`, `PermissionDenied`, ...), or `InvalidInput` if no access
    /// mode was chosen or the path contains a NUL byte.
    ///
    /// ```
    /// use quartet_runtime::fs::{File, OpenOptions};
    /// # quartet_runtime::run(async {
    /// let path = std::env::temp_dir().join(format!("quartet-doc-open-{}", std::process::id()));
    /// let f = OpenOptions::new().read(true).write(true).create(true).open(&path).await?;
    /// let (r, _) = f.write_all_at("hello", 0).await;
    /// r?;
    /// let (n, buf) = f.read_at(Vec::with_capacity(16), 0).await;
    /// assert_eq!(&buf[..n?], b"hello");
    /// # std::fs::remove_file(&path).ok();
    /// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
    /// ```
    pub fn open(&self, path: impl AsRef<Path>) -> impl std::future::Future<Output = Result<File, OpError>> {
        crate::fused::once(async move {
            let path = cstring(path.as_ref())?;
            let (res, _) = Op::new(ops::Open { path, flags: self.flags()?, mode: self.mode }).await;
            Ok(File { fd: SharedFd::new(res? as RawFd) })
        })
    }
}
