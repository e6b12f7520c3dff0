//! When a stream receive asks the kernel to poll first (`IORING_RECVSEND_POLL_FIRST`).
//!
//! A plain `IORING_OP_RECV` on an empty socket costs a failed attempt before the wait: the kernel
//! locks the socket, finds the queue empty, fails internally with `EAGAIN`, arms a poll, and
//! tries again when data arrives. `POLL_FIRST` (Linux 5.19) skips the first attempt and arms the
//! poll at once. That is right when the socket is empty, and a loss when data is already queued:
//! the poll then finds it ready at once and the receive runs from task work, which costs more
//! than a plain receive that succeeds.
//!
//! The guess, per socket, from how the previous receive went: the next one polls first if the
//! previous one
//! - took less than it was offered (it *drained* the socket), and
//! - *waited*: it did not come back from the very `io_uring_enter` that submitted it next to
//!   other completions (`driver::Delivery::at_once`). A receive that found its data completes
//!   inside the enter that submits it (with `POLL_FIRST` too: the poll finds the socket ready and
//!   the retry runs as task work in that enter); one that came back later, or alone from an enter
//!   that slept, had to wait.
//!
//! A request/response peer (an HTTP client, an echo client with one message in flight) sends its
//! next message only after it got our answer, so after a receive that waited the next one most
//! likely waits too. With many busy connections the next message is usually queued by the time
//! the receive is issued: such a receive comes back at once, and the hint turns off until a
//! receive has to wait again. Cancelled or failed receives leave the hint as it was. The state is
//! one `Cell<bool>` in the fd (`SharedFd::recv_poll_first`), set from the enter count when the
//! receive was issued and the completion's `Delivery` stamp.
//!
//! Measured (ARCHITECTURE.md, "Stream receives"): the hint removes the failed first attempt,
//! about 2 points of the server's CPU in the native HTTP row and in echo at 100 connections. With
//! the "drained" test alone it also engaged at 1,000 echo connections, where most receives find
//! their data, and cost ~3 points there (poll arming plus a task-work retry for every message).

use crate::driver::Delivery;
use crate::fd::SharedFd;
use crate::kernel::context::with_core;

/// Where the driver was when a receive was submitted: the enter that submits it is the next one.
#[derive(Clone, Copy)]
pub(crate) struct Issued(Option<u64>);

/// Notes when a receive on `fd` is submitted (nothing if the ring cannot take the hint).
pub(crate) fn issued(fd: &SharedFd) -> Issued {
    if !fd.poll_first_ok() {
        return Issued(None);
    }
    Issued(with_core(|c| c.driver.borrow().enters()))
}

/// Sets the hint for the next receive on `fd`, after one issued at `issued` that was reaped at
/// `at` with `n` of `offered` bytes.
pub(crate) fn completed(fd: &SharedFd, issued: Issued, at: Delivery, n: usize, offered: usize) {
    if let Issued(Some(before)) = issued {
        fd.set_recv_poll_first(poll_first_next(before, at, n, offered));
    }
}

/// The rule: drained and waited.
fn poll_first_next(issued: u64, at: Delivery, n: usize, offered: usize) -> bool {
    n < offered && !at.at_once(issued)
}

#[cfg(test)]
mod tests {
    use super::{Delivery, poll_first_next};

    #[test]
    fn a_drained_socket_whose_receive_waited_polls_first() {
        assert!(poll_first_next(10, Delivery::new(13, true), 64, 4096), "came back from a later enter");
        assert!(poll_first_next(10, Delivery::new(11, false), 64, 4096), "alone from an enter that slept");
    }

    #[test]
    fn a_receive_that_found_its_data_at_once_turns_the_hint_off() {
        assert!(!poll_first_next(10, Delivery::new(11, true), 64, 4096));
    }

    #[test]
    fn a_receive_that_filled_its_buffer_turns_the_hint_off() {
        assert!(!poll_first_next(10, Delivery::new(13, true), 4096, 4096), "more may be queued");
    }

    #[test]
    fn the_enter_count_wraps_without_a_wrong_answer() {
        let issued = (1 << 31) - 1; // the stamp keeps 31 bits
        assert!(!poll_first_next(issued, Delivery::new(issued + 1, true), 1, 2));
        assert!(!poll_first_next(u64::from(u32::MAX), Delivery::new(1 << 32, true), 1, 2));
    }
}
