//! Directories: create (one level or all), remove (empty or recursive), list as a stream.

use super::cstring;
use super::metadata::{FileType, Metadata};
use super::names::unlink;
use super::ops::Statx;
use super::path_ops::MkDir;
use crate::error::{Cancelled, OpError};
use crate::fallback::{blocking, ring_has};
use crate::op::Op;
use futures_core::Stream;
use io_uring::opcode;
use std::collections::VecDeque;
use std::ffi::OsString;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

/// Creates the directory `path` (`mkdirat`, mode 0o777 less the umask). `AlreadyExists` if
/// something exists there, `NotFound` if its parent does not.
///
/// # Cancellation
/// A checkpoint; `Cancelled` means no directory was created.
///
/// # Examples
/// ```no_run
/// # quartet_runtime::run(async {
/// quartet_runtime::fs::create_dir("/tmp/quartet-scratch").await?;
/// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
/// ```
pub fn create_dir(path: impl AsRef<Path>) -> impl std::future::Future<Output = Result<(), OpError>> {
    crate::fused::once(async move {
        let path = path.as_ref();
        if ring_has(opcode::MkDirAt::CODE) {
            return Op::new(MkDir { path: cstring(path)?, mode: 0o777 }).await.0.map(drop);
        }
        let path = path.to_owned();
        blocking(move || std::fs::create_dir(path)).await
    })
}

