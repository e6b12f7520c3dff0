//! quartet's kernel: a single-threaded, coroutine-only runtime on an io_uring completion driver.
//!
//! Most programs use the `quartet` facade crate. This crate provides:
//! - [`run`] / [`Builder`]: create the ring, drive a future, shut down cleanly;
//! - owned-buffer I/O ([`net`], [`fs`], [`IoBuf`]/[`IoBufMut`]) whose buffers the driver keeps alive
//!   until the kernel is done with them, whatever happens to the future;
//! - time ([`sleep`], [`Timer`], [`interval`]) and the cancel state every operation checks ([`cancel`]);
//! - the hooks a structured scheduler builds on ([`hooks`]: ready queues, the cancel-status tree,
//!   the park primitive, the tick budget), used by `quartet-nursery`.
//!
//! There is no `spawn` here and no API that takes a callback: concurrency comes from nurseries in
//! `quartet-nursery`, and a completion only ever wakes the future that waits for it.
//!
//! ```no_run
//! use quartet_runtime::{fs::File, run};
//! run(async {
//!     let f = File::open("/etc/hostname").await?;
//!     let (n, buf) = f.read_at(vec![0u8; 0].into_iter().collect::<Vec<u8>>(), 0).await;
//!     let _ = (n?, buf);
//!     Ok::<(), quartet_runtime::OpError>(())
//! }).unwrap().unwrap();
//! ```
#![deny(unsafe_op_in_unsafe_fn)]

mod buf;
mod builder;
#[doc(hidden)] // machinery for quartet-nursery, not a user API
pub mod cancel;
mod driver;
mod error;
mod fallback;
mod fd;
pub mod fs;
pub mod fused;
pub mod group;
pub mod hooks;
mod interval;
pub mod introspect;
pub mod io;
mod kernel;
pub mod monitor;
#[doc(hidden)] // planted bugs for scripts/mutants.sh (loom builds only)
pub mod mutant;
pub mod net;
mod op;
pub mod process;
pub mod signal;
mod stable;
#[doc(hidden)] // the std/loom shim, public for the loom models
pub mod sync;
pub mod task;
pub mod testing;
pub mod thread;
mod time;
mod wake;
mod write_all;

pub use buf::{DEFAULT_READ_CHUNK, IoBuf, IoBufMut};
pub use builder::{Builder, DEFAULT_CORE_WAKE_SPIN, MAX_BUSY_POLL, RuntimeStats, run, stats};
pub use driver::{DriverStats, Mode, SetupFlags};
pub use error::{
    Cancelled, Error, OpError, PartialWrite, Reason, TooSlow, Unavailable, find_cancelled, is_cancellation,
};
pub use interval::{Interval, MissedTickBehavior, interval, interval_at};
#[doc(hidden)]
pub use kernel::waker::ReadyQueue;
pub use task::{checkpoint, yield_now};
pub use testing::now;
#[doc(hidden)] // a re-armable timer for quartet-nursery's scopes
pub use time::Timer;
pub use time::{Instant, Sleep, sleep, sleep_until};
#[doc(hidden)]
pub use wake::remote::{RemoteQueue, Unpark, WakeFlags};

pub(crate) use net::clamp_len as net_clamp;

/// What loom models need to run the real wakers without a ring (`runtime/tests/loom_waker.rs`).
#[cfg(loom)]
#[doc(hidden)]
pub mod model {
    pub use crate::introspect::watchdog::Watchdog;
    pub use crate::kernel::context::{ModelKernel, enter_model_kernel};
    pub use crate::wake::msg_ring::{CoreUnpark, ModelSender, RingTarget, enter_model_sender};
    pub use crate::wake::remote::EventFd;
}

/// Submits a no-op through the ring and waits for it: the cheapest real ring round trip, useful
/// for measuring the driver's overhead.
///
/// # Cancellation
/// A checkpoint; `Cancelled` means the nop was not submitted or was cancelled.
///
/// # Examples
/// ```
/// quartet_runtime::run(async { quartet_runtime::nop().await }).unwrap().unwrap();
/// ```
///
/// # Threads
/// Not `Send`, like every future that holds a ring op:
/// ```compile_fail,E0277
/// fn assert_send<T: Send>(_: T) {}
/// assert_send(quartet_runtime::nop());
/// ```
pub fn nop() -> impl std::future::Future<Output = Result<(), OpError>> {
    crate::fused::once(async move { op::Op::new(op::Nop).await.0.map(drop) })
}
