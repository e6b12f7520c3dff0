//! Reference-counted fds (H5).
//!
//! Every op that uses an fd holds a clone of its [`SharedFd`] inside the op's data, so the fd
//! stays open while any op on it is in flight, including ops whose future was dropped. When the
//! last clone goes, the close is handed to the driver (closed through the ring) rather than done
//! inline. `close().await` first cancels pending ops on the fd, waits until it is the last holder,
//! then closes through the ring and reports the result.

use crate::driver::Closes;
use crate::error::OpError;
use crate::kernel::context::with_core;
use crate::op::{Op, OpData};
use io_uring::{opcode, squeue, types};
use std::cell::Cell;
use std::future::poll_fn;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::rc::Rc;
use std::task::{Poll, Waker};

pub(crate) struct SharedFd(Rc<FdInner>);

struct FdInner {
    fd: RawFd,
    closes: Option<Closes>,
    closer: Cell<Option<Waker>>,
    closed: Cell<bool>,
    /// The ring takes `IORING_RECVSEND_POLL_FIRST` (probed when the fd was adopted; false outside
    /// a runtime and with the optional opcodes off).
    poll_first_ok: bool,
    /// The next receive asks the kernel to wait for data before trying (`net/recv_hint.rs`).
    poll_first: Cell<bool>,
}

impl SharedFd {
    /// Takes ownership of `fd`.
    pub fn new(fd: RawFd) -> SharedFd {
        let (closes, poll_first_ok) = with_core(|c| {
            let driver = c.driver.borrow();
            (Some(driver.closes()), driver.opcodes.recv_poll_first())
        })
        .unwrap_or((None, false));
        let (closer, closed, poll_first) = (Cell::new(None), Cell::new(false), Cell::new(false));
        SharedFd(Rc::new(FdInner { fd, closes, closer, closed, poll_first_ok, poll_first }))
    }

    pub fn raw(&self) -> RawFd {
        self.0.fd
    }

    /// Whether the ring takes `IORING_RECVSEND_POLL_FIRST` (the stream receive hint,
    /// `net/recv_hint.rs`).
    pub fn poll_first_ok(&self) -> bool {
        self.0.poll_first_ok
    }

    /// Sets whether the next receive on this fd carries `IORING_RECVSEND_POLL_FIRST` (ignored
    /// where the ring does not take it).
    pub fn set_recv_poll_first(&self, on: bool) {
        self.0.poll_first.set(on & self.0.poll_first_ok);
    }

    /// Whether the next receive carries `IORING_RECVSEND_POLL_FIRST` (`net/recv_hint.rs`).
    pub fn recv_poll_first(&self) -> bool {
        self.0.poll_first.get()
    }

    /// Gives up ownership of the fd, if no op holds it (this is the only clone).
    pub fn into_owned(self) -> Result<OwnedFd, SharedFd> {
        if Rc::strong_count(&self.0) != 1 {
            return Err(self);
        }
        self.0.closed.set(true);
        // SAFETY: this value owned the fd and was its last holder; `closed` stops `FdInner::drop`
        // from closing it, so the `OwnedFd` is now its only owner.
        Ok(unsafe { OwnedFd::from_raw_fd(self.0.fd) })
    }

    /// Closes the fd: unblocks pending ops, waits for them, then closes through the ring.
    ///
    /// Not a cancellation point: the fd is closed even inside a cancelled scope.
    pub fn close(self) -> impl std::future::Future<Output = Result<(), OpError>> {
        crate::fused::once(async move {
            let fd = self.0.fd;
            let mut cancelled = false;
            poll_fn(|cx| {
                if Rc::strong_count(&self.0) == 1 {
                    return Poll::Ready(());
                }
                if !cancelled {
                    cancelled = true;
                    with_core(|c| c.driver.borrow_mut().cancel_fd(fd));
                }
                self.0.closer.set(Some(cx.waker().clone()));
                Poll::Pending
            })
            .await;
            self.0.closed.set(true);
            let (res, _) = Op::uncancellable(Close { fd }).await;
            if let Err(OpError::NoRuntime) = res {
                // SAFETY: we own the fd, are its last holder, and no ring exists to close it.
                unsafe { libc::close(fd) };
            }
            res.map(drop)
        })
    }
}

impl Clone for SharedFd {
    fn clone(&self) -> SharedFd {
        SharedFd(self.0.clone())
    }
}

impl Drop for SharedFd {
    fn drop(&mut self) {
        if Rc::strong_count(&self.0) == 2 {
            if let Some(w) = self.0.closer.take() {
                w.wake();
            }
        }
    }
}

impl Drop for FdInner {
    fn drop(&mut self) {
        if self.closed.get() {
            return;
        }
        // An fd created outside `run` has no close list; if a runtime is running now, close
        // through it anyway, so the close is ordered after any cancel still queued for this fd
        // number (H5: the number could otherwise be reused while that cancel is pending).
        let closes =
            self.closes.clone().or_else(|| with_core(|c| c.driver.try_borrow().ok().map(|d| d.closes())).flatten());
        match closes {
            Some(c) => c.push(self.fd),
            // SAFETY: this value owns the fd and no op holds it (we are the last reference).
            None => unsafe {
                libc::close(self.fd);
            },
        }
    }
}

struct Close {
    fd: RawFd,
}

// SAFETY: CLOSE carries no pointers.
unsafe impl OpData for Close {
    const NAME: &'static str = "Close";
    fn sqe(&mut self) -> squeue::Entry {
        opcode::Close::new(types::Fd(self.fd)).build()
    }
}

impl std::fmt::Debug for SharedFd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SharedFd").field(&self.0.fd).finish()
    }
}