/// Creates `path` and every missing parent. Succeeds if `path` already is a directory.
///
/// # Cancellation
/// A checkpoint that commits: `Cancelled` means no directory was created. Once the first
/// directory exists the remaining ones are made without interruption (a few metadata ops), so a
/// cancel never leaves half a chain behind while reporting that nothing happened.
///
/// # Examples
/// ```no_run
/// # quartet_runtime::run(async {
/// quartet_runtime::fs::create_dir_all("/tmp/quartet-scratch/a/b/c").await?;
/// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
/// ```
pub fn create_dir_all(path: impl AsRef<Path>) -> impl std::future::Future<Output = Result<(), OpError>> {
    crate::fused::once(async move {
        let path = path.as_ref();
        if !ring_has(opcode::MkDirAt::CODE) {
            // One worker job: it either never starts (Cancelled) or runs to the end.
            let path = path.to_owned();
            return blocking(move || std::fs::create_dir_all(path)).await;
        }
        // Walk up until a directory exists or can be made, then make the rest on the way down.
        let mut missing = Vec::new();
        let mut committed = false;
        let mut cur = Some(path);
        while let Some(dir) = cur.filter(|d| !d.as_os_str().is_empty()) {
            match mkdir_once(dir, committed).await {
                Ok(()) => {
                    committed = true;
                    break;
                }
                Err(e) if kind(&e) == Some(io::ErrorKind::NotFound) => {
                    missing.push(dir);
                    cur = dir.parent();
                }
                Err(e) if kind(&e) == Some(io::ErrorKind::AlreadyExists) => {
                    if exists_as_dir(dir, committed).await? {
                        break;
                    }
                    return Err(e);
                }
                Err(e) => return Err(e),
            }
        }
        for dir in missing.into_iter().rev() {
            match mkdir_once(dir, committed).await {
                Ok(()) => committed = true,
                // Made concurrently by someone else: fine if it is a directory.
                Err(e) if kind(&e) == Some(io::ErrorKind::AlreadyExists) && exists_as_dir(dir, committed).await? => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    })
}

fn kind(e: &OpError) -> Option<io::ErrorKind> {
    e.as_io().map(io::Error::kind)
}

/// One `mkdirat`; after the chain has committed it ignores cancellation.
async fn mkdir_once(dir: &Path, committed: bool) -> Result<(), OpError> {
    let data = MkDir { path: cstring(dir)?, mode: 0o777 };
    let op = if committed { Op::uncancellable(data) } else { Op::new(data) };
    op.await.0.map(drop)
}

async fn exists_as_dir(dir: &Path, committed: bool) -> Result<bool, OpError> {
    let data = Statx::of_path(cstring(dir)?, true);
    let (res, data) = if committed { Op::uncancellable(data).await } else { Op::new(data).await };
    res?;
    Ok(Metadata::from_statx(&data.out).is_dir())
}

/// Removes the empty directory `path` (`unlinkat` with `AT_REMOVEDIR`). `DirectoryNotEmpty` if
/// it has entries.
///
/// # Cancellation
/// A checkpoint; `Cancelled` means the directory was not removed.
///
/// # Examples
/// ```no_run
/// # quartet_runtime::run(async {
/// quartet_runtime::fs::remove_dir("/tmp/quartet-scratch").await?;
/// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
/// ```
pub fn remove_dir(path: impl AsRef<Path>) -> impl std::future::Future<Output = Result<(), OpError>> {
    crate::fused::once(async move { unlink(path.as_ref(), libc::AT_REMOVEDIR).await })
}

/// Removes `path` and everything under it, without following symbolic links. Runs std's
/// implementation on a worker thread: it walks with `openat`/`unlinkat` relative to directory fds,
/// which is safe against a concurrent swap of a directory for a symlink (CVE-2022-21658), and one
/// job keeps the cancellation promise below.
///
/// # Cancellation
/// A checkpoint; `Cancelled` means nothing was removed. Once the job has started it runs to its end.
///
/// # Examples
/// ```no_run
/// # quartet_runtime::run(async {
/// quartet_runtime::fs::remove_dir_all("/tmp/quartet-scratch").await?;
/// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
/// ```
pub fn remove_dir_all(path: impl AsRef<Path>) -> impl std::future::Future<Output = Result<(), OpError>> {
    crate::fused::once(async move {
        let path = path.as_ref().to_owned();
        blocking(move || std::fs::remove_dir_all(path)).await
    })
}

/// One entry of a directory listing: its path and kind (from the listing itself, no extra
/// `stat`).
///
/// # Examples
/// ```no_run
/// # quartet_runtime::run(async {
/// let mut dir = quartet_runtime::fs::read_dir("/etc").await?;
/// while let Some(entry) = dir.next_entry().await? {
///     if entry.file_type().is_dir() {
///         println!("{:?} is a directory", entry.file_name());
///     }
/// }
/// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct DirEntry {
    path: PathBuf,
    file_type: FileType,
}

impl DirEntry {
    /// The entry's full path (the listed directory joined with the name).
    pub fn path(&self) -> &Path {
        &self.path
    }
    /// The entry's name within its directory.
    pub fn file_name(&self) -> OsString {
        self.path.file_name().map(ToOwned::to_owned).unwrap_or_default()
    }
    /// The entry's kind, as listed (a symbolic link is reported as a link).
    pub fn file_type(&self) -> FileType {
        self.file_type
    }
}

/// How many entries one worker job reads.
const BATCH: usize = 64;

type Batch = Result<Vec<DirEntry>, OpError>;
/// A boxed step of the listing, kept across polls.
type Step<T> = Pin<Box<dyn Future<Output = T>>>;

/// A directory listing, read in batches on a worker thread (io_uring has no `getdents` opcode).
///
/// Use [`next_entry`](ReadDir::next_entry), or the [`Stream`] of `Result<DirEntry, OpError>`. Entries
/// come in the order the filesystem returns them; `.` and `..` are skipped.
///
/// # Cancellation
/// Each step is a checkpoint (also when the entry was already read ahead). A step that returns
/// `Cancelled` consumed no entry, so the listing can go on from there.
///
/// # Examples
/// ```no_run
/// # quartet_runtime::run(async {
/// let mut dir = quartet_runtime::fs::read_dir("/etc").await?;
/// while let Some(entry) = dir.next_entry().await? {
///     println!("{}", entry.path().display());
/// }
/// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
/// ```
pub struct ReadDir {
    inner: Arc<Mutex<std::fs::ReadDir>>,
    ready: VecDeque<DirEntry>,
    pending: Option<Step<Batch>>,
    /// The checkpoint taken before handing out an already-read entry.
    checkpoint: Option<Step<Result<(), Cancelled>>>,
    done: bool,
}

impl std::fmt::Debug for ReadDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadDir").field("ready", &self.ready.len()).field("done", &self.done).finish_non_exhaustive()
    }
}

