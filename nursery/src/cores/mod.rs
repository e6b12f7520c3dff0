//! Several cores: one kernel and ring per core, each on its own pinned thread, structured as one
//! group ([`PerCore`], [`run_per_core`]).
//!
//! A quartet kernel is single-threaded: its streams, ops and tasks are `!Send` and never leave
//! their ring. A program that outgrows one core runs the same `async` body once per core, each
//! on its own thread with its own ring (thread-per-core, as monoio and glommio do), and shares
//! nothing on the hot path. What this module adds is the *structure* around those threads:
//!
//! - **All or nothing.** [`PerCore::run`] returns only when every core's body has finished (and
//!   its runtime has shut down). Nothing outlives the call.
//! - **One cancel scope across cores.** Every body runs inside one group scope (one
//!   `ScopeState`, activated once on each core's thread). A body that fails, or panics, or a
//!   core that cannot start, cancels the group: the other cores' bodies see `Cancelled` at their
//!   next checkpoint. The cancel walk of each core runs on that core's own thread (the request
//!   crosses through the core's remote-wake queue, invariant C1), so cross-core cancellation is
//!   the same code as a cancel from any other thread.
//! - **Failures come back together.** Every body's error is reported in
//!   [`CoresError::Tasks`], with `core N` as its origin; cancellations caused by the group are
//!   filtered out. A panic is resumed, with its payload, on the calling thread after every core
//!   has finished.
//! - **Signals.** [`PerCore::cancel_on_signals`] blocks the signals on the calling thread before
//!   the cores' threads start (they inherit the mask, so no thread takes the default action); the
//!   calling thread, otherwise idle while it waits for the cores, reads them from a signalfd and
//!   cancels the group. See `quartet_runtime::group` for why it must be done in that order.
//!
//! Values move between cores through `Send` types: the memory [`channel`](crate::channel) is
//! `Send + Sync` and a send from one core wakes the receiving task on its own core (through that
//! core's remote-wake queue); cancel handles are `Send + Sync`.

mod error;
#[cfg(loom)]
pub mod remote;
#[cfg(not(loom))]
mod remote;
mod spawn;
mod thread;

pub use error::CoresError;
pub use spawn::{CoreJoinHandle, CoreNursery};

use crate::error::{Failure, NurseryError};
use crate::scope::CancelHandle;
use quartet_runtime::hooks::ScopeState;
use quartet_runtime::signal::Signal;
use quartet_runtime::{Builder, Cancelled, Reason};
use std::future::Future;
use std::panic::resume_unwind;
use std::sync::Arc;
use std::time::Duration;
use thread::Exit;

/// The most cores an unpinned group runs. Pinned groups are bounded by the CPUs; without this
/// bound an absurd count would fail on the allocation of the placement list (an abort, not an
/// error) or start threads until the process ran out of them. Each core is a thread with its
/// own ring, so a thousand is already far past any useful group.
const MAX_UNPINNED_CORES: usize = 1024;

/// Which CPU each core's thread runs on.
///
/// # Examples
/// ```
/// use quartet_nursery::{PerCore, Pinning};
/// let group = PerCore::new(2).pin(Pinning::Off); // let the OS schedule the threads
/// # let _ = group;
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Pinning {
    /// Core `i` runs on the `i`-th CPU of the calling thread's affinity set (the default).
    #[default]
    Auto,
    /// Core `i` runs on `cpus[i]`.
    Cpus(Vec<usize>),
    /// No pinning: up to 1024 cores (more than the CPUs is fine), scheduled by the OS.
    Off,
}

/// A group of cores to run: how many, pinned where, with which runtime settings, watching which
/// signals. See the [module docs](self).
///
/// # Examples
/// ```
/// use quartet_nursery::{BoxError, Core, PerCore, Pinning};
/// let indices = PerCore::new(2)
///     .pin(Pinning::Off)
///     .run(|core: Core| async move {
///         quartet_runtime::checkpoint().await?; // each core runs its own kernel
///         Ok::<_, BoxError>(core.index())
///     })?;
/// assert_eq!(indices, vec![0, 1]);
/// # Ok::<(), quartet_nursery::CoresError>(())
/// ```
#[derive(Debug)]
pub struct PerCore {
    cores: usize,
    pinning: Pinning,
    builder: Builder,
    signals: Vec<Signal>,
    grace: Option<Duration>,
    group: Arc<ScopeState>,
}

