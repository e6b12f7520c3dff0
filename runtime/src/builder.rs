//! `run` and its [`Builder`].

use crate::driver::{Driver, DriverStats, Mode, SetupFlags};
use crate::error::{Error, Unavailable};
use crate::kernel::{
    self,
    context::{Core, CoreGuard, next_id, with_core},
};
use crate::time::Timers;
use crate::wake::{
    msg_ring::{CoreUnpark, RingTarget},
    remote::{EventFd, RemoteQueue},
};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::time::{Duration, Instant};

/// Configures and starts a runtime.
///
/// # Examples
/// ```no_run
/// let out = quartet_runtime::Builder::new().entries(1024).run(async { 1 + 1 })?;
/// assert_eq!(out, 2);
/// # Ok::<(), quartet_runtime::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    entries: u32,
    flags: SetupFlags,
    drain: Duration,
    thread_limit: usize,
    monitor: crate::monitor::Config,
    /// Instrument, watchdog, `SIGUSR1` dump (methods in `introspect/config.rs`).
    pub(crate) introspect: crate::introspect::state::Config,
    optional_opcodes: bool,
    msg_ring: bool,
    buf_pool: crate::net::BufPoolConfig,
    busy_poll: Duration,
    /// `None`: not set (plain `run`: off; a thread-per-core group's core: its default).
    wake_spin: Option<Duration>,
    /// The testing toolkit's settings (`testing/builder.rs`).
    pub(crate) testing: crate::testing::state::Config,
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    /// Defaults: 256 SQ entries (CQ 4x), the best setup flags available, 1 s shutdown drain.
    ///
    /// ```
    /// let b = quartet_runtime::Builder::new();
    /// assert_eq!(b.run(async { "default settings" }).unwrap(), "default settings");
    /// ```
    pub fn new() -> Builder {
        Builder {
            entries: 256,
            flags: SetupFlags::Auto,
            drain: Duration::from_secs(1),
            thread_limit: crate::thread::DEFAULT_THREAD_LIMIT,
            monitor: Default::default(),
            introspect: Default::default(),
            optional_opcodes: true,
            msg_ring: true,
            buf_pool: Default::default(),
            busy_poll: Duration::ZERO,
            wake_spin: None,
            testing: Default::default(),
        }
    }

    /// SQ size (rounded up to a power of two by the kernel, 1..=32768). The CQ is 4x.
    ///
    /// ```
    /// let small = quartet_runtime::Builder::new().entries(32);
    /// small.run(async {}).unwrap();
    /// assert!(quartet_runtime::Builder::new().entries(0).run(async {}).is_err()); // out of range
    /// ```
    pub fn entries(mut self, n: u32) -> Builder {
        self.entries = n;
        self
    }

    /// Which setup flags to use.
    ///
    /// ```
    /// use quartet_runtime::{Builder, Mode, SetupFlags};
    /// let mode = Builder::new().setup_flags(SetupFlags::Plain).run(async { quartet_runtime::stats().unwrap().mode });
    /// assert_eq!(mode.unwrap(), Mode::Plain);
    /// ```
    pub fn setup_flags(mut self, flags: SetupFlags) -> Builder {
        self.flags = flags;
        self
    }

    /// How long shutdown waits for cancelled ops to complete before leaking their buffers
    /// (default 1 s). Zero means do not wait: everything still in flight is leaked, and closing
    /// the ring cancels it in the kernel.
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = quartet_runtime::Builder::new().shutdown_drain(Duration::from_millis(100));
    /// b.run(async {}).unwrap();
    /// ```
    pub fn shutdown_drain(mut self, bound: Duration) -> Builder {
        self.drain = bound;
        self
    }

    /// Tokens of the default limiter of [`to_thread`](crate::thread::to_thread) (default
    /// [`DEFAULT_THREAD_LIMIT`](crate::thread::DEFAULT_THREAD_LIMIT)): how many jobs run on worker
    /// threads at once when a call names no limiter. Changeable later through
    /// [`default_limiter`](crate::thread::default_limiter).
    ///
    /// ```
    /// let total = quartet_runtime::Builder::new()
    ///     .thread_limit(4)
    ///     .run(async { quartet_runtime::thread::default_limiter().unwrap().total() });
    /// assert_eq!(total.unwrap(), 4);
    /// ```
    pub fn thread_limit(mut self, tokens: usize) -> Builder {
        self.thread_limit = tokens;
        self
    }

    /// Reports every poll that holds the loop longer than `threshold`; `None` turns the detector
    /// off. This setting wins over the `QUARTET_SLOW_POLL_MS` environment variable; without
    /// either, the default is [`DEFAULT_SLOW_POLL_THRESHOLD`](crate::monitor::DEFAULT_SLOW_POLL_THRESHOLD)
    /// (100 ms in debug builds, off in release builds). See [`monitor`](crate::monitor).
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// let off = quartet_runtime::Builder::new().slow_poll_threshold(None);
    /// let strict = quartet_runtime::Builder::new().slow_poll_threshold(Some(Duration::from_millis(5)));
    /// # let _ = (off, strict);
    /// ```
    pub fn slow_poll_threshold(mut self, threshold: Option<Duration>) -> Builder {
        self.monitor.threshold = Some(threshold);
        self
    }

    /// Where slow polls are reported (default: one line on stderr).
    ///
    /// ```
    /// use quartet_runtime::monitor::{SlowPoll, SlowPollReporter};
    /// struct Log;
    /// impl SlowPollReporter for Log {
    ///     fn report(&self, poll: &SlowPoll) {
    ///         eprintln!("[warn] {poll}"); // or send it to your logger
    ///     }
    /// }
    /// let b = quartet_runtime::Builder::new().slow_poll_reporter(Log);
    /// # let _ = b;
    /// ```
    pub fn slow_poll_reporter(mut self, reporter: impl crate::monitor::SlowPollReporter + 'static) -> Builder {
        self.monitor.reporter = Some(std::sync::Arc::new(reporter));
        self
    }

    /// Whether operations use optional ring opcodes the kernel has (default `true`). With `false`,
    /// every operation whose opcode is optional (the path operations of [`fs`](crate::fs),
    /// `FTRUNCATE`, `WAITID`...) runs its syscall on a worker thread instead, as on a kernel that
    /// lacks the opcode: a way to test those fallbacks, or to avoid an opcode a kernel gets wrong.
    /// It also turns off the poll-first hint of stream receives (`IORING_RECVSEND_POLL_FIRST`,
    /// Linux 5.19), as on a kernel that lacks it.
    ///
    /// # Examples
    /// ```no_run
    /// quartet_runtime::Builder::new().optional_opcodes(false).run(async {
    ///     quartet_runtime::fs::create_dir("/tmp/made-by-a-worker-thread").await
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn optional_opcodes(mut self, on: bool) -> Builder {
        self.optional_opcodes = on;
        self
    }

    /// Whether wake-ups between the kernels of a [`PerCore`](../quartet_nursery/struct.PerCore.html)
    /// group (or any runtimes on different threads) use `IORING_OP_MSG_RING` where the kernel has
    /// it (Linux 5.18+; default `true`). A waker woken on another runtime's thread then posts a
    /// completion into this runtime's ring from its own ring, with no syscall of its own; wakes
    /// from threads that run no runtime always write an eventfd. `false` makes this runtime
    /// neither send nor accept MSG_RING wakes (the eventfd for all), as does
    /// [`optional_opcodes(false)`](Self::optional_opcodes). The path taken is counted in
    /// [`DriverStats`] (`msg_ring_sent`, `remote_wakes_msg_ring`, `remote_wakes_eventfd`).
    ///
    /// # Examples
    /// ```
    /// let on = quartet_runtime::Builder::new().msg_ring(false).run(async {
    ///     quartet_runtime::stats().unwrap().msg_ring
    /// })?;
    /// assert!(!on);
    /// # Ok::<(), quartet_runtime::Error>(())
    /// ```
    pub fn msg_ring(mut self, on: bool) -> Builder {
        self.msg_ring = on;
        self
    }

    /// The shape of the provided-buffer pool that [`PooledReceiver`](crate::net::PooledReceiver)s
    /// receive into (default: 256 buffers of 16 KiB, allocated on first use). See
    /// [`BufPoolConfig`](crate::net::BufPoolConfig).
    ///
    /// # Examples
    /// ```
    /// use quartet_runtime::net::BufPoolConfig;
    /// let b = quartet_runtime::Builder::new().buf_pool(BufPoolConfig::new(2048, 4096)?);
    /// b.run(async {})?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn buf_pool(mut self, config: crate::net::BufPoolConfig) -> Builder {
        self.buf_pool = config;
        self
    }

    /// Spin for up to `bound` before the loop blocks in the kernel (default zero: off).
    ///
    /// When no task is ready and the loop would sleep in `io_uring_enter` until a completion, a
    /// remote wake or the next timer, it first makes non-blocking `io_uring_enter` calls (which
    /// also let the kernel post deferred completions) for up to `bound`, and stops as soon as
    /// anything completes. A request/response peer that answers within the bound is then served
    /// without a sleep and a wake-up: lower latency for one core kept busy. The spin never runs
    /// past the next timer, so timers fire as without it. Off, the loop pays one branch per
    /// blocking wait.
    ///
    /// A spinning loop counts as awake: a wake from another core or thread is queued without an
    /// unpark (no MSG_RING or eventfd write), and the spin picks it up from the queue's flag. So
    /// a cross-core ping-pong between spinning cores costs no wake-up syscall or completion.
    ///
    /// Values above [`MAX_BUSY_POLL`] (1 s; `Duration::MAX` included) are clamped to it: a wait
    /// that long gains nothing from spinning. [`stats`] counts the spins (`busy_polls`) and those
    /// that found work (`busy_poll_hits`).
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// let b = quartet_runtime::Builder::new().busy_poll(Duration::from_micros(50));
    /// b.run(async {
    ///     quartet_runtime::sleep(Duration::from_millis(1)).await?;
    ///     let s = quartet_runtime::stats().unwrap().driver;
    ///     assert!(s.busy_polls >= 1); // the loop spun before it slept
    ///     Ok::<_, quartet_runtime::Cancelled>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn busy_poll(mut self, bound: Duration) -> Builder {
        self.busy_poll = bound.min(MAX_BUSY_POLL);
        self
    }

    /// Spin for up to `bound` before blocking, but only while wakes from other threads keep
    /// arriving (default: off for [`run`]; a thread-per-core group's cores default to
    /// [`DEFAULT_CORE_WAKE_SPIN`] unless this is set).
    ///
    /// Waking a loop that sleeps in the kernel costs the waker a syscall and the sleeper a
    /// scheduler wake-up; on a virtual machine a halted vCPU takes tens of microseconds to run
    /// again. Cores that hand work to each other (a cross-core channel, `spawn_on`, a moved
    /// connection) pay that on every hand-off. With this bound, a wait that follows a wake from
    /// another thread (another core's MSG_RING, a `to_thread` job finishing, a waker called
    /// elsewhere) first spins like [`busy_poll`](Self::busy_poll); while it spins the loop counts
    /// as awake, so a wake sent to it costs the sender no syscall. The next wait spins again
    /// only if a wake from another thread arrived since, so a loop that is not talking to other
    /// threads never spins: the CPU spent is at most `bound` per wake received. Zero turns it
    /// off; values above [`MAX_BUSY_POLL`] are clamped. A [`busy_poll`](Self::busy_poll) bound,
    /// when set, spins before every wait and takes precedence.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// let b = quartet_runtime::Builder::new().wake_spin(Duration::from_micros(50));
    /// let spins = b.run(async {
    ///     // The job's end wakes the loop from the worker thread: the next wait spins first.
    ///     quartet_runtime::thread::to_thread(|| std::thread::sleep(Duration::from_millis(3))).await?;
    ///     quartet_runtime::sleep(Duration::from_millis(1)).await?;
    ///     Ok::<_, Box<dyn std::error::Error>>(quartet_runtime::stats().unwrap().driver.busy_polls)
    /// })??;
    /// assert!(spins >= 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wake_spin(mut self, bound: Duration) -> Builder {
        self.wake_spin = Some(bound.min(MAX_BUSY_POLL));
        self
    }

    /// Sets the [`wake_spin`](Self::wake_spin) bound to `bound` unless one was set: how a
    /// thread-per-core group gives its cores their default.
    pub fn wake_spin_or(mut self, bound: Duration) -> Builder {
        self.wake_spin.get_or_insert(bound.min(MAX_BUSY_POLL));
        self
    }

    /// Creates the ring, drives `fut` to completion, shuts down (H4), and returns its output.
    ///
    /// A panic in `fut` is resumed after shutdown.
    ///
    /// # Errors
    /// [`Error::Unavailable`] if io_uring cannot be used (the message names cause and remedy),
    /// [`Error::NestedRuntime`] if called from inside `run`, [`Error::Config`] for bad settings.
    ///
    /// # Examples
    /// ```
    /// let out = quartet_runtime::Builder::new().entries(64).run(async {
    ///     quartet_runtime::sleep(std::time::Duration::from_millis(1)).await?;
    ///     Ok::<_, quartet_runtime::Cancelled>("slept")
    /// })?;
    /// assert_eq!(out, Ok("slept"));
    /// # Ok::<(), quartet_runtime::Error>(())
    /// ```
    pub fn run<F: Future>(self, fut: F) -> Result<F::Output, Error> {
        if !(1..=32768).contains(&self.entries) {
            return Err(Error::Config(format!("entries must be in 1..=32768, got {}", self.entries)));
        }
        if with_core(|_| ()).is_some() {
            return Err(Error::NestedRuntime);
        }
        let eventfd = crate::sync::Arc::new(EventFd::new().map_err(Unavailable::Other)?);
        let wake_fd = eventfd.0;
        let mut driver = Driver::new(self.entries, self.flags, wake_fd)?;
        driver.opcodes.set_optional(self.optional_opcodes);
        let target =
            self.msg_ring.then(|| driver.enable_msg_ring()).flatten().map(|dup| RingTarget::new(dup, eventfd.clone()));
        let remote = RemoteQueue::new(CoreUnpark::new(eventfd, target));
        let remote_for_dump = remote.clone();
        driver.set_buf_pool(self.buf_pool);
        driver.set_busy_poll(Some(self.busy_poll));
        driver.set_wake_spin(self.wake_spin);
        driver.set_wake_flags(remote.flags().clone());
        driver.completed = self.introspect.instrument.is_some().then(Vec::new);
        let id = next_id();
        let threads =
            crate::thread::local::Local::new(id, crate::thread::system_waker(id, remote.clone()), self.thread_limit);
        let testing = crate::testing::state::TestState::new(&self.testing);
        // The wheel counts ticks from the runtime's clock (mock or real) at its start.
        let timers = Timers::new(testing.now());
        let core = Core {
            id,
            driver: RefCell::new(driver),
            timers: RefCell::new(timers),
            remote,
            root_woken: Cell::new(false),
            budget: Cell::new(0),
            tick: Cell::new(Instant::now()),
            tick_since: Cell::new(None),
            threads,
            monitor: self.monitor.build(),
            testing,
            introspect: self.introspect.build(crate::introspect::DumpHandle::new(id, remote_for_dump)),
        };
        core.timers.borrow_mut().shuffle(self.testing.seed);
        let guard = CoreGuard::enter(&core).ok_or(Error::NestedRuntime)?;
        // The root of this thread's cancel-status tree is a fresh scope for this run (C1).
        let root = crate::cancel::RootGuard::install();
        let finished = kernel::block_on(&core, fut, self.drain);
        drop(root);
        drop(guard);
        Ok(kernel::finish(finished?))
    }
}

