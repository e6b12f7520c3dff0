//! File opcodes: each op's data (inline in its `Op`) and the SQE it builds. SQEs point only at
//! memory that stays put when the data moves: a `CString`'s heap bytes, buffers through
//! `IoBuf`/`IoBufMut`, and the `statx` result in a [`Stable`] block.

use crate::buf::{IoBuf, IoBufMut};
use crate::driver::Cleanup;
use crate::fd::SharedFd;
use crate::net_clamp as clamp;
use crate::op::OpData;
use crate::stable::Stable;
use io_uring::{opcode, squeue, types};
use std::ffi::CString;

pub(crate) struct Open {
    pub path: CString,
    pub flags: libc::c_int,
    pub mode: libc::mode_t,
}

// SAFETY: the SQE points at `path`'s heap bytes, owned by `self`: a `CString` keeps them in place
// when it (with `self`) moves, until it is dropped.
unsafe impl OpData for Open {
    const NAME: &'static str = "Open";
    const CLEANUP: Cleanup = Cleanup::CloseFd;
    fn sqe(&mut self) -> squeue::Entry {
        opcode::OpenAt::new(types::Fd(libc::AT_FDCWD), self.path.as_ptr())
            .flags(self.flags | libc::O_CLOEXEC)
            .mode(self.mode)
            .build()
    }
}

pub(crate) struct ReadAt<B> {
    pub fd: SharedFd,
    pub buf: B,
    pub pos: u64,
    /// Where in `buf` the kernel writes, and how much (from `buf::read_region`).
    pub off: usize,
    pub len: usize,
}

// SAFETY: the SQE points at `buf[off..off + len]`, inside the buffer's `bytes_total` writable bytes
// (`read_region` guarantees `off + len <= bytes_total`), which IoBufMut guarantees stay valid when
// `buf` (with `self`) moves, until it is dropped; nothing reads them before the final completion.
unsafe impl<B: IoBufMut> OpData for ReadAt<B> {
    const NAME: &'static str = "ReadAt";
    fn sqe(&mut self) -> squeue::Entry {
        // SAFETY: `off <= bytes_total`, so the pointer stays within (or one past) the buffer.
        let ptr = unsafe { self.buf.stable_mut_ptr().add(self.off) };
        opcode::Read::new(types::Fd(self.fd.raw()), ptr, clamp(self.len)).offset(self.pos).build()
    }
    fn info(&self) -> crate::introspect::OpInfo {
        crate::introspect::OpInfo::new("Read").with_fd(self.fd.raw()).with_bytes(clamp(self.len))
    }
}

pub(crate) struct WriteAt<B> {
    pub fd: SharedFd,
    pub buf: B,
    /// Where in the file `buf[off..]` goes.
    pub pos: u64,
    /// How much of `buf` is already written: the SQE writes `buf[off..]` (a cursor, so a short
    /// write resubmits the same data instead of copying the rest).
    pub off: usize,
}

// SAFETY: the SQE points into `buf[off..]`'s initialised bytes, which IoBuf guarantees stay valid
// and in place when `buf` (with `self`) moves, until it is dropped or accessed mutably (after the
// final completion).
unsafe impl<B: IoBuf> OpData for WriteAt<B> {
    const NAME: &'static str = "WriteAt";
    fn sqe(&mut self) -> squeue::Entry {
        let off = self.off.min(self.buf.bytes_init());
        // SAFETY: `off <= bytes_init`, so the pointer stays within (or one past) the buffer.
        let ptr = unsafe { self.buf.stable_ptr().add(off) };
        opcode::Write::new(types::Fd(self.fd.raw()), ptr, clamp(self.buf.bytes_init() - off)).offset(self.pos).build()
    }
    fn info(&self) -> crate::introspect::OpInfo {
        let len = self.buf.bytes_init().saturating_sub(self.off);
        crate::introspect::OpInfo::new("Write").with_fd(self.fd.raw()).with_bytes(clamp(len))
    }
}

