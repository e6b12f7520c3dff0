//! The builder's introspection settings (kept here so `builder.rs` only holds the field).

use super::instrument::Instrument;
use super::watchdog::{self, StuckPollReporter};
use crate::Builder;
use std::sync::Arc;
use std::time::Duration;

impl Builder {
    /// Registers an [`Instrument`]: the runtime calls it, on its own thread, for each task spawn,
    /// wake, poll and exit, each wait for I/O and each ring op. Without one, each of those events
    /// costs one branch (see [`introspect`](crate::introspect)).
    ///
    /// # Examples
    /// ```
    /// use quartet_runtime::introspect::Instrument;
    /// use quartet_runtime::task::TaskInfo;
    /// use std::sync::Arc;
    /// struct Spawns;
    /// impl Instrument for Spawns {
    ///     fn task_spawned(&self, task: &TaskInfo) {
    ///         eprintln!("spawned {task}");
    ///     }
    /// }
    /// quartet_runtime::Builder::new().instrument(Arc::new(Spawns)).run(async {}).unwrap();
    /// ```
    pub fn instrument(mut self, instrument: Arc<dyn Instrument>) -> Builder {
        self.introspect.instrument = Some(instrument);
        self
    }

    /// Starts a watchdog thread that reports (to `reporter`) a poll that has been running longer
    /// than `threshold` and has not returned, naming the task and where it was spawned: a task
    /// spinning in a loop or blocked in a syscall is named while it is stuck. Each poll then costs
    /// a mutex lock and a `TaskInfo` clone.
    ///
    /// # Examples
    /// ```
    /// use quartet_runtime::introspect::StderrStuckReporter;
    /// use std::time::Duration;
    /// quartet_runtime::Builder::new()
    ///     .watchdog(Duration::from_millis(500), StderrStuckReporter)
    ///     .run(async {})
    ///     .unwrap();
    /// ```
    pub fn watchdog(mut self, threshold: Duration, reporter: impl StuckPollReporter) -> Builder {
        self.introspect.watchdog = Some(watchdog::Config { threshold, reporter: Arc::new(reporter) });
        self
    }

    /// Prints the task tree ([`task_tree`](crate::introspect::task_tree)) to stderr when the process
    /// receives `SIGUSR1` (`kill -USR1 <pid>`), so a hung program can be inspected. Installs a
    /// process-wide `SIGUSR1` handler on first use; a handler the program installed before is
    /// kept and called after the dump is requested (chained, not replaced). Do not combine with a
    /// `Signals` stream for `SIGUSR1`, which blocks the signal.
    ///
    /// # Examples
    /// ```no_run
    /// quartet_runtime::Builder::new().dump_on_sigusr1(true).run(async {
    ///     // `kill -USR1 <pid>` now prints what every task waits on
    /// }).unwrap();
    /// ```
    pub fn dump_on_sigusr1(mut self, on: bool) -> Builder {
        self.introspect.dump_on_sigusr1 = on;
        self
    }
}
