//! Schedule exploration: run a test body under many seeds, report the first failing seed, replay
//! one seed exactly (`QUARTET_SEED`).
//!
//! Each run is a fresh runtime with the mock clock and [`Builder::seed`](crate::Builder::seed):
//! whenever several children of a nursery are ready, the next one is drawn from the seeded PRNG
//! (so a child may run several times before a sibling runs once, which is what exposes
//! check-then-act races), and timers due at the same instant fire in a seeded order. Nothing else
//! in a run depends on the machine, so a seed is a complete description of a schedule as long as
//! the body does no I/O outside the process.

use super::TestingError;
use super::rng;
use crate::Builder;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// What a test body returns: `()` or a `Result` whose `Err` is a failure.
pub trait Outcome {
    /// `Some(description)` if the run failed.
    fn failure(self) -> Option<String>;
}

impl Outcome for () {
    fn failure(self) -> Option<String> {
        None
    }
}

impl<T, E: std::fmt::Debug> Outcome for Result<T, E> {
    fn failure(self) -> Option<String> {
        self.err().map(|e| format!("the body returned Err({e:?})"))
    }
}

/// A failed run: its seed and what went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The seed that replays it (`QUARTET_SEED=<seed>`), `None` for a run without exploration.
    pub seed: Option<u64>,
    /// The panic message, the body's error, or the runtime's error.
    pub message: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.seed {
            Some(s) => write!(f, "failed with seed {s:#x} (replay: QUARTET_SEED={s:#x}): {}", self.message),
            None => write!(f, "failed: {}", self.message),
        }
    }
}

/// Runs a test body under many schedules.
///
/// # Examples
/// ```
/// use quartet_runtime::testing::Explore;
/// Explore::new(20).run(|| async {
///     quartet_runtime::yield_now().await; // any body: each run gets its own runtime and seed
/// });
/// ```
#[derive(Debug, Clone)]
pub struct Explore {
    runs: u64,
    builder: Builder,
}

impl Explore {
    /// `runs` runs (at least one), each on a mock clock with its own seed.
    ///
    /// ```
    /// let e = quartet_runtime::testing::Explore::new(100);
    /// assert_eq!(e.seeds().len(), 100);
    /// ```
    pub fn new(runs: u64) -> Explore {
        Explore { runs: runs.max(1), builder: Builder::new().mock_clock(true) }
    }

    /// The settings each run starts from (the seed is set per run).
    ///
    /// ```
    /// use quartet_runtime::{Builder, testing::Explore};
    /// let e = Explore::new(10).builder(Builder::new().mock_clock(true).entries(32));
    /// # let _ = e;
    /// ```
    pub fn builder(mut self, builder: Builder) -> Explore {
        self.builder = builder;
        self
    }

    /// The seeds this explorer tries, in order (`QUARTET_SEED` is not consulted here).
    ///
    /// ```
    /// let s = quartet_runtime::testing::Explore::new(3).seeds();
    /// assert_eq!(s, quartet_runtime::testing::Explore::new(3).seeds()); // fixed: CI reruns the same
    /// ```
    pub fn seeds(&self) -> Vec<u64> {
        (0..self.runs)
            .map(|i| {
                let mut s = i;
                rng::next(&mut s)
            })
            .collect()
    }

    /// Runs `body` once per seed (or only `QUARTET_SEED` when set) and returns the first failure.
    ///
    /// # Errors
    /// [`TestingError::BadSeed`] if `QUARTET_SEED` is set but not a number.
    ///
    /// ```
    /// use quartet_runtime::testing::Explore;
    /// let found = Explore::new(5).find(|| async { Err::<(), _>("always fails") }).unwrap();
    /// assert!(found.unwrap().seed.is_some());
    /// ```
    pub fn find<F, Fut>(&self, body: F) -> Result<Option<Failure>, TestingError>
    where
        F: Fn() -> Fut,
        Fut: Future,
        Fut::Output: Outcome,
    {
        let seeds = match env_seed()? {
            Some(s) => vec![s],
            None => self.seeds(),
        };
        Ok(seeds.into_iter().find_map(|s| self.replay(s, &body).err()))
    }

    /// Runs `body` once with `seed`.
    ///
    /// # Errors
    /// The [`Failure`] of that run.
    ///
    /// ```
    /// use quartet_runtime::testing::{Explore, seed};
    /// let r = Explore::new(1).replay(7, || async { assert_eq!(seed(), Some(7)) });
    /// assert!(r.is_ok());
    /// ```
    pub fn replay<F, Fut>(&self, seed: u64, body: F) -> Result<(), Failure>
    where
        F: Fn() -> Fut,
        Fut: Future,
        Fut::Output: Outcome,
    {
        run_one(self.builder.clone().seed(Some(seed)), Some(seed), &body)
    }

