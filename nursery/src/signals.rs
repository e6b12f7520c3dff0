//! Ctrl-C and SIGTERM as cancellation (semantics §8.3): [`cancel_on_signals`] and
//! [`cancel_on_signals_gracefully`].
//!
//! A program that should shut down cleanly on a signal cancels a scope (often the root one,
//! [`CancelHandle::root`]), so every task in it unwinds through its cleanup at its next checkpoint
//! and the nursery returns a cancellation the program can recognise. This module is that wiring: a
//! watcher future that blocks the signals as soon as it is created and acts on them when they
//! arrive. Spawn it as a child of a nursery that outlives the work it cancels, and stop it (cancel
//! that nursery) once the work is done.

use crate::scope::CancelHandle;
use quartet_runtime::signal::{Signal, Signals};
use quartet_runtime::{OpError, Reason};
use std::future::Future;
use std::io;
use std::time::Duration;

/// Blocks `signals` now and returns a future that waits for the first of them, then cancels the
/// scope behind `handle` with [`Reason::Signal`] and returns which signal came.
///
/// Call it early (the signals are blocked from this call on, so one that arrives before the
/// future is first polled is queued, not lost, and does not kill the process) and spawn the future
/// in the nursery whose scope it cancels, or pass [`CancelHandle::root`] to cancel everything. If
/// the watcher's own scope is cancelled first, it ends with `Cancelled`, which its nursery absorbs.
///
/// After the first signal the future is finished and the signals are unblocked again, so a second
/// Ctrl-C during a slow cleanup has its default effect and ends the process: the usual escape
/// hatch. For a drain period first, see [`cancel_on_signals_gracefully`].
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

/// Like [`cancel_on_signals`], in two steps: the first signal cancels the scope *gracefully*
/// (code inside sees [`shutdown_requested`](crate::shutdown_requested), idle waits wrapped in
/// [`move_on_shutdown`](crate::move_on_shutdown) end, and after `grace` the scope is
/// hard-cancelled), a second signal cancels it at once with [`Reason::Signal`]. The future returns
/// the second signal; stop it earlier by cancelling the nursery it runs in once the drained work
/// has finished (or it waits for the grace period).
///
/// # Errors
/// The `sigprocmask`/`signalfd` error from setting up.
///
/// # Cancellation
/// The future is a checkpoint; `Cancelled` means no signal was consumed after the last one it
/// acted on.
///
/// # Examples
/// ```no_run
/// use quartet_nursery::{BoxError, CancelScope, cancel_on_signals_gracefully, nursery};
/// use quartet_runtime::signal::Signal;
/// use std::time::Duration;
/// # quartet_runtime::run(async {
/// let work = CancelScope::new();
/// nursery(async |outer| {
///     let on_signal = cancel_on_signals_gracefully(&[Signal::Terminate], work.handle(), Duration::from_secs(5))?;
///     outer.spawn(on_signal)?;
///     // ... `work.run(...)` drains on the first SIGTERM ...
///     outer.cancel(); // the work is done: stop watching
///     Ok::<(), BoxError>(())
/// })
/// .await
/// # .ok();
/// # }).unwrap();
/// ```
pub fn cancel_on_signals_gracefully(
    signals: &[Signal],
    handle: CancelHandle,
    grace: Duration,
) -> io::Result<impl Future<Output = Result<Signal, OpError>> + use<>> {
    let watched = Signals::new(signals)?;
    Ok(async move {
        watched.recv().await?;
        handle.cancel_gracefully(grace);
        let again = watched.recv().await?;
        handle.cancel_with(Reason::Signal);
        Ok(again)
    })
}
