//! The watchdog: a thread that names the task whose poll has not returned for longer than a
//! threshold, *while it is still stuck* (the slow-poll detector in `monitor` can only report a
//! poll after it returns, so a task spinning forever or blocked in a syscall is never named).
//!
//! The kernel thread publishes each poll on a shared stack (push at `before_poll`, pop at
//! `after_poll`; nested polls, a task polling a nursery polling its children, stack up), so the
//! top is always the innermost poll in progress. The watchdog thread wakes every quarter threshold
//! and reports the top frame once if it has been running longer than the threshold.
//!
//! Cost: only when enabled (`Builder::watchdog`), one uncontended mutex lock and a clone of the
//! task's `TaskInfo` per poll; nothing otherwise (the poll's `hooked` branch is false).
//!
//! # Invariants
//! - **W1** Each stuck poll is reported at most once (frames carry a sequence number; the thread
//!   remembers the last one reported).
//! - **W2** The thread holds the stack's lock only to look at the top frame; it reports after
//!   releasing it, so a slow reporter never delays the kernel's next poll.
//! - **W3** Dropping the runtime's state stops and joins the thread: `stop` is set under the lock
//!   and checked under it before every wait, so the stop's notification is never missed.

use crate::sync::{Arc, Condvar, Mutex, lock, wait_timeout};
use crate::task::TaskInfo;
use std::fmt;
use std::time::{Duration, Instant};

/// A poll that has been running longer than the watchdog's threshold and has not returned yet.
///
/// # Examples
/// ```
/// use quartet_runtime::introspect::{StuckPoll, StuckPollReporter};
/// struct Log;
/// impl StuckPollReporter for Log {
///     fn report(&self, stuck: &StuckPoll) {
///         eprintln!("{stuck}"); // names the task and its spawn location
///     }
/// }
/// # let _ = quartet_runtime::Builder::new().watchdog(std::time::Duration::from_secs(1), Log);
/// ```
#[derive(Debug, Clone)]
pub struct StuckPoll {
    task: Option<TaskInfo>,
    stuck_for: Duration,
    threshold: Duration,
}

impl StuckPoll {
    /// The task, or `None` for the root future passed to `run`.
    pub fn task(&self) -> Option<&TaskInfo> {
        self.task.as_ref()
    }

    /// How long the poll had been running when it was reported.
    pub fn stuck_for(&self) -> Duration {
        self.stuck_for
    }

    /// The threshold it exceeded.
    pub fn threshold(&self) -> Duration {
        self.threshold
    }
}

impl fmt::Display for StuckPoll {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.task {
            Some(t) => write!(f, "stuck poll: task {t}")?,
            None => f.write_str("stuck poll: the root future passed to run")?,
        }
        write!(f, " has held the loop for {:.3?} and has not returned (threshold {:?})", self.stuck_for, self.threshold)
    }
}

/// Receives the watchdog's reports. Called on the watchdog's own thread (the runtime's thread is
/// the one that is stuck).
///
/// # Examples
/// ```
/// use quartet_runtime::introspect::{StuckPoll, StuckPollReporter};
/// use std::sync::{Arc, Mutex};
/// #[derive(Clone, Default)]
/// struct Keep(Arc<Mutex<Vec<String>>>);
/// impl StuckPollReporter for Keep {
///     fn report(&self, stuck: &StuckPoll) {
///         self.0.lock().unwrap().push(stuck.to_string());
///     }
/// }
/// # let _ = quartet_runtime::Builder::new().watchdog(std::time::Duration::from_secs(1), Keep::default());
/// ```
pub trait StuckPollReporter: Send + Sync + 'static {
    /// A poll has been running longer than the threshold.
    fn report(&self, stuck: &StuckPoll);
}

/// Writes one line per stuck poll to stderr.
///
/// # Examples
/// ```
/// use quartet_runtime::introspect::StderrStuckReporter;
/// let b = quartet_runtime::Builder::new().watchdog(std::time::Duration::from_millis(500), StderrStuckReporter);
/// # drop(b);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct StderrStuckReporter;

