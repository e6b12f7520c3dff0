//! The toolkit's per-runtime state (a field of the kernel's `Core`) and the settings that make it
//! (a field of `Builder`). A data structure: it never reaches back into the kernel; the kernel's
//! idle path (`idle.rs`) and the front-ends call it.
//!
//! Everything here is off by default, and the normal loop pays one predictable branch where a
//! mode matters: `clock` is `None` (so `now()` reads the real clock), `explore` is `None` (ready
//! queues pop FIFO), `faults` is `None` (ops are submitted untouched), and the idle path is only
//! consulted right before the kernel would block in the ring.

use super::faults::{FaultPlan, Injector};
use super::rng;
use std::cell::{Cell, RefCell};
use std::task::Waker;
use std::time::{Duration, Instant};

/// How far ahead of the real clock a virtual clock starts: a virtual instant is never mistaken
/// for a past real one by code that reads the real clock (another thread checking a deadline).
const VIRTUAL_EPOCH_AHEAD: Duration = Duration::from_secs(10 * 365 * 86400);

/// The toolkit's settings, kept by [`Builder`](crate::Builder).
#[derive(Debug, Clone, Default)]
pub(crate) struct Config {
    pub mock_clock: bool,
    pub autojump: bool,
    pub settle: Option<Duration>,
    pub seed: Option<u64>,
    pub faults: Option<FaultPlan>,
}

/// The virtual clock: an epoch and how far it has been moved.
pub(crate) struct Clock {
    epoch: Instant,
    offset: Cell<Duration>,
    pub autojump: bool,
}

impl Clock {
    /// Out of line: the normal loop only ever sees the `None` branch of `TestState::now`.
    #[inline(never)]
    pub fn now(&self) -> Instant {
        // Cannot overflow: `offset` only grows through `set`, which checks `epoch + offset`.
        self.epoch + self.offset.get()
    }

    /// Moves the clock to `at`; a past instant leaves it where it is (it never goes back).
    pub fn set(&self, at: Instant) {
        if let Some(d) = at.checked_duration_since(self.epoch) {
            if d > self.offset.get() {
                self.offset.set(d);
            }
        }
    }

    /// Virtual time elapsed since the runtime started.
    pub fn elapsed(&self) -> Duration {
        self.offset.get()
    }
}

/// The per-runtime testing state.
pub(crate) struct TestState {
    pub clock: Option<Clock>,
    /// The exploration PRNG's state, when ready children are picked at random.
    pub explore: Option<Cell<u64>>,
    pub seed: Option<u64>,
    pub faults: Option<RefCell<Injector>>,
    /// Real time the idle path waits for outstanding ops before a jump (see `idle.rs`).
    pub settle: Duration,
    /// Tasks in `wait_all_tasks_blocked`, woken when the loop goes idle.
    pub idle_waiters: RefCell<Vec<Waker>>,
    /// Whether the kernel's idle turn must go through `kernel/idle.rs`: a mock clock, or idle
    /// waiters. One flag, so the kernel's check is a single load.
    idle_path: Cell<bool>,
    /// Bumped each time the idle path wakes `idle_waiters`: how a waiter tells its wake-up from a
    /// spurious poll.
    pub idle_epoch: Cell<u64>,
}

/// Default settle wait: long enough for a completion the kernel finishes on an io-wq worker
/// (a loopback peer's data is posted synchronously, within the non-blocking passes).
pub(crate) const DEFAULT_SETTLE: Duration = Duration::from_micros(200);

impl TestState {
    pub fn new(cfg: &Config) -> TestState {
        let clock = cfg.mock_clock.then(|| Clock {
            epoch: Instant::now() + VIRTUAL_EPOCH_AHEAD,
            offset: Cell::new(Duration::ZERO),
            autojump: cfg.autojump,
        });
        TestState {
            clock,
            explore: cfg.seed.map(Cell::new),
            seed: cfg.seed,
            faults: cfg.faults.clone().map(|p| RefCell::new(Injector::new(p, cfg.seed.unwrap_or(0)))),
            settle: cfg.settle.unwrap_or(DEFAULT_SETTLE),
            idle_path: Cell::new(cfg.mock_clock),
            idle_waiters: RefCell::new(Vec::new()),
            idle_epoch: Cell::new(0),
        }
    }

    /// Whether the idle path has anything to do (a mock clock, or someone waiting for idleness).
    #[inline]
    pub fn wants_idle(&self) -> bool {
        self.idle_path.get()
    }

    /// Registers (or refreshes) a `wait_all_tasks_blocked` waiter; returns a replaced waker for
    /// the caller to drop outside the borrow.
    pub fn add_idle_waiter(&self, waker: Waker) -> Option<Waker> {
        self.idle_path.set(true);
        let mut w = self.idle_waiters.borrow_mut();
        match w.iter_mut().find(|x| x.will_wake(&waker)) {
            Some(x) => Some(std::mem::replace(x, waker)),
            None => {
                w.push(waker);
                None
            }
        }
    }

    /// Takes the idle waiters (the loop is idle) and starts a new idle epoch.
    pub fn take_idle_waiters(&self) -> Vec<Waker> {
        let waiters = std::mem::take(&mut *self.idle_waiters.borrow_mut());
        if !waiters.is_empty() {
            self.idle_epoch.set(self.idle_epoch.get() + 1);
        }
        self.idle_path.set(self.clock.is_some());
        waiters
    }

    /// The current time: virtual under the mock clock, else real. For callers that hold the core
    /// already (the kernel), saving `crate::now`'s thread-local lookup.
    #[inline]
    pub fn now(&self) -> Instant {
        match &self.clock {
            Some(k) => k.now(),
            None => Instant::now(),
        }
    }

    /// Seeded choice of the next ready child among `n` queued (exploration mode only).
    pub fn pick(&self, n: usize) -> usize {
        match &self.explore {
            Some(s) => {
                let mut st = s.get();
                let i = rng::below(&mut st, n);
                s.set(st);
                i
            }
            None => 0,
        }
    }
}
