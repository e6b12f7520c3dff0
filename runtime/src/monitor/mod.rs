//! Loop diagnostics: the slow-poll detector and loop-lag statistics (semantics §6.3).
//!
//! **Slow polls** (asyncio's debug mode, `slow_callback_duration`): when one poll of a task holds
//! the thread longer than a threshold, the runtime reports the task (its name, or where it was
//! spawned) and how long it held the loop. On by default in debug builds, with a conservative
//! threshold ([`DEFAULT_SLOW_POLL_THRESHOLD`]: 100 ms, so only a poll that blocks the loop badly is
//! reported); off by default in release builds, where timing every poll would cost two clock reads.
//! Set it with [`Builder::slow_poll_threshold`](crate::Builder::slow_poll_threshold) (`None`
//! turns it off) or, without touching the code, the environment variable `QUARTET_SLOW_POLL_MS`
//! (milliseconds, `off` or `0` to disable; read when the runtime starts; an explicit builder
//! setting wins). Reports go to a [`SlowPollReporter`]; the default
//! ([`StderrReporter`]) writes one line to stderr.
//!
//! A poll is timed by a `PollTimer` (nurseries wrap each child poll in one; the kernel wraps the
//! root poll and `from_thread` tasks). Polls nest (a task polls the nursery that polls its
//! children), so a timer blames only its own time: its elapsed time minus that of the timed polls
//! nested in it. A child that blocks is reported once, as itself, not also as each ancestor.
//!
//! **Loop lag** is how late timers fire: for every timer the kernel fires, `now - deadline`. A loop
//! that is blocked (a slow poll, too much work per tick) shows up directly as late timers; an idle
//! loop shows the kernel's timer resolution (a park waits for the next whole millisecond, so up to
//! 1 ms) plus the OS wake-up latency. The statistics are a
//! fixed log-bucketed histogram (4 buckets per power of two, so percentiles are within 25%), read
//! with [`loop_lag`] and cleared with [`reset_loop_lag`].

mod lag;
pub(crate) mod state;

pub use lag::LoopLag;
pub(crate) use state::Config;

use crate::kernel::context::with_core;
use crate::task::TaskInfo;
use std::fmt;
use std::time::{Duration, Instant};

/// The environment variable that sets the slow-poll threshold in milliseconds (`0` or `off`
/// disables it).
///
/// # Examples
/// ```
/// // QUARTET_SLOW_POLL_MS=5 ./my-server   reports every poll over 5 ms, without a rebuild
/// assert_eq!(quartet_runtime::monitor::ENV_SLOW_POLL_MS, "QUARTET_SLOW_POLL_MS");
/// ```
pub const ENV_SLOW_POLL_MS: &str = "QUARTET_SLOW_POLL_MS";

/// The threshold used when neither the builder nor `QUARTET_SLOW_POLL_MS` sets one: 100 ms in
/// debug builds (`debug_assertions`), off in release builds.
///
/// # Examples
/// ```
/// use quartet_runtime::monitor::DEFAULT_SLOW_POLL_THRESHOLD;
/// use std::time::Duration;
/// // Conservative: only a poll that blocks the loop for a long time is reported.
/// assert!(DEFAULT_SLOW_POLL_THRESHOLD.is_none_or(|t| t >= Duration::from_millis(100)));
/// ```
pub const DEFAULT_SLOW_POLL_THRESHOLD: Option<Duration> =
    if cfg!(debug_assertions) { Some(Duration::from_millis(100)) } else { None };