/// One core's view of its group: its index, the group's size and cancel handle. Passed to the
/// body that runs on that core.
///
/// # Examples
/// ```
/// use quartet_nursery::{BoxError, Core, PerCore, Pinning};
/// PerCore::new(2).pin(Pinning::Off).run(|core: Core| async move {
///     if core.index() == 1 {
///         core.group().cancel(); // stops every core's body at its next checkpoint
///     }
///     quartet_runtime::sleep(std::time::Duration::from_secs(60)).await?;
///     Ok::<_, BoxError>(())
/// }).unwrap_err();
/// ```
#[derive(Debug, Clone)]
pub struct Core {
    index: usize,
    count: usize,
    cpu: Option<usize>,
    group: CancelHandle,
    shared: Arc<spawn::Group>,
}

impl Core {
    /// This core's index, `0..count()`.
    pub fn index(&self) -> usize {
        self.index
    }

    /// How many cores the group has.
    pub fn count(&self) -> usize {
        self.count
    }

    /// The CPU this core's thread is pinned to, or `None` without pinning.
    pub fn cpu(&self) -> Option<usize> {
        self.cpu
    }

    /// The group's cancel handle (`Send + Sync`): cancelling it, at once or gracefully, reaches
    /// every core.
    pub fn group(&self) -> CancelHandle {
        self.group.clone()
    }
}

/// Runs `body` once on each of `cores` cores, pinned, with default runtime settings. See
/// [`PerCore::run`].
///
/// # Errors
/// See [`PerCore::run`].
///
/// # Examples
/// ```no_run
/// let sums = quartet_nursery::run_per_core(2, |core| async move {
///     Ok::<_, quartet_nursery::BoxError>(core.index() * 10)
/// })?;
/// assert_eq!(sums, vec![0, 10]);
/// # Ok::<(), quartet_nursery::CoresError>(())
/// ```
pub fn run_per_core<F, Fut, T, E>(cores: usize, body: F) -> Result<Vec<T>, CoresError>
where
    F: Fn(Core) -> Fut + Sync,
    Fut: Future<Output = Result<T, E>>,
    T: Send,
    E: Into<crate::BoxError>,
{
    PerCore::new(cores).run(body)
}

impl PerCore {
    /// A group of `cores` cores, pinned ([`Pinning::Auto`]), with default runtime settings and no
    /// signal handling. Settings are checked by [`run`](Self::run).
    pub fn new(cores: usize) -> PerCore {
        PerCore {
            cores,
            pinning: Pinning::Auto,
            builder: Builder::new(),
            signals: Vec::new(),
            grace: None,
            group: ScopeState::new(),
        }
    }

    /// Where the cores' threads run (default [`Pinning::Auto`]).
    pub fn pin(mut self, pinning: Pinning) -> PerCore {
        self.pinning = pinning;
        self
    }

    /// The runtime settings of every core (each core gets a clone). Unless `builder` sets
    /// [`Builder::wake_spin`], each pinned core gets
    /// [`DEFAULT_CORE_WAKE_SPIN`](quartet_runtime::DEFAULT_CORE_WAKE_SPIN): a core woken by
    /// another spins briefly before it sleeps again (`wake_spin(Duration::ZERO)` turns this off;
    /// with [`Pinning::Off`] it is off unless set, since unpinned threads may share a CPU).
    ///
    /// ```
    /// use quartet_nursery::{PerCore, Pinning};
    /// let group = PerCore::new(2).pin(Pinning::Off).runtime(quartet_runtime::Builder::new().entries(64));
    /// group.run(|_| async { Ok::<_, quartet_nursery::BoxError>(()) })?;
    /// # Ok::<(), quartet_nursery::CoresError>(())
    /// ```
    pub fn runtime(mut self, builder: Builder) -> PerCore {
        self.builder = builder;
        self
    }

    /// The first of `signals` cancels the whole group ([`Reason::Signal`]). The signals are
    /// blocked on the calling thread when [`run`](Self::run) starts, before the cores' threads
    /// (which inherit the mask); the calling thread reads them while it waits for the cores.
    /// After that first signal they are unblocked on the calling thread, so a second Ctrl-C
    /// during a slow cleanup ends the process (the usual escape hatch).
    pub fn cancel_on_signals(mut self, signals: &[Signal]) -> PerCore {
        self.signals = signals.to_vec();
        self.grace = None;
        self
    }

