//! The testing toolkit: run a program on a virtual clock, wait until every other task is blocked,
//! explore the schedules of ready children with a seed, and inject faults at the completion
//! boundary. Everything is opt-in through [`Builder`](crate::Builder) (or [`Explore`] and the
//! `#[quartet::test]` macro, which set it up), and costs the normal loop one predictable branch
//! per decision point.
//!
//! - **Mock clock** ([`Builder::mock_clock`](crate::Builder::mock_clock)): [`now`],
//!   sleeps, deadlines, intervals and cancel-scope deadline timers all read a virtual clock. With
//!   autojump (the default) the clock jumps to the next timer as soon as the loop is idle; see
//!   the kernel's idle path for exactly when that is allowed while ring ops are outstanding
//!   (summarised in [`Builder::autojump_settle`](crate::Builder::autojump_settle)). [`advance`]
//!   and [`jump_to`] move it by hand.
//! - [`wait_all_tasks_blocked`]: returns when every other task is parked.
//! - **Exploration** ([`Builder::seed`](crate::Builder::seed), [`Explore`]): ready children are
//!   picked by a seeded PRNG instead of FIFO, and timers due at the same instant fire in a seeded
//!   order. With the mock clock and no outside I/O a seed replays the same schedule exactly.
//! - **Faults** ([`FaultPlan`]): chosen op kinds fail with chosen errors, or transfer less, before
//!   they are submitted.
//!
//! # Examples
//! A one-hour timeout, tested in microseconds:
//! ```
//! use quartet_runtime::{Builder, sleep, now};
//! use std::time::Duration;
//! let elapsed = Builder::new().mock_clock(true).run(async {
//!     let t0 = now();
//!     sleep(Duration::from_secs(3600)).await.unwrap();
//!     now() - t0
//! }).unwrap();
//! assert_eq!(elapsed, Duration::from_secs(3600));
//! ```

mod builder;
mod explore;
pub(crate) mod faults;
pub(crate) mod rng;
pub(crate) mod state;

pub use explore::{Explore, Failure, Outcome, TestOptions, run_test};
pub use faults::{Fault, FaultPlan, OpKind, When};

use crate::cancel::Park;
use crate::error::{Cancelled, Reason};
use crate::kernel::context::with_core;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Why a testing call could not do what it was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TestingError {
    /// Called outside `quartet::run`.
    #[error("not inside a quartet runtime")]
    NoRuntime,
    /// The runtime does not run on a mock clock (see `Builder::mock_clock`).
    #[error("the runtime does not use a mock clock (Builder::mock_clock)")]
    NoMockClock,
    /// The clock cannot be moved that far (an `Instant` would overflow).
    #[error("the mock clock cannot be advanced that far")]
    Overflow,
    /// `QUARTET_SEED` is not a decimal or `0x` hexadecimal `u64`.
    #[error("QUARTET_SEED={0:?} is not a u64 (decimal or 0x-hex)")]
    BadSeed(String),
}

/// The runtime's current time: the virtual clock under [`Builder::mock_clock`](crate::Builder::mock_clock),
/// the real monotonic clock otherwise (and outside `run`, or on another thread).
///
/// Every time source of the runtime reads this: use it instead of `Instant::now()` in code that
/// should be testable on the mock clock.
///
/// # Examples
/// ```
/// use quartet_runtime::{Builder, now, sleep};
/// use std::time::Duration;
/// Builder::new().mock_clock(true).run(async {
///     let t0 = now();
///     sleep(Duration::from_millis(250)).await.unwrap();
///     assert_eq!(now() - t0, Duration::from_millis(250)); // exactly, every run
/// }).unwrap();
/// ```
#[inline]
pub fn now() -> Instant {
    with_core(|c| c.testing.now()).unwrap_or_else(Instant::now)
}

/// Moves the mock clock forward by `by`; timers that become due fire at the next turn of the loop.
///
/// # Errors
/// [`TestingError::NoRuntime`], [`TestingError::NoMockClock`], or [`TestingError::Overflow`] if
/// the clock cannot go that far (`Duration::MAX`): the clock is then left unchanged.
///
/// # Examples
/// ```
/// use quartet_runtime::{Builder, now, testing::{advance, TestingError}};
/// use std::time::Duration;
/// Builder::new().mock_clock(true).autojump(false).run(async {
///     let t0 = now();
///     advance(Duration::from_secs(5)).unwrap();
///     assert_eq!(now() - t0, Duration::from_secs(5));
///     assert_eq!(advance(Duration::MAX), Err(TestingError::Overflow));
/// }).unwrap();
/// assert_eq!(advance(Duration::from_secs(1)), Err(TestingError::NoRuntime));
/// ```
pub fn advance(by: Duration) -> Result<(), TestingError> {
    with_clock(|k| {
        let to = k.elapsed().checked_add(by).filter(|&d| d <= MAX_VIRTUAL).ok_or(TestingError::Overflow)?;
        k.set(k.now() + (to - k.elapsed()));
        Ok(())
    })
}

