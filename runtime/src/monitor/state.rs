//! The monitor's per-runtime state and the builder's settings for it. A data structure kept in the
//! kernel's `Core`: it never reaches back into the kernel; the front-end (`super`) does.

use super::lag::LoopLag;
use super::{DEFAULT_SLOW_POLL_THRESHOLD, ENV_SLOW_POLL_MS, SlowPollReporter, StderrReporter, parse_slow_poll_ms};
use std::cell::{Cell, RefCell};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// The builder's monitor settings.
#[derive(Clone, Default)]
pub(crate) struct Config {
    /// `None`: not set, use the environment variable.
    pub threshold: Option<Option<Duration>>,
    pub reporter: Option<Arc<dyn SlowPollReporter>>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("threshold", &self.threshold)
            .field("custom_reporter", &self.reporter.is_some())
            .finish()
    }
}

impl Config {
    /// The runtime's monitor: the explicit threshold, else `QUARTET_SLOW_POLL_MS`, else
    /// [`DEFAULT_SLOW_POLL_THRESHOLD`] (a bad value is reported on stderr and the default used: a
    /// debugging aid must not stop the program).
    pub fn build(&self) -> Monitor {
        let threshold = match self.threshold {
            Some(t) => t,
            None => match std::env::var(ENV_SLOW_POLL_MS) {
                Ok(v) => parse_slow_poll_ms(&v).unwrap_or_else(|e| {
                    eprintln!("quartet: ignoring {e}");
                    DEFAULT_SLOW_POLL_THRESHOLD
                }),
                Err(_) => DEFAULT_SLOW_POLL_THRESHOLD,
            },
        };
        Monitor {
            threshold,
            reporter: self.reporter.clone().unwrap_or_else(|| Arc::new(StderrReporter)),
            nested: Cell::new(Duration::ZERO),
            slow: Cell::new(0),
            lag: RefCell::new(LoopLag::default()),
        }
    }
}

/// Per-runtime monitor state, in the kernel's `Core`.
pub(crate) struct Monitor {
    pub(super) threshold: Option<Duration>,
    pub(super) reporter: Arc<dyn SlowPollReporter>,
    /// Time spent so far in timed polls nested inside the current one.
    pub(super) nested: Cell<Duration>,
    pub(super) slow: Cell<u64>,
    pub(super) lag: RefCell<LoopLag>,
}

impl Monitor {
    pub fn record_lag(&self, late: Duration) {
        self.lag.borrow_mut().record(late);
    }
}