    /// Like [`cancel_on_signals`](Self::cancel_on_signals) in two steps: the first signal cancels
    /// the group gracefully (every core sees `shutdown_requested`, and after `grace` the group is
    /// hard-cancelled), a second cancels it at once.
    pub fn cancel_on_signals_gracefully(mut self, signals: &[Signal], grace: Duration) -> PerCore {
        self.signals = signals.to_vec();
        self.grace = Some(grace);
        self
    }

    /// A `Send + Sync` handle to the group's cancel scope, usable before, during and after
    /// [`run`](Self::run) from any thread; cancelling it (at once or gracefully) reaches every core.
    ///
    /// ```
    /// use quartet_nursery::{PerCore, Pinning};
    /// let group = PerCore::new(2).pin(Pinning::Off);
    /// let stop = group.handle();
    /// let err = group
    ///     .run(|core| {
    ///         let stop = stop.clone();
    ///         async move {
    ///             if core.index() == 0 {
    ///                 std::thread::spawn(move || stop.cancel()); // from any thread
    ///             }
    ///             quartet_runtime::sleep(std::time::Duration::from_secs(60)).await?;
    ///             Ok::<_, quartet_nursery::BoxError>(())
    ///         }
    ///     })
    ///     .unwrap_err();
    /// assert!(err.is_cancelled());
    /// ```
    pub fn handle(&self) -> CancelHandle {
        CancelHandle::from_state(self.group.clone())
    }

    /// Starts one thread per core (pinned as configured), runs a runtime with `body(core)` as its
    /// root on each, and returns every body's value in core order once all have finished.
    ///
    /// `body` is shared by the threads (`Sync`); the future it returns is made and driven on its
    /// core's thread, so it need not be `Send` (it may hold streams, ops, `Rc`s).
    ///
    /// # Errors
    /// - Settings, before any thread starts: [`CoresError::NoCores`], [`CoresError::TooManyCores`],
    ///   [`CoresError::CpuCount`], [`CoresError::CpuNotAllowed`], [`CoresError::DuplicateCpu`],
    ///   [`CoresError::Affinity`], [`CoresError::Signals`].
    /// - A core that could not start ([`CoresError::Pin`], [`CoresError::Thread`],
    ///   [`CoresError::Runtime`]); the other cores were cancelled.
    /// - [`CoresError::Tasks`]: every body's failure (origin `core N`), or the group's
    ///   cancellation if it was cancelled from outside and no body failed.
    ///
    /// # Panics
    /// A panic in a body cancels the other cores and is resumed here, with its payload, after
    /// every core has finished. Bad settings never panic.
    pub fn run<F, Fut, T, E>(self, body: F) -> Result<Vec<T>, CoresError>
    where
        F: Fn(Core) -> Fut + Sync,
        Fut: Future<Output = Result<T, E>>,
        T: Send,
        E: Into<crate::BoxError>,
    {
        let cpus = self.placement()?;
        let mut watch = if self.signals.is_empty() {
            None
        } else {
            Some(quartet_runtime::group::SignalWatch::new(&self.signals).map_err(CoresError::Signals)?)
        };
        let bell = quartet_runtime::group::Doorbell::new().map_err(CoresError::Signals)?;
        let shared = Arc::new(spawn::Group::new(self.cores));
        let exits: Vec<Exit<T>> = std::thread::scope(|s| {
            let mut handles = Vec::with_capacity(self.cores);
            for (index, cpu) in cpus.iter().copied().enumerate() {
                let core = Core { index, count: self.cores, cpu, group: self.handle(), shared: shared.clone() };
                // Pinned cores, each on its own CPU, hand work to each other: they spin after a
                // cross-core wake unless told not to. Unpinned threads may share a CPU, where a
                // spin would only delay the thread it waits for: they spin only if told to.
                let builder = match cpu {
                    Some(_) => self.builder.clone().wake_spin_or(quartet_runtime::DEFAULT_CORE_WAKE_SPIN),
                    None => self.builder.clone(),
                };
                let spawned = thread::spawn_core(s, core, builder, self.group.clone(), &body, &bell);
                if spawned.is_err() {
                    self.group.cancel(Reason::SiblingFailed(format!("core {index} could not start")));
                    shared.body_done();
                    thread::close_mailbox(&shared, index);
                    // It will never ring: count it as finished for the signal watch.
                    bell.ring();
                }
                handles.push(spawned.map_err(|source| CoresError::Thread { core: index, source }));
            }
            if let Some(w) = watch.as_mut() {
                self.watch_signals(w, &bell);
            }
            handles
                .into_iter()
                .map(|h| match h {
                    Ok(h) => h.join().unwrap_or_else(Exit::Panicked),
                    Err(e) => Exit::Setup(e),
                })
                .collect()
        });
        drop(watch);
        self.collect(exits)
    }

