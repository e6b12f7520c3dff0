//! The introspection state of one runtime, kept in the kernel's `Core`, and the builder's settings
//! for it. A data structure: it never reaches back into the kernel (the front-ends call it).
//!
//! - the **instrument** (`Option`), and `hooked`, the one `bool` a poll reads: true when an
//!   instrument or a watchdog wants to see polls;
//! - the **task registry** (`registry.rs`): one record per live scheduler (nursery), which lists
//!   its tasks when a dump asks; nothing per task.
//! - the **watchdog**'s shared slot (see `watchdog.rs`).

use super::OpInfo;
use super::instrument::Instrument;
use super::watchdog::{self, Watchdog};
use crate::task::TaskInfo;
use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The builder's introspection settings.
#[derive(Clone, Default)]
pub(crate) struct Config {
    pub instrument: Option<Arc<dyn Instrument>>,
    pub watchdog: Option<watchdog::Config>,
    pub dump_on_sigusr1: bool,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("instrument", &self.instrument.is_some())
            .field("watchdog", &self.watchdog.is_some())
            .field("dump_on_sigusr1", &self.dump_on_sigusr1)
            .finish()
    }
}

impl Config {
    /// The runtime's state; `handle` reaches the runtime being built (for `SIGUSR1` dumps).
    pub fn build(&self, handle: super::DumpHandle) -> State {
        let watchdog = self.watchdog.clone().map(Watchdog::start);
        let signal = if self.dump_on_sigusr1 {
            super::remote::enable_sigusr1(handle).map_err(|e| eprintln!("quartet: {e}")).ok()
        } else {
            None
        };
        State {
            _signal: signal,
            hooked: self.instrument.is_some() || watchdog.is_some(),
            instrument: self.instrument.clone(),
            watchdog,
            registry: RefCell::new(super::registry::Registry::default()),
        }
    }
}

/// Per-runtime introspection state, in the kernel's `Core`.
pub(crate) struct State {
    /// An instrument or a watchdog wants to see polls: the one branch of a poll.
    pub hooked: bool,
    pub instrument: Option<Arc<dyn Instrument>>,
    pub watchdog: Option<Watchdog>,
    pub registry: RefCell<super::registry::Registry>,
    /// Keeps this runtime among the `SIGUSR1` dump targets (held for its `Drop`).
    pub _signal: Option<super::remote::SignalDump>,
}

impl State {
    pub fn op_submitted(&self, op: u64, info: impl FnOnce() -> OpInfo) {
        if let Some(i) = &self.instrument {
            i.op_submitted(op, &info());
        }
    }

    pub fn before_poll(&self, task: Option<&TaskInfo>) {
        if let Some(w) = &self.watchdog {
            w.enter(task);
        }
        if let (Some(i), Some(t)) = (&self.instrument, task) {
            i.before_task_poll(t);
        }
    }

    pub fn after_poll(&self, task: Option<&TaskInfo>) {
        if let (Some(i), Some(t)) = (&self.instrument, task) {
            i.after_task_poll(t);
        }
        if let Some(w) = &self.watchdog {
            w.leave();
        }
    }

    /// Before the ring turn: returns when it started, if an instrument wants the wait time.
    pub fn before_io_wait(&self, wait: Option<Option<Duration>>) -> Option<Instant> {
        let i = self.instrument.as_ref()?;
        i.before_io_wait(wait.unwrap_or(Some(Duration::ZERO)));
        Some(Instant::now())
    }

    pub fn after_io_wait(&self, started: Option<Instant>, completed: &[(u64, i32)]) {
        let (Some(i), Some(started)) = (&self.instrument, started) else { return };
        i.after_io_wait(started.elapsed());
        for &(op, res) in completed {
            i.op_completed(op, res);
        }
    }
}

/// Called by a `ReadyQueue` on the kernel thread when a labelled slot is newly queued.
pub(crate) fn scheduled(task: u64) {
    let instrument = crate::kernel::context::with_core(|c| c.introspect.instrument.clone()).flatten();
    if let Some(i) = instrument {
        i.task_scheduled(task);
    }
}