impl StuckPollReporter for StderrStuckReporter {
    fn report(&self, stuck: &StuckPoll) {
        eprintln!("quartet: {stuck}");
    }
}

/// The builder's watchdog settings.
#[derive(Clone)]
pub(crate) struct Config {
    pub threshold: Duration,
    pub reporter: std::sync::Arc<dyn StuckPollReporter>,
}

struct Frame {
    task: Option<TaskInfo>,
    start: Instant,
    seq: u64,
}

struct Polls {
    stack: Vec<Frame>,
    next_seq: u64,
    stop: bool,
}

struct Shared {
    polls: Mutex<Polls>,
    stopped: Condvar,
}

/// A running watchdog: the kernel's side of the shared stack, and the thread. Public only for the
/// loom model (`runtime/tests/loom_watchdog.rs`, through `quartet_runtime::model`).
pub struct Watchdog {
    shared: Arc<Shared>,
    thread: Option<crate::sync::thread::JoinHandle<()>>,
}

impl fmt::Debug for Watchdog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watchdog").finish_non_exhaustive()
    }
}

impl Watchdog {
    pub(crate) fn start(config: Config) -> Watchdog {
        let shared = Arc::new(Shared {
            polls: Mutex::new(Polls { stack: Vec::new(), next_seq: 1, stop: false }),
            stopped: Condvar::new(),
        });
        let s = shared.clone();
        #[cfg(not(loom))]
        let thread = std::thread::Builder::new().name("quartet-watchdog".into()).spawn(move || watch(&s, &config)).ok();
        #[cfg(loom)]
        let thread = Some(crate::sync::thread::spawn(move || watch(&s, &config)));
        if thread.is_none() {
            eprintln!("quartet: could not start the watchdog thread; stuck polls will not be reported");
        }
        Watchdog { shared, thread }
    }

    /// A watchdog for a loom model: reports to `reporter` polls running at least `threshold`.
    #[cfg(loom)]
    pub fn for_model(threshold: Duration, reporter: std::sync::Arc<dyn StuckPollReporter>) -> Watchdog {
        Watchdog::start(Config { threshold, reporter })
    }

    /// Wakes the watchdog thread for one round (loom does not model time, so a model drives the
    /// rounds).
    #[cfg(loom)]
    pub fn poke(&self) {
        self.shared.stopped.notify_all();
    }

    /// A poll of `task` begins (kernel thread).
    pub fn enter(&self, task: Option<&TaskInfo>) {
        let task = task.cloned();
        let mut p = lock(&self.shared.polls);
        let seq = p.next_seq;
        p.next_seq += 1;
        p.stack.push(Frame { task, start: Instant::now(), seq });
    }

    /// The innermost poll returned (kernel thread).
    pub fn leave(&self) {
        let frame = lock(&self.shared.polls).stack.pop();
        drop(frame); // the TaskInfo is dropped outside the lock
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        lock(&self.shared.polls).stop = true;
        self.shared.stopped.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn watch(shared: &Shared, config: &Config) {
    let period = (config.threshold / 4).max(Duration::from_millis(1));
    let mut reported = 0u64;
    let mut p = lock(&shared.polls);
    // `stop` is checked before every wait: a stop set while this thread was reporting (without the
    // lock) must not wait for a notification that was already sent (found by the loom model).
    while !p.stop {
        p = wait_timeout(&shared.stopped, p, period).0;
        if p.stop {
            return;
        }
        let Some(top) = p.stack.last() else { continue };
        let running = top.start.elapsed();
        if running < config.threshold || top.seq == reported {
            continue;
        }
        // Planted bug (scripts/mutants.sh): W1, the same stuck poll is reported again.
        if !crate::mutant::planted("watchdog_reports_twice") {
            reported = top.seq;
        }
        let stuck = StuckPoll { task: top.task.clone(), stuck_for: running, threshold: config.threshold };
        drop(p); // W2: report without the lock
        config.reporter.report(&stuck);
        drop(stuck);
        p = lock(&shared.polls);
    }
}
