//! Synchronisation primitives for tasks (semantics §5.2): [`Event`], [`Lock`], [`Semaphore`],
//! [`Condition`], and the runtime's [`CapacityLimiter`] (re-exported; it lives with the worker
//! threads it limits).
//!
//! All of them follow the same rules:
//! - **Fair.** Waiters are served in the order they started waiting; a release hands the resource
//!   straight to the oldest waiter, so a newcomer cannot barge in.
//! - **Checkpoints.** Every async operation fails with `Cancelled` on entry in a cancelled scope
//!   and otherwise yields at least once, even if it could complete at once (then without checking
//!   cancellation again, like Trio's cancel-shielded schedule point).
//! - **Atomic with respect to cancellation.** An operation that reports `Cancelled` did nothing:
//!   it holds nothing and kept no place in any queue. One that was already served when the
//!   cancellation reached it returns its result, and the next checkpoint reports the cancellation.
//! - **No timeout arguments**: wrap the call in a cancel scope ([`move_on_after`](crate::move_on_after)).
//! - Non-waiting `try_` variants and `statistics()` snapshots.
//! - **Thread-safe.** Each is `Send + Sync` (a `Lock<T>`/`Condition<T>` when `T: Send`); its state
//!   sits behind a mutex from the runtime's loom shim, and the cross-thread races are model-checked
//!   in `nursery/tests/loom_*.rs`.
//!
//! They are plain values: share them by reference with the children of a nursery, or through an
//! `Arc` across threads.

mod acquire;
mod cell;
mod condition;
mod error;
mod event;
mod lock;
mod semaphore;
pub(crate) mod waitset;

pub use condition::{Condition, ConditionStats, ConditionWait};
pub use error::{SemaphoreError, WaitError, WouldBlock};
pub use event::{Event, EventStats, EventWait};
pub use lock::{Lock, LockFuture, LockGuard, LockStats};
pub use semaphore::{Permit, Semaphore, SemaphoreAcquire, SemaphoreStats};

pub use quartet_runtime::thread::CapacityLimiter;
