//! [`Metadata`] and [`FileType`]: what `statx` says about a file, with the accessors of
//! `std::fs::Metadata`.

use std::fs::Permissions;
use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::time::{Duration, SystemTime};

/// The kind of a file: regular, directory, symbolic link, or special.
///
/// # Examples
/// ```no_run
/// # quartet_runtime::run(async {
/// let kind = quartet_runtime::fs::symlink_metadata("/etc/hostname").await?.file_type();
/// println!("file: {}, link: {}", kind.is_file(), kind.is_symlink());
/// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileType {
    /// The `S_IFMT` bits of `st_mode`.
    fmt: u32,
}

impl FileType {
    fn is(self, fmt: libc::mode_t) -> bool {
        self.fmt == fmt
    }
    /// A regular file.
    pub fn is_file(self) -> bool {
        self.is(libc::S_IFREG)
    }
    /// A directory.
    pub fn is_dir(self) -> bool {
        self.is(libc::S_IFDIR)
    }
    /// A symbolic link (only reported by [`symlink_metadata`](super::symlink_metadata) and
    /// directory entries: [`metadata`](super::metadata) follows links).
    pub fn is_symlink(self) -> bool {
        self.is(libc::S_IFLNK)
    }
    /// A named pipe.
    pub fn is_fifo(self) -> bool {
        self.is(libc::S_IFIFO)
    }
    /// A Unix domain socket.
    pub fn is_socket(self) -> bool {
        self.is(libc::S_IFSOCK)
    }
    /// A block device.
    pub fn is_block_device(self) -> bool {
        self.is(libc::S_IFBLK)
    }
    /// A character device.
    pub fn is_char_device(self) -> bool {
        self.is(libc::S_IFCHR)
    }
}

impl From<std::fs::FileType> for FileType {
    fn from(t: std::fs::FileType) -> FileType {
        let fmt = if t.is_file() {
            libc::S_IFREG
        } else if t.is_dir() {
            libc::S_IFDIR
        } else if t.is_symlink() {
            libc::S_IFLNK
        } else if t.is_fifo() {
            libc::S_IFIFO
        } else if t.is_socket() {
            libc::S_IFSOCK
        } else if t.is_block_device() {
            libc::S_IFBLK
        } else if t.is_char_device() {
            libc::S_IFCHR
        } else {
            0
        };
        FileType { fmt }
    }
}

/// Metadata of a file, from `statx(2)`: kind, size, permissions, owner, times.
///
/// # Examples
/// ```no_run
/// # quartet_runtime::run(async {
/// let m = quartet_runtime::fs::metadata("/etc/hostname").await?;
/// println!("{} bytes, mode {:o}, modified {:?}", m.len(), m.permissions().mode(), m.modified());
/// # use std::os::unix::fs::PermissionsExt;
/// # Ok::<(), quartet_runtime::OpError>(()) }).unwrap().unwrap();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metadata {
    mode: u32,
    len: u64,
    uid: u32,
    gid: u32,
    nlink: u32,
    ino: u64,
    dev: u64,
    blocks: u64,
    blksize: u32,
    accessed: (i64, u32),
    modified: (i64, u32),
    changed: (i64, u32),
    created: Option<(i64, u32)>,
}

fn ts(t: libc::statx_timestamp) -> (i64, u32) {
    (t.tv_sec, t.tv_nsec)
}

fn system_time((sec, nsec): (i64, u32)) -> SystemTime {
    let since = Duration::new(sec.unsigned_abs(), nsec);
    if sec >= 0 { SystemTime::UNIX_EPOCH + since } else { SystemTime::UNIX_EPOCH - since }
}

impl Metadata {
    pub(crate) fn from_statx(s: &libc::statx) -> Metadata {
        Metadata {
            mode: u32::from(s.stx_mode),
            len: s.stx_size,
            uid: s.stx_uid,
            gid: s.stx_gid,
            nlink: s.stx_nlink,
            ino: s.stx_ino,
            dev: libc::makedev(s.stx_dev_major, s.stx_dev_minor),
            blocks: s.stx_blocks,
            blksize: s.stx_blksize,
            accessed: ts(s.stx_atime),
            modified: ts(s.stx_mtime),
            changed: ts(s.stx_ctime),
            created: (s.stx_mask & libc::STATX_BTIME != 0).then(|| ts(s.stx_btime)),
        }
    }

    /// The kind of file.
    pub fn file_type(&self) -> FileType {
        FileType { fmt: self.mode & libc::S_IFMT }
    }
    /// True for a regular file.
    pub fn is_file(&self) -> bool {
        self.file_type().is_file()
    }
    /// True for a directory.
    pub fn is_dir(&self) -> bool {
        self.file_type().is_dir()
    }
    /// True for a symbolic link (see [`FileType::is_symlink`]).
    pub fn is_symlink(&self) -> bool {
        self.file_type().is_symlink()
    }
    /// Size in bytes.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> u64 {
        self.len
    }
    /// Permissions, as `std::fs::Permissions` (its `mode()` includes the file-type bits, as std's does).
    pub fn permissions(&self) -> Permissions {
        Permissions::from_mode(self.mode)
    }
    /// The whole `st_mode`: kind and permission bits.
    pub fn mode(&self) -> u32 {
        self.mode
    }
    /// Owner's user id.
    pub fn uid(&self) -> u32 {
        self.uid
    }
    /// Owner's group id.
    pub fn gid(&self) -> u32 {
        self.gid
    }
    /// Number of hard links.
    pub fn nlink(&self) -> u32 {
        self.nlink
    }
    /// Inode number.
    pub fn ino(&self) -> u64 {
        self.ino
    }
    /// Device the file lives on.
    pub fn dev(&self) -> u64 {
        self.dev
    }
    /// 512-byte blocks allocated.
    pub fn blocks(&self) -> u64 {
        self.blocks
    }
    /// Preferred I/O block size.
    pub fn blksize(&self) -> u32 {
        self.blksize
    }
    /// Last access time.
    pub fn accessed(&self) -> SystemTime {
        system_time(self.accessed)
    }
    /// Last modification of the contents.
    pub fn modified(&self) -> SystemTime {
        system_time(self.modified)
    }
    /// Last status change (metadata or contents).
    pub fn changed(&self) -> SystemTime {
        system_time(self.changed)
    }
    /// Creation (birth) time.
    ///
    /// # Errors
    /// `Unsupported` if the filesystem does not record it.
    pub fn created(&self) -> io::Result<SystemTime> {
        self.created
            .map(system_time)
            .ok_or_else(|| io::Error::new(io::ErrorKind::Unsupported, "creation time not available on this filesystem"))
    }
}