/// The longest busy-poll [`Builder::busy_poll`] keeps; longer values are clamped to it.
pub const MAX_BUSY_POLL: Duration = Duration::from_secs(1);

/// The [`Builder::wake_spin`] bound of a thread-per-core group's cores when the group's builder
/// sets none: several times a cross-core round trip between awake cores (a few µs), and short
/// against the cost of a wake-up it saves on a VM (tens of µs).
pub const DEFAULT_CORE_WAKE_SPIN: Duration = Duration::from_micros(50);

/// Runs `fut` on a new runtime with default settings. See [`Builder::run`].
///
/// # Examples
/// ```no_run
/// let answer = quartet_runtime::run(async { 42 })?;
/// assert_eq!(answer, 42);
/// # Ok::<(), quartet_runtime::Error>(())
/// ```
pub fn run<F: Future>(fut: F) -> Result<F::Output, Error> {
    Builder::new().run(fut)
}

/// Counters of the runtime on this thread, or `None` outside `run`.
///
/// # Examples
/// ```
/// assert!(quartet_runtime::stats().is_none()); // outside run
/// quartet_runtime::run(async {
///     quartet_runtime::nop().await.unwrap();
///     let s = quartet_runtime::stats().unwrap();
///     assert!(s.driver.ops >= 1);
///     assert_eq!(s.live_ops, 0); // nothing left in the kernel
/// }).unwrap();
/// ```
pub fn stats() -> Option<RuntimeStats> {
    with_core(|c| {
        let d = c.driver.borrow();
        RuntimeStats {
            driver: d.stats,
            mode: d.mode(),
            live_ops: d.live_ops(),
            timers: c.timers.borrow().len(),
            msg_ring: d.outbox().is_some(),
        }
    })
}

/// A snapshot of runtime counters.
///
/// # Examples
/// ```
/// quartet_runtime::run(async {
///     let s = quartet_runtime::stats().unwrap();
///     println!("mode {:?}, {} ops in flight, {} timers", s.mode, s.live_ops, s.timers);
/// }).unwrap();
/// ```
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct RuntimeStats {
    /// Ring counters.
    pub driver: DriverStats,
    /// The setup flags in use.
    pub mode: Mode,
    /// Ops whose final completion has not been collected (including abandoned ones).
    pub live_ops: usize,
    /// Timer registrations held.
    pub timers: usize,
    /// Whether this runtime sends and accepts MSG_RING wakes (see [`Builder::msg_ring`]).
    pub msg_ring: bool,
}
