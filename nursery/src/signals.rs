//! Ctrl-C and SIGTERM as cancellation (semantics §8.3): [`cancel_on_signals`].
//!
//! A program that should shut down cleanly on a signal cancels its root scope, so every task
//! unwinds through its cleanup at its next checkpoint and the nursery returns a cancellation the
//! program can recognise. This module is that wiring: a watcher future, meant to run as a child of
//! the nursery it cancels. It is a hard cancel today; a graceful variant (ask first, cancel after a
//! grace period) would be a second constructor with the same shape.

use crate::scope::CancelHandle;
use quartet_runtime::signal::{Signal, Signals};
use quartet_runtime::{OpError, Reason};
use std::future::Future;
use std::io;

/// Blocks `signals` now and returns a future that waits for the first of them, then cancels the
/// scope behind `handle` with [`Reason::Signal`] and returns which signal came.
///
/// Call it early (the signals are blocked from this call on, so one that arrives before the
/// future is first polled is queued, not lost, and does not kill the process) and spawn the future
/// in the nursery whose scope it cancels. If that nursery is cancelled for another reason first,
/// the future ends with `Cancelled`, which the nursery absorbs.
///
/// After the first signal the future is finished and the signals are unblocked again, so a second
/// Ctrl-C during a slow cleanup has its default effect and ends the process: the usual escape
/// hatch.
///
/// # Errors
/// The `sigprocmask`/`signalfd` error from setting up.
///
/// # Cancellation
/// The future is a checkpoint; `Cancelled` means no signal was consumed and nothing was cancelled.
///
/// # Examples
/// ```no_run
/// use quartet_nursery::{cancel_on_signals, nursery, BoxError};
/// use quartet_runtime::signal::Signal;
/// # quartet_runtime::run(async {
/// let result = nursery(async |n| {
///     let on_signal = cancel_on_signals(&[Signal::Interrupt, Signal::Terminate], n.cancel_handle())?;
///     n.spawn_named("signal watcher", on_signal)?;
///     // ... the server's accept loop, until a signal cancels it ...
/// #   quartet_runtime::sleep(std::time::Duration::from_secs(3600)).await?;
///     Ok::<(), BoxError>(())
/// })
/// .await;
/// if let Err(e) = &result {
///     if e.is_cancelled() { println!("shut down cleanly"); }
/// }
/// # }).unwrap();
/// ```
pub fn cancel_on_signals(
    signals: &[Signal],
    handle: CancelHandle,
) -> io::Result<impl Future<Output = Result<Signal, OpError>> + use<>> {
    let watched = Signals::new(signals)?;
    Ok(async move {
        let which = watched.recv().await?;
        handle.cancel_with(Reason::Signal);
        Ok(which)
    })
}
