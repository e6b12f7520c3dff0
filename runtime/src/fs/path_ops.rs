//! Path opcodes (`MKDIRAT`, `UNLINKAT`, `RENAMEAT`, `LINKAT`, `SYMLINKAT`): each op's data
//! (inline in its `Op`) and the SQE it builds. Paths are relative to the working directory
//! (`AT_FDCWD`) and live, as `CString`s (heap bytes, which stay put when the data moves), in the
//! op data until the final completion.

use crate::op::OpData;
use io_uring::{opcode, squeue, types};
use std::ffi::CString;

const CWD: types::Fd = types::Fd(libc::AT_FDCWD);

pub(crate) struct MkDir {
    pub path: CString,
    pub mode: libc::mode_t,
}

// SAFETY: the SQE points at `path`'s heap bytes, owned by `self`; a `CString` keeps its bytes
// in place when it (with `self`) moves, until it is dropped.
unsafe impl OpData for MkDir {
    const NAME: &'static str = "MkDir";
    fn sqe(&mut self) -> squeue::Entry {
        opcode::MkDirAt::new(CWD, self.path.as_ptr()).mode(self.mode).build()
    }
}

pub(crate) struct Unlink {
    pub path: CString,
    /// `AT_REMOVEDIR` to remove a directory, 0 for anything else.
    pub flags: libc::c_int,
}

// SAFETY: the SQE points at `path`'s heap bytes, owned by `self`; a `CString` keeps its bytes
// in place when it (with `self`) moves, until it is dropped.
unsafe impl OpData for Unlink {
    const NAME: &'static str = "Unlink";
    fn sqe(&mut self) -> squeue::Entry {
        opcode::UnlinkAt::new(CWD, self.path.as_ptr()).flags(self.flags).build()
    }
}

pub(crate) struct Rename {
    pub from: CString,
    pub to: CString,
}

// SAFETY: the SQE points at `from`'s and `to`'s heap bytes, owned by `self`; a
// `CString` keeps its bytes in place when it (with `self`) moves, until it is dropped.
unsafe impl OpData for Rename {
    const NAME: &'static str = "Rename";
    fn sqe(&mut self) -> squeue::Entry {
        opcode::RenameAt::new(CWD, self.from.as_ptr(), CWD, self.to.as_ptr()).build()
    }
}

pub(crate) struct Link {
    pub original: CString,
    pub link: CString,
}

// SAFETY: the SQE points at `original`'s and `link`'s heap bytes, owned by `self`; a
// `CString` keeps its bytes in place when it (with `self`) moves, until it is dropped.
unsafe impl OpData for Link {
    const NAME: &'static str = "Link";
    fn sqe(&mut self) -> squeue::Entry {
        opcode::LinkAt::new(CWD, self.original.as_ptr(), CWD, self.link.as_ptr()).build()
    }
}

pub(crate) struct Symlink {
    pub target: CString,
    pub link: CString,
}

// SAFETY: the SQE points at `target`'s and `link`'s heap bytes, owned by `self`; a
// `CString` keeps its bytes in place when it (with `self`) moves, until it is dropped.
unsafe impl OpData for Symlink {
    const NAME: &'static str = "Symlink";
    fn sqe(&mut self) -> squeue::Entry {
        opcode::SymlinkAt::new(CWD, self.target.as_ptr(), self.link.as_ptr()).build()
    }
}