/// Receives slow-poll reports. Called on the runtime thread, right after the slow poll; it should
/// be quick (it runs on the loop it is reporting about).
///
/// # Examples
/// ```
/// use quartet_runtime::monitor::{SlowPoll, SlowPollReporter};
/// use std::sync::{Arc, Mutex};
/// #[derive(Clone, Default)]
/// struct Keep(Arc<Mutex<Vec<String>>>);
/// impl SlowPollReporter for Keep {
///     fn report(&self, poll: &SlowPoll) {
///         self.0.lock().unwrap().push(poll.to_string());
///     }
/// }
/// let kept = Keep::default();
/// quartet_runtime::Builder::new()
///     .slow_poll_threshold(Some(std::time::Duration::from_millis(1)))
///     .slow_poll_reporter(kept.clone())
///     .run(async { std::thread::sleep(std::time::Duration::from_millis(5)) })
///     .unwrap();
/// assert!(kept.0.lock().unwrap()[0].contains("root future"));
/// ```
pub trait SlowPollReporter: Send + Sync {
    /// One poll of a task held the loop longer than the threshold.
    ///
    /// ```
    /// use quartet_runtime::monitor::{SlowPoll, SlowPollReporter};
    /// struct Log;
    /// impl SlowPollReporter for Log {
    ///     fn report(&self, poll: &SlowPoll) {
    ///         eprintln!("{poll}"); // called on the runtime thread: keep it quick
    ///     }
    /// }
    /// # let _ = quartet_runtime::Builder::new().slow_poll_reporter(Log);
    /// ```
    fn report(&self, poll: &SlowPoll);
}

/// A slow poll: who, and for how long.
///
/// # Examples
/// ```
/// use quartet_runtime::monitor::{SlowPoll, SlowPollReporter};
/// struct Brief;
/// impl SlowPollReporter for Brief {
///     fn report(&self, poll: &SlowPoll) {
///         let who = poll.task().and_then(|t| t.name()).unwrap_or("unnamed task");
///         eprintln!("{who} held the loop for {:?} (limit {:?})", poll.duration(), poll.threshold());
///     }
/// }
/// let b = quartet_runtime::Builder::new().slow_poll_reporter(Brief);
/// # let _ = b;
/// ```
#[derive(Debug, Clone)]
pub struct SlowPoll {
    task: Option<TaskInfo>,
    duration: Duration,
    threshold: Duration,
}

impl SlowPoll {
    /// The task, or `None` for the root future passed to `run`.
    ///
    /// ```
    /// use quartet_runtime::monitor::{SlowPoll, SlowPollReporter};
    /// struct Log;
    /// impl SlowPollReporter for Log {
    ///     fn report(&self, poll: &SlowPoll) {
    ///         match poll.task() {
    ///             Some(t) => eprintln!("task {t} was slow"),
    ///             None => eprintln!("the root future was slow"),
    ///         }
    ///     }
    /// }
    /// # let _ = quartet_runtime::Builder::new().slow_poll_reporter(Log);
    /// ```
    pub fn task(&self) -> Option<&TaskInfo> {
        self.task.as_ref()
    }

    /// How long the poll held the loop (excluding timed polls nested in it).
    ///
    /// ```
    /// use quartet_runtime::monitor::{SlowPoll, SlowPollReporter};
    /// struct Log;
    /// impl SlowPollReporter for Log {
    ///     fn report(&self, poll: &SlowPoll) {
    ///         assert!(poll.duration() > poll.threshold());
    ///     }
    /// }
    /// # let _ = quartet_runtime::Builder::new().slow_poll_reporter(Log);
    /// ```
    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// The threshold it exceeded.
    ///
    /// ```
    /// use quartet_runtime::monitor::{SlowPoll, SlowPollReporter};
    /// struct Log;
    /// impl SlowPollReporter for Log {
    ///     fn report(&self, poll: &SlowPoll) {
    ///         eprintln!("{:?} over the limit", poll.duration() - poll.threshold());
    ///     }
    /// }
    /// # let _ = quartet_runtime::Builder::new().slow_poll_reporter(Log);
    /// ```
    pub fn threshold(&self) -> Duration {
        self.threshold
    }
}

impl fmt::Display for SlowPoll {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.task {
            Some(t) => write!(f, "slow poll: task {t}")?,
            None => f.write_str("slow poll: the root future passed to run")?,
        }
        write!(f, " held the loop for {:.3?} (threshold {:?})", self.duration, self.threshold)
    }
}

