//! Files and directories over the ring.
//!
//! Everything the kernel can do on io_uring goes through it: opening, reading and writing files,
//! `statx`, `fsync`, `fallocate`, `ftruncate` (6.9+), and the path operations (`mkdirat`,
//! `unlinkat`, `renameat`, `linkat`, `symlinkat`). The runtime probes these opcodes at startup; one
//! the kernel lacks runs its plain syscall on a worker thread instead, with the same behaviour.
//! What io_uring cannot do at all runs on a worker thread: listing a directory ([`read_dir`], a
//! [`Stream`](futures_core::Stream)), [`canonicalize`], [`set_permissions`], and the recursive
//! [`remove_dir_all`] (std's symlink-race-safe implementation).
//!
//! # Cancellation
//! Every function is a checkpoint. A single-step operation that returns `Cancelled` did nothing
//! (the ring's cancel protocol, or a worker job that never started). The multi-step conveniences
//! keep that promise by committing: once their first step has changed the filesystem
//! ([`write`](fn@write) opened and truncated the file, [`create_dir_all`] made its first directory), the
//! remaining steps are not interrupted and the call returns their result. [`read`] has no effect
//! to undo and stops at the first cancelled step.
//!
//! # Examples
//! ```no_run
//! use quartet_runtime::fs;
//! # quartet_runtime::run(async {
//! fs::create_dir_all("/tmp/quartet-demo/a/b").await?;
//! fs::write("/tmp/quartet-demo/a/b/hello.txt", b"hello".to_vec()).await?;
//! assert_eq!(fs::read("/tmp/quartet-demo/a/b/hello.txt").await?, b"hello");
//! fs::remove_dir_all("/tmp/quartet-demo").await?;
//! # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
//! ```

mod dir;
mod file;
mod metadata;
mod names;
mod open_options;
pub(crate) mod ops;
mod path_ops;
mod whole;

pub use dir::{DirEntry, ReadDir, create_dir, create_dir_all, read_dir, remove_dir, remove_dir_all};
pub use file::File;
pub use metadata::{FileType, Metadata};
pub use names::{canonicalize, hard_link, metadata, remove_file, rename, set_permissions, symlink, symlink_metadata};
pub use open_options::OpenOptions;
pub use whole::{read, write};

use crate::error::OpError;
use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// `path` as a C string, or `InvalidInput` if it contains a NUL byte.
pub(crate) fn cstring(path: &Path) -> Result<CString, OpError> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte").into())
}
