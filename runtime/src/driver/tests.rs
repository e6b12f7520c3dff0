//! The driver's own teardown, which the public API only reaches when a panic escapes the kernel.

use super::{Driver, SetupFlags};
use std::os::fd::RawFd;

/// A pipe; returns (read end, write end).
fn pipe() -> (RawFd, RawFd) {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a live array of two ints, as pipe2 requires.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    (fds[0], fds[1])
}

/// True once every read end of the pipe is closed: a write then fails with EPIPE. (A check by fd
/// number could be fooled by another test reusing the number; a pipe's reader count cannot.)
fn reader_closed(write_end: RawFd) -> bool {
    // SAFETY: writes one byte from a live buffer to an fd this test owns. Rust ignores SIGPIPE, so
    // a closed pipe reports EPIPE instead of killing the process.
    let n = unsafe { libc::write(write_end, b"x".as_ptr().cast(), 1) };
    n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EPIPE)
}

fn close(fd: RawFd) {
    // SAFETY: the test owns `fd` and closes it once.
    unsafe { libc::close(fd) };
}

#[test]
fn drop_without_shutdown_closes_queued_fds() {
    // SAFETY: eventfd takes no pointers; the result is checked.
    let wake = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    assert!(wake >= 0);
    let mut driver = Driver::new(4, SetupFlags::Auto, wake).expect("io_uring is available");
    let (queued_r, queued_w) = pipe();
    let (late_r, late_w) = pipe();
    driver.close_later(queued_r);
    let closes = driver.closes(); // as an fd owner that outlives the driver holds it
    assert!(!reader_closed(queued_w), "queued, not yet closed");
    // The panic path: the driver is dropped without `shutdown`.
    drop(driver);
    assert!(reader_closed(queued_w), "the fd queued for a ring close was leaked");
    closes.push(late_r);
    assert!(reader_closed(late_w), "an fd given up after the driver died was leaked");
    for fd in [queued_w, late_w, wake] {
        close(fd);
    }
}

#[test]
fn busy_poll_sees_a_completion_the_kernel_only_posts_on_enter() {
    // SAFETY: eventfd takes no pointers; the result is checked.
    let wake = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    assert!(wake >= 0);
    for flags in [SetupFlags::Auto, SetupFlags::Plain] {
        let mut driver = Driver::new(4, flags, wake).expect("io_uring is available");
        // SAFETY: a NOP SQE holds no pointers.
        let key = unsafe { driver.submit(io_uring::opcode::Nop::new().build(), std::task::Waker::noop()) };
        // Still in the SQ: only the spin's enter submits it, and (DEFER_TASKRUN) only an enter
        // with GETEVENTS posts its completion. A spin that read the CQ without entering would
        // run out its whole bound and report nothing.
        let left = driver.busy_poll(std::time::Duration::from_secs(30), None).unwrap();
        assert!(left.is_none(), "{flags:?}: the spin ended without the nop's completion");
        assert_eq!((driver.stats.busy_polls, driver.stats.busy_poll_hits), (1, 1));
        let mut wakers = Vec::new();
        driver.reap(&mut wakers);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(driver.poll_op(key, &mut cx).is_ready());
        // A zero bound (a wait that must not block, or a timer due now) does not spin at all.
        let t = Some(std::time::Duration::ZERO);
        assert_eq!(driver.busy_poll(std::time::Duration::from_secs(30), t).unwrap(), Some(t));
        assert_eq!(driver.stats.busy_polls, 1);
        driver.shutdown(std::time::Duration::from_secs(1));
    }
    close(wake);
}
