//! The deferred-close queue (H5): fds whose last owner was dropped, closed through the ring at the
//! next flush, or with close(2) once the driver has shut down (or died without shutting down).

use std::cell::RefCell;
use std::os::fd::RawFd;
use std::rc::Rc;

/// fds waiting to be closed through the ring. Shared (single-threaded) so that an fd owner dropped
/// while the driver is busy (e.g. inside `reclaim`) can queue its close without a re-borrow.
#[derive(Debug, Clone)]
pub(crate) struct Closes(Rc<RefCell<Option<Vec<RawFd>>>>);

impl Closes {
    pub(super) fn new() -> Closes {
        Closes(Rc::new(RefCell::new(Some(Vec::new()))))
    }
}

impl Closes {
    /// Queues `fd`; after shutdown, closes it at once.
    pub fn push(&self, fd: RawFd) {
        let mut v = self.0.borrow_mut();
        match v.as_mut() {
            Some(v) => v.push(fd),
            None => {
                // SAFETY: the caller owned `fd` and gives it up; no op uses it after shutdown.
                unsafe { libc::close(fd) };
            }
        }
    }

    pub(super) fn peek(&self) -> Option<RawFd> {
        self.0.borrow().as_ref().and_then(|v| v.last().copied())
    }

    pub(super) fn pop(&self) {
        if let Some(v) = self.0.borrow_mut().as_mut() {
            v.pop();
        }
    }

    /// Closes everything still queued with close(2) and makes later pushes close at once.
    pub(super) fn shut(&self) {
        let v = self.0.borrow_mut().take().unwrap_or_default();
        for fd in v {
            // SAFETY: each fd was given up by its owner and no op uses it any more.
            unsafe { libc::close(fd) };
        }
    }
}