pub(crate) struct Fsync {
    pub fd: SharedFd,
    pub datasync: bool,
}

// SAFETY: FSYNC carries no pointers.
unsafe impl OpData for Fsync {
    const NAME: &'static str = "Fsync";
    fn sqe(&mut self) -> squeue::Entry {
        let mut e = opcode::Fsync::new(types::Fd(self.fd.raw()));
        if self.datasync {
            e = e.flags(types::FsyncFlags::DATASYNC);
        }
        e.build()
    }
}

pub(crate) struct Fallocate {
    pub fd: SharedFd,
    pub mode: libc::c_int,
    pub offset: u64,
    pub len: u64,
}

// SAFETY: FALLOCATE carries no pointers.
unsafe impl OpData for Fallocate {
    const NAME: &'static str = "Fallocate";
    fn sqe(&mut self) -> squeue::Entry {
        opcode::Fallocate::new(types::Fd(self.fd.raw()), self.len).offset(self.offset).mode(self.mode).build()
    }
}

pub(crate) struct Ftruncate {
    pub fd: SharedFd,
    pub len: u64,
}

// SAFETY: FTRUNCATE carries no pointers.
unsafe impl OpData for Ftruncate {
    const NAME: &'static str = "Ftruncate";
    fn sqe(&mut self) -> squeue::Entry {
        opcode::Ftruncate::new(types::Fd(self.fd.raw()), self.len).build()
    }
}

/// `statx` of an open file (`fd`, empty path) or of a path relative to the working directory.
pub(crate) struct Statx {
    pub fd: Option<SharedFd>,
    pub path: CString,
    pub flags: libc::c_int,
    /// Where the kernel writes the result; read after the final completion only.
    pub out: Stable<libc::statx>,
}

impl Statx {
    pub fn of_fd(fd: SharedFd) -> Statx {
        Statx { fd: Some(fd), path: CString::default(), flags: libc::AT_EMPTY_PATH, out: zeroed_statx() }
    }

    pub fn of_path(path: CString, follow: bool) -> Statx {
        let flags = if follow { 0 } else { libc::AT_SYMLINK_NOFOLLOW };
        Statx { fd: None, path, flags, out: zeroed_statx() }
    }
}

fn zeroed_statx() -> Stable<libc::statx> {
    // SAFETY: statx is plain old data; all-zero is a valid value.
    Stable::new(unsafe { std::mem::zeroed() })
}

// SAFETY: the SQE points at `path`'s heap bytes (a `CString` keeps them in place when it moves)
// and at `out`, a `Stable` block: both owned by `self`, neither moves with `self`, and both live
// until `self` is dropped.
unsafe impl OpData for Statx {
    const NAME: &'static str = "Statx";
    fn sqe(&mut self) -> squeue::Entry {
        let dirfd = self.fd.as_ref().map_or(libc::AT_FDCWD, SharedFd::raw);
        opcode::Statx::new(types::Fd(dirfd), self.path.as_ptr(), self.out.as_ptr().cast())
            .flags(self.flags)
            .mask(libc::STATX_BASIC_STATS | libc::STATX_BTIME)
            .build()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::Statx;
    use crate::op::submit_then_move;

    /// The `statx` result the kernel writes is in the moved data (it lives in a `Stable` block).
    #[test]
    fn statx_moved_after_submission_has_the_result() {
        let path = std::env::temp_dir().join(format!("quartet-statx-moved-{}", std::process::id()));
        std::fs::write(&path, b"12345").unwrap();
        let data = Statx::of_path(crate::fs::cstring(&path).unwrap(), true);
        let (res, data) = crate::run(submit_then_move(data)).unwrap();
        std::fs::remove_file(&path).unwrap();
        res.expect("statx");
        assert_eq!(data.out.stx_size, 5);
    }
}
