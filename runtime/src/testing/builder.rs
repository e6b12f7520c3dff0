//! The toolkit's [`Builder`] options, kept apart from `builder.rs` so that the runtime's own
//! settings and the test-mode ones do not interleave.

use super::faults::FaultPlan;
use crate::Builder;
use std::time::Duration;

impl Builder {
    /// Runs the runtime on a virtual clock (default off). With it, [`now`](crate::now), sleeps,
    /// deadlines, intervals and cancel-scope deadlines read virtual time, which starts at an
    /// arbitrary instant and moves only by autojump (on by default, see [`Builder::autojump`]),
    /// [`advance`](crate::testing::advance) or [`jump_to`](crate::testing::jump_to).
    ///
    /// # Examples
    /// ```
    /// use quartet_runtime::{Builder, sleep};
    /// use std::time::Duration;
    /// let real = std::time::Instant::now();
    /// Builder::new().mock_clock(true).run(async {
    ///     sleep(Duration::from_secs(3600)).await.unwrap(); // an hour, virtually
    /// }).unwrap();
    /// assert!(real.elapsed() < Duration::from_secs(60));
    /// ```
    pub fn mock_clock(mut self, on: bool) -> Builder {
        self.testing.mock_clock = on;
        self.testing.autojump = on;
        self
    }

    /// Whether the mock clock jumps to the next timer when the loop is idle (default: on with
    /// [`Builder::mock_clock`]). Off, only [`advance`](crate::testing::advance) and
    /// [`jump_to`](crate::testing::jump_to) move it.
    ///
    /// ```
    /// use quartet_runtime::{Builder, now, testing::advance};
    /// use std::time::Duration;
    /// Builder::new().mock_clock(true).autojump(false).run(async {
    ///     let t0 = now();
    ///     advance(Duration::from_millis(10)).unwrap();
    ///     assert_eq!(now() - t0, Duration::from_millis(10));
    /// }).unwrap();
    /// ```
    pub fn autojump(mut self, on: bool) -> Builder {
        self.testing.autojump = on && self.testing.mock_clock;
        self
    }

    /// How long (real time) the idle loop waits for outstanding ring ops or worker-thread jobs
    /// before the mock clock jumps (default 200 µs; zero: never wait).
    ///
    /// The rule: the clock jumps only after three submit-and-reap passes of the ring in a row
    /// found nothing, and, if any op or job is outstanding, a wait of up to this long found
    /// nothing either. A loopback peer inside the test is always seen before a jump; I/O that
    /// takes longer than this (a peer outside the process, a slow disk) may complete after it.
    /// With nothing outstanding no real time is spent.
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = quartet_runtime::Builder::new().mock_clock(true).autojump_settle(Duration::from_millis(2));
    /// # let _ = b;
    /// ```
    pub fn autojump_settle(mut self, wait: Duration) -> Builder {
        self.testing.settle = Some(wait);
        self
    }

    /// Explores schedules with this seed (default `None`: FIFO). When several children of a
    /// nursery are ready, the next one is drawn from a PRNG seeded with it, and timers due at the
    /// same instant fire in a seeded order. See [`Explore`](crate::testing::Explore) to run a
    /// body under many seeds.
    ///
    /// ```
    /// let b = quartet_runtime::Builder::new().mock_clock(true).seed(Some(0x5eed));
    /// assert_eq!(b.run(async { quartet_runtime::testing::seed() }).unwrap(), Some(0x5eed));
    /// ```
    pub fn seed(mut self, seed: Option<u64>) -> Builder {
        self.testing.seed = seed;
        self
    }

    /// Injects faults into ops before they are submitted (see
    /// [`FaultPlan`](crate::testing::FaultPlan)). Probabilities draw from the [`Builder::seed`]
    /// (or 0).
    ///
    /// ```
    /// use quartet_runtime::testing::{Fault, FaultPlan, OpKind, When};
    /// let plan = FaultPlan::new().inject(OpKind::Accept, Fault::Error(libc::EMFILE), When::FirstN(3));
    /// let b = quartet_runtime::Builder::new().fault_plan(plan);
    /// # let _ = b;
    /// ```
    pub fn fault_plan(mut self, plan: FaultPlan) -> Builder {
        self.testing.faults = Some(plan);
        self
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn autojump_needs_the_mock_clock() {
        let b = crate::Builder::new().autojump(true);
        assert!(!b.testing.autojump);
        let b = crate::Builder::new().mock_clock(true).autojump(false);
        assert!(b.testing.mock_clock && !b.testing.autojump);
    }
}
