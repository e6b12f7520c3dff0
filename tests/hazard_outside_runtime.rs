//! Operations polled outside `quartet::run` fail at once with "no runtime" instead of staying
//! pending forever: there is no loop to wake them. Each future is polled by hand with a waker that
//! does nothing, so a future that waits would show up as `Pending`, not as a hung test.

use quartet::{Cancelled, OpError, Reason, checkpoint, find_cancelled, is_cancellation, nop, sleep, sleep_until};
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// Polls `fut` a few times with a no-op waker; `None` if it is still pending (it would hang).
fn poll_outside<F: Future>(fut: F) -> Option<F::Output> {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    (0..3).find_map(|_| match fut.as_mut().poll(&mut cx) {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    })
}

fn assert_no_runtime(c: Cancelled, what: &str) {
    assert_eq!(c.reason(), &Reason::NoRuntime, "{what}: {c}");
    let text = c.to_string();
    assert!(text.contains("quartet::run"), "{what}: the message names the remedy: {text}");
    assert!(!is_cancellation(&c), "{what}: no runtime is not a cancellation");
    assert!(find_cancelled(&c).is_none(), "{what}");
    assert!(matches!(OpError::from(c.clone()), OpError::NoRuntime), "{what}");
    let io: std::io::Error = c.into();
    assert!(!is_cancellation(&io), "{what}: still not a cancellation as an io::Error");
}

#[test]
fn sleep_outside_run_reports_no_runtime_instead_of_hanging() {
    let r = poll_outside(sleep(Duration::from_millis(1))).expect("sleep outside run stayed pending");
    assert_no_runtime(r.unwrap_err(), "sleep");
    let r = poll_outside(sleep(Duration::MAX)).expect("a long sleep outside run stayed pending");
    assert_no_runtime(r.unwrap_err(), "sleep(MAX)");
    let r = poll_outside(sleep_until(Instant::now())).expect("an elapsed sleep outside run stayed pending");
    assert_no_runtime(r.unwrap_err(), "sleep_until(now)");
}

#[test]
fn checkpoint_outside_run_reports_no_runtime() {
    let mut fut = pin!(checkpoint());
    let mut cx = Context::from_waker(Waker::noop());
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(r) => assert_no_runtime(r.unwrap_err(), "checkpoint"),
        Poll::Pending => panic!("checkpoint outside run yielded as if a scheduler would poll it again"),
    }
}

#[test]
fn ring_ops_and_timeouts_outside_run_report_no_runtime() {
    assert!(matches!(poll_outside(nop()), Some(Err(OpError::NoRuntime))));
    let r = poll_outside(quartet::move_on_after(Duration::from_secs(1), async {
        sleep(Duration::from_secs(3600)).await.map_err(OpError::from)
    }));
    assert!(matches!(r, Some(Err(OpError::NoRuntime))), "{r:?}");
}