/// Opens the directory `path` for listing (on a worker thread).
///
/// # Cancellation
/// A checkpoint; `Cancelled` means the directory was not opened.
///
/// # Examples
/// ```no_run
/// # quartet_runtime::run(async {
/// let mut dir = quartet_runtime::fs::read_dir("/tmp").await?;
/// let first = dir.next_entry().await?;
/// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
/// ```
pub fn read_dir(path: impl AsRef<Path>) -> impl std::future::Future<Output = Result<ReadDir, OpError>> {
    crate::fused::once(async move {
        let path = path.as_ref().to_owned();
        let inner = blocking(move || std::fs::read_dir(path)).await?;
        Ok(ReadDir {
            inner: Arc::new(Mutex::new(inner)),
            ready: VecDeque::new(),
            pending: None,
            checkpoint: None,
            done: false,
        })
    })
}

impl ReadDir {
    /// The next entry, or `None` once the listing is complete.
    ///
    /// # Cancellation
    /// A checkpoint; `Cancelled` means no entry was consumed.
    ///
    /// # Examples
    /// ```no_run
    /// # quartet_runtime::run(async {
    /// let mut dir = quartet_runtime::fs::read_dir("/tmp").await?;
    /// let mut count = 0;
    /// while dir.next_entry().await?.is_some() {
    ///     count += 1;
    /// }
    /// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
    /// ```
    pub fn next_entry(&mut self) -> impl std::future::Future<Output = Result<Option<DirEntry>, OpError>> {
        crate::fused::once(async move { std::future::poll_fn(|cx| self.poll_entry(cx)).await.transpose() })
    }

    fn poll_entry(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<DirEntry, OpError>>> {
        loop {
            if !self.ready.is_empty() {
                // Entries read ahead are handed out through a checkpoint too (every step
                // checks for cancellation and yields), consuming nothing when cancelled.
                let cp = self.checkpoint.get_or_insert_with(|| Box::pin(crate::task::checkpoint()));
                let res = std::task::ready!(cp.as_mut().poll(cx));
                self.checkpoint = None;
                if let Err(c) = res {
                    return Poll::Ready(Some(Err(c.into())));
                }
                return Poll::Ready(self.ready.pop_front().map(Ok));
            }
            if self.done {
                return Poll::Ready(None);
            }
            let inner = self.inner.clone();
            let job = self.pending.get_or_insert_with(|| Box::pin(blocking(move || next_batch(&inner))));
            let batch = std::task::ready!(job.as_mut().poll(cx));
            self.pending = None;
            match batch {
                Ok(b) => {
                    // A short batch means the iterator is exhausted: no further job needed.
                    self.done = b.len() < BATCH;
                    self.ready.extend(b);
                }
                Err(e) => return Poll::Ready(Some(Err(e))),
            }
        }
    }
}

/// Reads up to [`BATCH`] entries; an empty batch is the end of the listing.
fn next_batch(inner: &Mutex<std::fs::ReadDir>) -> io::Result<Vec<DirEntry>> {
    let mut it = inner.lock().unwrap_or_else(|p| p.into_inner());
    let mut out = Vec::new();
    for entry in it.by_ref().take(BATCH) {
        let entry = entry?;
        out.push(DirEntry { path: entry.path(), file_type: entry.file_type()?.into() });
    }
    Ok(out)
}

impl Stream for ReadDir {
    type Item = Result<DirEntry, OpError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_entry(cx)
    }
}
