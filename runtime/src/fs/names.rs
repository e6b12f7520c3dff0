//! Operations on names: remove, rename, link, stat, resolve, chmod.
//!
//! Each one is one ring op when the kernel has the opcode, else one syscall on a worker thread
//! (see [`crate::fallback`]); either way it is a checkpoint, and `Cancelled` means it did nothing.

use super::cstring;
use super::metadata::Metadata;
use super::ops::Statx;
use super::path_ops::{Link, Rename, Symlink, Unlink};
use crate::error::OpError;
use crate::fallback::{blocking, ring_has};
use crate::op::Op;
use io_uring::opcode;
use std::fs::Permissions;
use std::path::{Path, PathBuf};

/// Removes a file or symbolic link (`unlinkat`). Errors with `NotFound` if it does not exist,
/// `IsADirectory` for a directory (use [`remove_dir`](super::remove_dir)).
///
/// # Cancellation
/// A checkpoint; `Cancelled` means the file was not removed.
///
/// # Examples
/// ```no_run
/// # quartet_runtime::run(async {
/// quartet_runtime::fs::remove_file("/tmp/old.log").await?;
/// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
/// ```
pub fn remove_file(path: impl AsRef<Path>) -> impl std::future::Future<Output = Result<(), OpError>> {
    crate::fused::once(async move { unlink(path.as_ref(), 0).await })
}

/// `unlinkat(AT_FDCWD, path, flags)` on the ring, or on a worker thread.
pub(super) async fn unlink(path: &Path, flags: libc::c_int) -> Result<(), OpError> {
    if ring_has(opcode::UnlinkAt::CODE) {
        return Op::new(Unlink { path: cstring(path)?, flags }).await.0.map(drop);
    }
    let path = path.to_owned();
    if flags & libc::AT_REMOVEDIR != 0 {
        blocking(move || std::fs::remove_dir(path)).await
    } else {
        blocking(move || std::fs::remove_file(path)).await
    }
}

/// Renames `from` to `to` (`renameat`), replacing `to` if it exists (a file by a file, an empty
/// directory by a directory).
///
/// # Cancellation
/// A checkpoint; `Cancelled` means nothing was renamed.
///
/// # Examples
/// ```no_run
/// # quartet_runtime::run(async {
/// quartet_runtime::fs::rename("/tmp/report.tmp", "/tmp/report.txt").await?;
/// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
/// ```
pub fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> impl std::future::Future<Output = Result<(), OpError>> {
    crate::fused::once(async move {
        let (from, to) = (from.as_ref(), to.as_ref());
        if ring_has(opcode::RenameAt::CODE) {
            return Op::new(Rename { from: cstring(from)?, to: cstring(to)? }).await.0.map(drop);
        }
        let (from, to) = (from.to_owned(), to.to_owned());
        blocking(move || std::fs::rename(from, to)).await
    })
}

/// Creates `link` as a new hard link to the file `original` (`linkat`). `AlreadyExists` if `link`
/// exists.
///
/// # Cancellation
/// A checkpoint; `Cancelled` means no link was made.
///
/// # Examples
/// ```no_run
/// # quartet_runtime::run(async {
/// quartet_runtime::fs::hard_link("/tmp/a.txt", "/tmp/also-a.txt").await?;
/// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
/// ```
pub fn hard_link(
    original: impl AsRef<Path>,
    link: impl AsRef<Path>,
) -> impl std::future::Future<Output = Result<(), OpError>> {
    crate::fused::once(async move {
        let (original, link) = (original.as_ref(), link.as_ref());
        if ring_has(opcode::LinkAt::CODE) {
            return Op::new(Link { original: cstring(original)?, link: cstring(link)? }).await.0.map(drop);
        }
        let (original, link) = (original.to_owned(), link.to_owned());
        blocking(move || std::fs::hard_link(original, link)).await
    })
}

