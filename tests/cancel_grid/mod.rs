//! The cancellation grid shared by the channel and sync tests: run an operation in a scope that is
//! cancelled just before its poll number `at`, for every `at`, and count both outcomes.
#![allow(dead_code)]

use quartet::{CancelHandle, CancelScope, Cancelled};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Polls `fut`, cancelling `handle` just before poll number `at` (0-based).
pub struct CancelAt<F> {
    fut: Pin<Box<F>>,
    polls: usize,
    at: usize,
    handle: CancelHandle,
}

impl<F: Future> Future for CancelAt<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        if self.polls == self.at {
            self.handle.cancel();
        }
        self.polls += 1;
        self.fut.as_mut().poll(cx)
    }
}

/// Runs `op` in a fresh scope that is cancelled just before the op's poll number `at`.
pub async fn cancelled_at<T>(at: usize, op: impl Future<Output = T>) -> T {
    let scope = CancelScope::new();
    let mut out = None;
    let guarded = CancelAt { fut: Box::pin(op), polls: 0, at, handle: scope.handle() };
    scope
        .run(async {
            out = Some(guarded.await);
            Ok::<_, Cancelled>(())
        })
        .await
        .expect("the op's outcome is stored, never propagated");
    out.expect("the op ran")
}

/// Poll points at which a cancel is injected.
pub const POINTS: usize = 6;
/// Yields the other side waits before it starts.
pub const DELAYS: usize = 4;

/// Counts both outcomes over the grid, so each test proves it reached both.
#[derive(Default, Debug)]
pub struct Seen {
    pub ok: usize,
    pub cancelled: usize,
}

impl Seen {
    pub fn record(&mut self, ok: bool) {
        if ok { self.ok += 1 } else { self.cancelled += 1 }
    }
    pub fn assert_both(&self, what: &str) {
        assert!(self.ok > 0 && self.cancelled > 0, "{what}: both outcomes happened: {self:?}");
    }
}