    /// The CPU of each core, or `None`s without pinning; checks the settings.
    fn placement(&self) -> Result<Vec<Option<usize>>, CoresError> {
        if self.cores == 0 {
            return Err(CoresError::NoCores);
        }
        let allowed = || quartet_runtime::group::allowed_cpus().map_err(CoresError::Affinity);
        match &self.pinning {
            Pinning::Off if self.cores > MAX_UNPINNED_CORES => {
                Err(CoresError::TooManyThreads { requested: self.cores, max: MAX_UNPINNED_CORES })
            }
            Pinning::Off => Ok(vec![None; self.cores]),
            Pinning::Auto => {
                let allowed = allowed()?;
                if allowed.len() < self.cores {
                    return Err(CoresError::TooManyCores { requested: self.cores, available: allowed.len() });
                }
                Ok(allowed.into_iter().take(self.cores).map(Some).collect())
            }
            Pinning::Cpus(list) => {
                if list.len() != self.cores {
                    return Err(CoresError::CpuCount { cpus: list.len(), cores: self.cores });
                }
                let allowed = allowed()?;
                for (i, cpu) in list.iter().enumerate() {
                    if !allowed.contains(cpu) {
                        return Err(CoresError::CpuNotAllowed { cpu: *cpu });
                    }
                    if list[..i].contains(cpu) {
                        return Err(CoresError::DuplicateCpu { cpu: *cpu });
                    }
                }
                Ok(list.iter().copied().map(Some).collect())
            }
        }
    }

    /// The calling thread's wait: signals cancel the group; returns when every core has rung.
    fn watch_signals(&self, watch: &mut quartet_runtime::group::SignalWatch, bell: &quartet_runtime::group::Doorbell) {
        let mut finished = 0u64;
        let mut graceful_sent = false;
        while finished < self.cores as u64 {
            match watch.wait(bell) {
                Ok(Some(_)) => match self.grace {
                    Some(grace) if !graceful_sent => {
                        graceful_sent = true;
                        self.group.cancel_gracefully(grace);
                    }
                    _ => {
                        self.group.cancel(Reason::Signal);
                        // A further signal now has its default effect on this thread.
                        watch.unblock();
                        return;
                    }
                },
                Ok(None) => finished += bell.take(),
                // Cannot watch any more: leave the signals blocked and just wait for the cores.
                Err(_) => return,
            }
        }
    }

    /// Every core's exit, in core order, as the group's result (resuming a panic).
    fn collect<T>(&self, exits: Vec<Exit<T>>) -> Result<Vec<T>, CoresError> {
        let mut values = Vec::with_capacity(exits.len());
        let mut failures = Vec::new();
        let mut setup = None;
        let mut panic = None;
        let mut cancelled = None;
        for (index, exit) in exits.into_iter().enumerate() {
            match exit {
                Exit::Done(v) => values.push(v),
                Exit::Failed(e) => failures.push(Failure::new(format!("core {index}"), e)),
                Exit::Cancelled(c) => cancelled = cancelled.or(Some(c)),
                Exit::Setup(e) => setup = setup.or(Some(e)),
                Exit::Panicked(p) => panic = panic.or(Some(p)),
            }
        }
        if let Some(p) = panic {
            crate::error::report_failures_behind_panic("a group of cores", &failures);
            resume_unwind(p);
        }
        if let Some(e) = setup {
            return Err(e);
        }
        if !failures.is_empty() {
            return Err(CoresError::Tasks(NurseryError::failed(failures)));
        }
        if let Some(c) = cancelled {
            let c = self.group.reason().map(Cancelled::new).unwrap_or(c);
            return Err(CoresError::Tasks(NurseryError::from_cancel(c, true)));
        }
        Ok(values)
    }
}

/// Polls `fut`, catching a panic of any poll as `Err(payload)` (the future is not polled again).
pub(crate) async fn catch_unwind<F: Future>(fut: F) -> Result<F::Output, remote::Payload> {
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(|cx| match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
        Ok(std::task::Poll::Ready(v)) => std::task::Poll::Ready(Ok(v)),
        Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
        Err(payload) => std::task::Poll::Ready(Err(payload)),
    })
    .await
}
