//! # quartet
//!
//! A structured-concurrency async runtime for Rust in the style of Trio and Curio, on Linux
//! io_uring.
//!
//! - **Coroutines, not callbacks.** The kernel drives futures; an io_uring completion wakes
//!   exactly the future waiting for it. No API takes a callback.
//! - **Structured concurrency.** Tasks start only inside a [`nursery`], which returns only when
//!   all of them have finished. A failure cancels the siblings and reaches the owner. Cancellation
//!   is scoped ([`CancelScope`], deadlines, [`shield`]) and level-triggered.
//! - **A fast loop.** A completion-based driver that batches submissions into few syscalls.
//!
//! ```no_run
//! use std::time::Duration;
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     quartet::run(async {
//!         let words = ["tic", "tac", "toe"];
//!         quartet::nursery(async |n| {
//!             for (i, w) in words.iter().enumerate() {
//!                 n.spawn(async move {
//!                     quartet::sleep(Duration::from_millis(10 * i as u64)).await?;
//!                     println!("{w}");
//!                     Ok::<_, quartet::Cancelled>(())
//!                 })?;
//!             }
//!             Ok::<_, quartet::SpawnError>(())
//!         })
//!         .await
//!     })??;
//!     Ok(())
//! }
//! ```
#![deny(unsafe_op_in_unsafe_fn)]

/// The README's example, compiled as a doctest so it stays correct.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// The user guide (`docs/guide/`), each chapter compiled (and run) as doctests.
#[cfg(doctest)]
pub mod guide {
    #[doc = include_str!("../docs/guide/README.md")]
    pub struct GuideIndex;
    #[doc = include_str!("../docs/guide/01-first-program.md")]
    pub struct GuideFirstProgram;
    #[doc = include_str!("../docs/guide/02-nurseries.md")]
    pub struct GuideNurseries;
    #[doc = include_str!("../docs/guide/03-errors.md")]
    pub struct GuideErrors;
    #[doc = include_str!("../docs/guide/04-cancel-scopes-and-timeouts.md")]
    pub struct GuideCancelScopes;
    #[doc = include_str!("../docs/guide/05-shielded-cleanup.md")]
    pub struct GuideShieldedCleanup;
    #[doc = include_str!("../docs/guide/06-channels.md")]
    pub struct GuideChannels;
    #[doc = include_str!("../docs/guide/07-threads.md")]
    pub struct GuideThreads;
    #[doc = include_str!("../docs/guide/08-servers.md")]
    pub struct GuideServers;
    #[doc = include_str!("../docs/guide/09-testing.md")]
    pub struct GuideTesting;
    #[doc = include_str!("../docs/guide/10-testing-toolkit.md")]
    pub struct GuideTestingToolkit;
    #[doc = include_str!("../docs/guide/11-introspection.md")]
    pub struct GuideIntrospection;
    #[doc = include_str!("../docs/guide/12-multiple-cores.md")]
    pub struct GuideMultipleCores;
    #[doc = include_str!("../docs/guide/for-tokio-users.md")]
    pub struct GuideForTokioUsers;
    #[doc = include_str!("../docs/guide/for-trio-users.md")]
    pub struct GuideForTrioUsers;
    #[doc = include_str!("../docs/guide/what-compiles.md")]
    pub struct GuideWhatCompiles;
}

pub mod net;

pub use quartet_nursery::*;
pub use quartet_runtime::thread::{CapacityLimiter, from_thread, from_thread_sync, to_thread};
pub use quartet_runtime::{
    Builder, Cancelled, DEFAULT_CORE_WAKE_SPIN, Error, Instant, Interval, IoBuf, IoBufMut, MAX_BUSY_POLL,
    MissedTickBehavior, Mode, OpError, PartialWrite, Reason, RuntimeStats, SetupFlags, Sleep, Unavailable, checkpoint,
    find_cancelled, fs, interval, interval_at, introspect, is_cancellation, monitor, nop, now, process, run, signal,
    sleep, sleep_until, stats, task, testing, thread, yield_now,
};

/// Buffered I/O on owned buffers, `copy`/`copy_bidirectional`, and the adapters to the
/// `futures-io`, tokio and hyper traits (crate `quartet-io`; features `futures-io`, `tokio-io`,
/// `hyper` of this crate turn the adapters on).
pub use quartet_io as io;

/// `#[quartet::main]` and `#[quartet::test(mock_clock, explore = N, seed = S)]` (feature `macros`,
/// on by default).
#[cfg(feature = "macros")]
pub use quartet_macros::{main, test};

/// A snapshot of the runtime on this thread: nurseries, tasks, cancel scopes and what each parked
/// task waits on (see [`introspect`]); `None` outside `run`.
pub use quartet_runtime::introspect::task_tree;

/// The runtime crate, for lower-level pieces (the cancel stack, ready queues, the loom shim).
pub use quartet_runtime as runtime;
