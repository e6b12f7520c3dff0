//! The end of a driver (H4): the bounded shutdown drain, and the `Drop` that leaks rather than
//! frees whatever the kernel may still use when no drain ran.

use super::{Driver, TAG_CANCEL};
use io_uring::{opcode, types};
use std::time::{Duration, Instant};

/// What the shutdown drain found.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ShutdownReport {
    pub in_flight: usize,
    pub leaked: usize,
}

impl Driver {
    /// Shutdown (H4): cancel everything, drain completions for at most `bound`, leak whatever is
    /// still in flight, then close remaining fds. The ring itself is closed when `self` drops,
    /// before the slab frees any memory (field order).
    pub fn shutdown(&mut self, bound: Duration) -> ShutdownReport {
        // A bound too large for an `Instant` (e.g. `Duration::MAX`) waits "forever": 30 years.
        let end = Instant::now().checked_add(bound).unwrap_or_else(crate::time::far_future);
        let e = opcode::AsyncCancel2::new(types::CancelBuilder::any()).build().user_data(TAG_CANCEL);
        self.internal_in_flight += 1;
        self.push(e);
        let mut wakers = Vec::new();
        // A zero bound means "do not wait": nothing is submitted or collected, everything in
        // flight is leaked, and closing the ring cancels it in the kernel.
        loop {
            let _ = self.flush(&mut wakers);
            self.reap(&mut wakers);
            wakers.clear();
            // A completed op whose future escaped `run` is no longer in flight: stop waiting.
            if self.ops.in_flight() == 0 && self.internal_in_flight == 0 {
                break;
            }
            let now = Instant::now();
            if now >= end {
                break;
            }
            if self.enter(1, Some(end - now)).is_err() {
                break;
            }
        }
        let mut report = ShutdownReport { in_flight: self.ops.in_flight() + self.internal_in_flight, leaked: 0 };
        if report.in_flight > 0 {
            report.leaked = self.ops.leak_all();
            self.bufs.leak();
            if self.wake_armed {
                // The kernel may still write the wake buffer: never free it.
                std::mem::forget(std::mem::replace(&mut self.wake_buf, Box::new(0)));
            }
        }
        self.closes.shut();
        self.shut = true;
        report
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if !self.shut {
            // No drain ran (a panic escaped the kernel before shutdown): the kernel may still use
            // any in-flight op's memory, so leak it rather than free it (H4). The ring closes next.
            self.ops.leak_all();
            self.bufs.leak();
            std::mem::forget(std::mem::replace(&mut self.wake_buf, Box::new(0)));
            // fds queued for a ring close were given up by their owners and no op refers to them
            // (an op's fd owner lives in its data, leaked above): close them now, and make later
            // drops of fd owners close at once, rather than leak every one of them.
            self.closes.shut();
        }
    }
}
