//! [`CoresError`]: why a group of cores did not return every core's value.

use crate::error::NurseryError;
use std::io;

/// Why [`PerCore::run`](crate::PerCore::run) did not return every core's value.
///
/// Bad settings are reported before any thread starts. Once the cores run, a core that could not
/// start (pinning, ring setup) cancels the others and its error is returned; otherwise the bodies'
/// failures come back together in [`CoresError::Tasks`], each with `core N` as its origin.
///
/// # Examples
/// ```
/// use quartet_nursery::{CoresError, PerCore};
/// let err = PerCore::new(0).run(|_core| async { Ok::<_, quartet_nursery::BoxError>(()) }).unwrap_err();
/// assert!(matches!(err, CoresError::NoCores));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CoresError {
    /// `PerCore::new(0)`: a group needs at least one core.
    #[error("a group of cores needs at least one core")]
    NoCores,
    /// Pinning was asked for with more cores than CPUs this process may run on.
    #[error(
        "{requested} cores asked for, but only {available} CPUs are available to pin them to (turn pinning off to run more threads than CPUs)"
    )]
    TooManyCores {
        /// Cores asked for.
        requested: usize,
        /// CPUs in the calling thread's affinity set.
        available: usize,
    },
    /// Unpinned ([`Pinning::Off`](crate::Pinning::Off)) with more cores than a group may run
    /// (each core is a thread with its own ring); refused before any thread starts.
    #[error("{requested} unpinned cores asked for; a group runs at most {max}")]
    TooManyThreads {
        /// Cores asked for.
        requested: usize,
        /// The most cores a group runs.
        max: usize,
    },
    /// An explicit CPU list does not have one CPU per core.
    #[error("{cpus} CPUs listed for {cores} cores; list one CPU per core")]
    CpuCount {
        /// CPUs listed.
        cpus: usize,
        /// Cores asked for.
        cores: usize,
    },
    /// A listed CPU is not in the calling thread's affinity set (offline, or outside the cpuset).
    #[error("CPU {cpu} is not one this process may run on")]
    CpuNotAllowed {
        /// The CPU.
        cpu: usize,
    },
    /// A CPU is listed twice.
    #[error("CPU {cpu} is listed twice")]
    DuplicateCpu {
        /// The CPU.
        cpu: usize,
    },
    /// Reading the affinity set failed.
    #[error("reading the CPU affinity: {0}")]
    Affinity(#[source] io::Error),
    /// Pinning a core's thread failed.
    #[error("pinning core {core} to CPU {cpu}: {source}")]
    Pin {
        /// The core.
        core: usize,
        /// The CPU.
        cpu: usize,
        /// The `sched_setaffinity` error.
        #[source]
        source: io::Error,
    },
    /// Starting a core's thread failed.
    #[error("starting the thread of core {core}: {source}")]
    Thread {
        /// The core.
        core: usize,
        /// The `std::thread::Builder::spawn` error.
        #[source]
        source: io::Error,
    },
    /// A core's runtime could not start (or its ring failed).
    #[error("the runtime of core {core}: {source}")]
    Runtime {
        /// The core.
        core: usize,
        /// The runtime's error.
        #[source]
        source: quartet_runtime::Error,
    },
    /// Setting up the signal watch failed.
    #[error("watching signals: {0}")]
    Signals(#[source] io::Error),
    /// The bodies failed (every failure, origin `core N`), or the group was cancelled from
    /// outside (a signal, [`PerCore::handle`](crate::PerCore::handle)) before every body returned.
    #[error(transparent)]
    Tasks(NurseryError),
}

impl CoresError {
    /// True if the group ended because it was cancelled (a signal, its handle) and no body failed.
    ///
    /// ```
    /// use quartet_nursery::PerCore;
    /// let group = PerCore::new(1).pin(quartet_nursery::Pinning::Off);
    /// group.handle().cancel();
    /// let err = group
    ///     .run(|_core| async {
    ///         quartet_runtime::checkpoint().await?;
    ///         Ok::<_, quartet_nursery::BoxError>(())
    ///     })
    ///     .unwrap_err();
    /// assert!(err.is_cancelled());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        matches!(self, CoresError::Tasks(e) if e.is_cancelled())
    }
}