/// The default reporter: one line to stderr per slow poll.
///
/// # Examples
/// ```
/// use quartet_runtime::monitor::StderrReporter;
/// // The default; naming it restores stderr reporting on a builder that set another reporter.
/// let b = quartet_runtime::Builder::new().slow_poll_reporter(StderrReporter);
/// # let _ = b;
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct StderrReporter;

impl SlowPollReporter for StderrReporter {
    fn report(&self, poll: &SlowPoll) {
        eprintln!("quartet: {poll}");
    }
}

/// Why `QUARTET_SLOW_POLL_MS` could not be used.
///
/// # Examples
/// ```
/// let e = quartet_runtime::monitor::parse_slow_poll_ms("10ms").unwrap_err();
/// assert!(e.to_string().contains("not a number of milliseconds"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{ENV_SLOW_POLL_MS}={value:?} is not a number of milliseconds (use e.g. 10, 0.5, or off)")]
pub struct ParseSlowPollError {
    value: String,
}

/// Parses a slow-poll threshold in milliseconds: `""`, `"0"` and `"off"` mean disabled, otherwise
/// a non-negative decimal number (`"10"`, `"0.25"`).
///
/// # Errors
/// [`ParseSlowPollError`] for anything else.
///
/// # Examples
/// ```
/// use quartet_runtime::monitor::parse_slow_poll_ms;
/// use std::time::Duration;
/// assert_eq!(parse_slow_poll_ms("25"), Ok(Some(Duration::from_millis(25))));
/// assert_eq!(parse_slow_poll_ms("off"), Ok(None));
/// assert!(parse_slow_poll_ms("fast").is_err());
/// ```
pub fn parse_slow_poll_ms(value: &str) -> Result<Option<Duration>, ParseSlowPollError> {
    let v = value.trim();
    if v.is_empty() || v.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let err = || ParseSlowPollError { value: value.to_string() };
    let ms: f64 = v.parse().map_err(|_| err())?;
    if !ms.is_finite() || ms < 0.0 {
        return Err(err());
    }
    let d = Duration::try_from_secs_f64(ms / 1000.0).map_err(|_| err())?;
    Ok((!d.is_zero()).then_some(d))
}

/// Times one poll of a task for the slow-poll detector; reports it when dropped if it was slow.
/// Costs one thread-local read when the detector is off.
///
/// # Examples
/// ```no_run
/// # use quartet_runtime::{monitor::PollTimer, task::TaskInfo};
/// # let info = TaskInfo::new(Some("worker".into()), std::panic::Location::caller());
/// let _timer = PollTimer::start(Some(&info));
/// // ... poll the task ...
/// ```
#[derive(Debug)]
#[must_use = "the poll is timed until the timer drops"]
#[doc(hidden)] // used by quartet-nursery around each child poll; not a user API
pub struct PollTimer<'a> {
    /// `None` when neither an instrument, the watchdog nor the detector watches polls: then
    /// starting and ending a poll is one test each.
    watch: Option<Watch<'a>>,
}

/// A poll someone watches.
#[derive(Debug)]
struct Watch<'a> {
    start: Option<Instant>,
    /// The enclosing poll's nested time, restored (plus ours) on drop.
    saved: Duration,
    task: Option<&'a TaskInfo>,
    /// An instrument or the watchdog saw the poll begin (`introspect`): tell it when it ends.
    hooked: bool,
}

impl<'a> PollTimer<'a> {
    /// Starts timing a poll of `task` (`None`: the root future).
    #[inline]
    pub fn start(task: Option<&'a TaskInfo>) -> PollTimer<'a> {
        // The one branch introspection and the detector cost a poll when both are off (I2 in
        // `introspect`): both are fixed when the runtime is built.
        let watched = with_core(|c| c.introspect.hooked || c.monitor.threshold.is_some()).unwrap_or(false);
        PollTimer { watch: if watched { Some(Watch::begin(task)) } else { None } }
    }
}

impl Drop for PollTimer<'_> {
    #[inline]
    fn drop(&mut self) {
        if let Some(w) = &mut self.watch {
            w.finish();
        }
    }
}