    /// Runs `body` under every seed; on the first failure prints the seed to stderr and panics
    /// with it (the way a test fails). `QUARTET_SEED=<seed>` replays only that seed.
    ///
    /// # Panics
    /// On the first failing run, and if `QUARTET_SEED` is not a number.
    ///
    /// ```should_panic
    /// quartet_runtime::testing::Explore::new(3).run(|| async { Err::<(), _>("boom") });
    /// ```
    pub fn run<F, Fut>(&self, body: F)
    where
        F: Fn() -> Fut,
        Fut: Future,
        Fut::Output: Outcome,
    {
        match self.find(body) {
            Ok(None) => {}
            Ok(Some(f)) => {
                eprintln!("quartet: schedule exploration {f}");
                panic!("quartet: schedule exploration {f}");
            }
            Err(e) => panic!("quartet: {e}"),
        }
    }
}

fn run_one<F, Fut>(builder: Builder, seed: Option<u64>, body: &F) -> Result<(), Failure>
where
    F: Fn() -> Fut,
    Fut: Future,
    Fut::Output: Outcome,
{
    let fail = |message| Err(Failure { seed, message });
    match catch_unwind(AssertUnwindSafe(|| builder.run(body()))) {
        Ok(Ok(out)) => match out.failure() {
            None => Ok(()),
            Some(m) => fail(m),
        },
        Ok(Err(e)) => fail(format!("the runtime failed: {e}")),
        Err(p) => fail(panic_message(&p)),
    }
}

fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    match (p.downcast_ref::<&str>(), p.downcast_ref::<String>()) {
        (Some(s), _) => format!("panicked: {s}"),
        (_, Some(s)) => format!("panicked: {s}"),
        _ => "panicked".to_owned(),
    }
}

/// `QUARTET_SEED`, if set.
fn env_seed() -> Result<Option<u64>, TestingError> {
    match std::env::var("QUARTET_SEED") {
        Ok(v) => parse_seed(&v).map(Some),
        Err(_) => Ok(None),
    }
}

pub(crate) fn parse_seed(v: &str) -> Result<u64, TestingError> {
    let t = v.trim();
    let parsed = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => t.parse(),
    };
    parsed.map_err(|_| TestingError::BadSeed(v.to_owned()))
}

/// The options of `#[quartet::test]`, for [`run_test`].
///
/// ```
/// let o = quartet_runtime::testing::TestOptions { mock_clock: true, ..Default::default() };
/// # let _ = o;
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TestOptions {
    /// Run on the mock clock with autojump.
    pub mock_clock: bool,
    /// Explore this many seeds (implies the mock clock).
    pub explore: Option<u64>,
    /// Run exactly this seed (implies the mock clock; `QUARTET_SEED` still wins).
    pub seed: Option<u64>,
}

/// Runs a test body as `#[quartet::test(..)]` does: once (FIFO scheduling), once with a fixed
/// seed, or under many seeds; panics on failure, naming the seed.
///
/// # Panics
/// When the body panics or returns `Err`, or the runtime cannot start.
///
/// ```
/// use quartet_runtime::testing::{TestOptions, run_test};
/// run_test(TestOptions { mock_clock: true, ..Default::default() }, || async {
///     quartet_runtime::sleep(std::time::Duration::from_secs(3600)).await
/// });
/// ```
pub fn run_test<F, Fut>(opts: TestOptions, body: F)
where
    F: Fn() -> Fut,
    Fut: Future,
    Fut::Output: Outcome,
{
    let seed = match env_seed() {
        Ok(s) => s.or(opts.seed),
        Err(e) => panic!("quartet: {e}"),
    };
    let explorer = Explore::new(opts.explore.unwrap_or(1));
    let result = match (seed, opts.explore) {
        (Some(s), _) => explorer.replay(s, &body),
        (None, Some(_)) => match explorer.find(&body) {
            Ok(None) => Ok(()),
            Ok(Some(f)) => Err(f),
            Err(e) => panic!("quartet: {e}"),
        },
        (None, None) => run_one(Builder::new().mock_clock(opts.mock_clock), None, &body),
    };
    if let Err(f) = result {
        eprintln!("quartet: test {f}");
        panic!("quartet: test {f}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_parse_in_decimal_and_hex_and_bad_ones_are_typed_errors() {
        assert_eq!(parse_seed("42"), Ok(42));
        assert_eq!(parse_seed(" 0x2A "), Ok(42));
        assert_eq!(parse_seed("0XfF"), Ok(255));
        assert_eq!(parse_seed("0x"), Err(TestingError::BadSeed("0x".into())));
        assert_eq!(parse_seed("-1"), Err(TestingError::BadSeed("-1".into())));
        assert_eq!(parse_seed("18446744073709551616"), Err(TestingError::BadSeed("18446744073709551616".into())));
    }

    #[test]
    fn failures_name_their_seed_for_replay() {
        let f = Failure { seed: Some(0xabc), message: "boom".into() };
        assert_eq!(f.to_string(), "failed with seed 0xabc (replay: QUARTET_SEED=0xabc): boom");
        assert_eq!(Failure { seed: None, message: "x".into() }.to_string(), "failed: x");
        assert_eq!(().failure(), None);
        assert_eq!(Err::<(), _>("e").failure(), Some("the body returned Err(\"e\")".into()));
    }
}