/// Creates `link` as a symbolic link whose content is `target` (`symlinkat`). `target` is stored
/// as given: a relative target is resolved relative to the link's directory when followed.
///
/// # Cancellation
/// A checkpoint; `Cancelled` means no link was made.
///
/// # Examples
/// ```no_run
/// # quartet_runtime::run(async {
/// quartet_runtime::fs::symlink("releases/v2", "/srv/app/current").await?;
/// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
/// ```
pub fn symlink(
    target: impl AsRef<Path>,
    link: impl AsRef<Path>,
) -> impl std::future::Future<Output = Result<(), OpError>> {
    crate::fused::once(async move {
        let (target, link) = (target.as_ref(), link.as_ref());
        if ring_has(opcode::SymlinkAt::CODE) {
            return Op::new(Symlink { target: cstring(target)?, link: cstring(link)? }).await.0.map(drop);
        }
        let (target, link) = (target.to_owned(), link.to_owned());
        blocking(move || std::os::unix::fs::symlink(target, link)).await
    })
}

/// Metadata of the file at `path`, following symbolic links (`statx`).
///
/// # Cancellation
/// A checkpoint; `Cancelled` means nothing was read (and nothing changed either way).
///
/// # Examples
/// ```no_run
/// # quartet_runtime::run(async {
/// let m = quartet_runtime::fs::metadata("/etc/hostname").await?;
/// assert!(m.is_file());
/// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
/// ```
pub fn metadata(path: impl AsRef<Path>) -> impl std::future::Future<Output = Result<Metadata, OpError>> {
    crate::fused::once(async move { stat(path.as_ref(), true).await })
}

/// Metadata of `path` itself: a symbolic link is described, not followed (`statx` with
/// `AT_SYMLINK_NOFOLLOW`).
///
/// # Cancellation
/// A checkpoint; `Cancelled` means nothing was read.
///
/// # Examples
/// ```no_run
/// # quartet_runtime::run(async {
/// let m = quartet_runtime::fs::symlink_metadata("/srv/app/current").await?;
/// println!("a link: {}", m.is_symlink());
/// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
/// ```
pub fn symlink_metadata(path: impl AsRef<Path>) -> impl std::future::Future<Output = Result<Metadata, OpError>> {
    crate::fused::once(async move { stat(path.as_ref(), false).await })
}

async fn stat(path: &Path, follow: bool) -> Result<Metadata, OpError> {
    let (res, data) = Op::new(Statx::of_path(cstring(path)?, follow)).await;
    res?;
    Ok(Metadata::from_statx(&data.out))
}

/// The absolute path with every symbolic link, `.` and `..` resolved (`realpath`, on a worker
/// thread: io_uring has no opcode for it).
///
/// # Cancellation
/// A checkpoint; `Cancelled` means the worker job never started.
///
/// # Examples
/// ```no_run
/// # quartet_runtime::run(async {
/// let real = quartet_runtime::fs::canonicalize("/etc/../etc/./hostname").await?;
/// assert_eq!(real, std::path::Path::new("/etc/hostname"));
/// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
/// ```
pub fn canonicalize(path: impl AsRef<Path>) -> impl std::future::Future<Output = Result<PathBuf, OpError>> {
    crate::fused::once(async move {
        let path = path.as_ref().to_owned();
        blocking(move || std::fs::canonicalize(path)).await
    })
}

/// Sets the permission bits of `path`, following symbolic links (`chmod`, on a worker thread:
/// io_uring has no opcode for it).
///
/// # Cancellation
/// A checkpoint; `Cancelled` means the permissions were not changed.
///
/// # Examples
/// ```no_run
/// use std::{fs::Permissions, os::unix::fs::PermissionsExt};
/// # quartet_runtime::run(async {
/// quartet_runtime::fs::set_permissions("/tmp/script.sh", Permissions::from_mode(0o755)).await?;
/// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
/// ```
pub fn set_permissions(
    path: impl AsRef<Path>,
    perm: Permissions,
) -> impl std::future::Future<Output = Result<(), OpError>> {
    crate::fused::once(async move {
        let path = path.as_ref().to_owned();
        blocking(move || std::fs::set_permissions(path, perm)).await
    })
}