/// How far [`advance`] and [`jump_to`] may move the virtual clock from its start: 100 years. Far
/// enough for any test, and it keeps every deadline the runtime derives from `now` (up to 30
/// years ahead for an unbounded sleep) inside the range cancel scopes store exactly.
pub const MAX_VIRTUAL: Duration = Duration::from_secs(100 * 365 * 86400);

/// Moves the mock clock to `at` (an instant in the past leaves it unchanged: time never goes back).
///
/// # Errors
/// [`TestingError::NoRuntime`], [`TestingError::NoMockClock`], or [`TestingError::Overflow`] if
/// `at` is more than [`MAX_VIRTUAL`] after the clock's start (the clock is then unchanged).
///
/// # Examples
/// ```
/// use quartet_runtime::{Builder, now, testing::jump_to};
/// use std::time::Duration;
/// Builder::new().mock_clock(true).run(async {
///     let at = now() + Duration::from_secs(60);
///     jump_to(at).unwrap();
///     assert_eq!(now(), at);
/// }).unwrap();
/// ```
pub fn jump_to(at: Instant) -> Result<(), TestingError> {
    with_clock(|k| {
        let start = k.now() - k.elapsed();
        if at.checked_duration_since(start).is_some_and(|d| d > MAX_VIRTUAL) {
            return Err(TestingError::Overflow);
        }
        k.set(at);
        Ok(())
    })
}

/// Virtual time since the runtime started (mock clock only).
///
/// # Examples
/// ```
/// use quartet_runtime::{Builder, sleep, testing::elapsed};
/// use std::time::Duration;
/// Builder::new().mock_clock(true).run(async {
///     sleep(Duration::from_secs(90)).await.unwrap();
///     assert_eq!(elapsed(), Ok(Duration::from_secs(90)));
/// }).unwrap();
/// ```
pub fn elapsed() -> Result<Duration, TestingError> {
    with_clock(|k| Ok(k.elapsed()))
}

fn with_clock<R>(f: impl FnOnce(&state::Clock) -> Result<R, TestingError>) -> Result<R, TestingError> {
    with_core(|c| match &c.testing.clock {
        Some(k) => f(k),
        None => Err(TestingError::NoMockClock),
    })
    .unwrap_or(Err(TestingError::NoRuntime))
}

/// The exploration seed of the running runtime, if it explores schedules.
///
/// # Examples
/// ```
/// use quartet_runtime::{Builder, testing::seed};
/// assert_eq!(Builder::new().seed(Some(42)).run(async { seed() }).unwrap(), Some(42));
/// ```
pub fn seed() -> Option<u64> {
    with_core(|c| c.testing.seed).flatten()
}

/// Waits until every other task is blocked (Trio's `wait_all_tasks_blocked`): no task is ready,
/// and the ring has nothing to report (the same passes the mock clock's autojump uses, see
/// [`Builder::autojump_settle`](crate::Builder::autojump_settle)). Waiters are woken before the
/// mock clock jumps, so "blocked" means "blocked at this instant".
///
/// Works in every mode (with or without a mock clock).
///
/// # Cancellation
/// A checkpoint: `Err(Cancelled)` if an enclosing scope is cancelled while it waits; outside
/// `run`, `Err` with [`Reason::NoRuntime`].
///
/// # Examples
/// ```
/// use quartet_runtime::testing::wait_all_tasks_blocked;
/// quartet_runtime::run(async {
///     wait_all_tasks_blocked().await.unwrap(); // nothing else runs: returns at the first idle turn
/// }).unwrap();
/// ```
pub fn wait_all_tasks_blocked() -> WaitAllBlocked {
    WaitAllBlocked { epoch: None, park: Park::new() }
}

/// The future of [`wait_all_tasks_blocked`].
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct WaitAllBlocked {
    epoch: Option<u64>,
    park: Park,
}

impl Future for WaitAllBlocked {
    type Output = Result<(), Cancelled>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let Some(epoch) = with_core(|c| c.testing.idle_epoch.get()) else {
            return Poll::Ready(Err(Cancelled::new(Reason::NoRuntime)));
        };
        if let Err(c) = this.park.park(cx) {
            this.park.unpark();
            return Poll::Ready(Err(c));
        }
        match this.epoch {
            Some(e) if epoch != e => {
                this.park.unpark();
                Poll::Ready(Ok(()))
            }
            _ => {
                this.epoch = Some(epoch);
                let waker = cx.waker().clone();
                let old = with_core(|c| c.testing.add_idle_waiter(waker));
                drop(old); // outside the borrow: a waker's drop may run user code
                Poll::Pending
            }
        }
    }
}