impl<'a> Watch<'a> {
    /// The start of a watched poll: out of line, off the hot path.
    #[cold]
    #[inline(never)]
    fn begin(task: Option<&'a TaskInfo>) -> Watch<'a> {
        let mut hooked = false;
        let saved = with_core(|c| {
            if c.introspect.hooked {
                hooked = true;
                c.introspect.before_poll(task);
            }
            c.monitor.threshold.map(|_| c.monitor.nested.replace(Duration::ZERO))
        })
        .flatten();
        match saved {
            Some(saved) => Watch { start: Some(Instant::now()), saved, task, hooked },
            None => Watch { start: None, saved: Duration::ZERO, task, hooked },
        }
    }

    /// The end of a watched poll.
    #[cold]
    #[inline(never)]
    fn finish(&mut self) {
        if self.hooked {
            with_core(|c| c.introspect.after_poll(self.task));
        }
        let Some(start) = self.start else { return };
        let elapsed = start.elapsed();
        with_core(|c| {
            let m = &c.monitor;
            let inner = m.nested.replace(self.saved + elapsed);
            let own = elapsed.saturating_sub(inner);
            let Some(threshold) = m.threshold else { return };
            if own > threshold {
                m.slow.set(m.slow.get() + 1);
                let poll = SlowPoll { task: self.task.cloned(), duration: own, threshold };
                m.reporter.report(&poll);
            }
        });
    }
}

/// Slow polls reported so far by the runtime on this thread, or `None` outside `run`.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// let n = quartet_runtime::Builder::new()
///     .slow_poll_threshold(Some(Duration::from_millis(1)))
///     .slow_poll_reporter(quartet_runtime::monitor::StderrReporter)
///     .run(async {
///         std::thread::sleep(Duration::from_millis(5)); // blocks the loop
///         quartet_runtime::yield_now().await; // the slow poll ends here
///         quartet_runtime::monitor::slow_polls()
///     })
///     .unwrap();
/// assert_eq!(n, Some(1));
/// ```
pub fn slow_polls() -> Option<u64> {
    with_core(|c| c.monitor.slow.get())
}

/// The slow-poll threshold in force, or `None` if the detector is off (or outside `run`).
///
/// # Examples
/// ```
/// let t = quartet_runtime::Builder::new()
///     .slow_poll_threshold(None)
///     .run(async { quartet_runtime::monitor::slow_poll_threshold() });
/// assert_eq!(t.unwrap(), None);
/// ```
pub fn slow_poll_threshold() -> Option<Duration> {
    with_core(|c| c.monitor.threshold).flatten()
}

/// Loop-lag statistics of the runtime on this thread (see the module docs), or `None` outside
/// `run`.
///
/// # Examples
/// ```no_run
/// quartet_runtime::run(async {
///     quartet_runtime::sleep(std::time::Duration::from_millis(5)).await.unwrap();
///     let lag = quartet_runtime::monitor::loop_lag().unwrap();
///     println!("{} timers, p99 {:?} late", lag.count(), lag.percentile(0.99));
/// }).unwrap();
/// ```
pub fn loop_lag() -> Option<LoopLag> {
    with_core(|c| c.monitor.lag.borrow().clone())
}

/// Clears the loop-lag statistics (for measuring one phase of a program).
///
/// # Examples
/// ```
/// use quartet_runtime::monitor::{loop_lag, reset_loop_lag};
/// quartet_runtime::run(async {
///     quartet_runtime::sleep(std::time::Duration::from_millis(1)).await.unwrap(); // warm-up
///     reset_loop_lag(); // measure only what follows
///     assert_eq!(loop_lag().unwrap().count(), 0);
/// }).unwrap();
/// ```
pub fn reset_loop_lag() {
    with_core(|c| *c.monitor.lag.borrow_mut() = LoopLag::default());
}
