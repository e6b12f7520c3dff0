//! The loop-lag histogram: how late timers fired (a data structure; the kernel records into it).

use std::fmt;
use std::time::Duration;

/// Sub-buckets per power of two.
const SUB: usize = 4;
/// Values 0..SUB µs get a bucket each, then SUB buckets per octave up to 2^26 µs (67 s).
const BUCKETS: usize = SUB + 24 * SUB;

/// A histogram of how late timers fired, in microseconds, with 4 log buckets per power of two.
///
/// # Examples
/// ```
/// quartet_runtime::run(async {
///     for _ in 0..3 {
///         quartet_runtime::sleep(std::time::Duration::from_millis(1)).await.unwrap();
///     }
///     let lag = quartet_runtime::monitor::loop_lag().unwrap();
///     assert!(lag.count() >= 3);
///     assert!(lag.percentile(0.5) <= lag.max());
///     for (upper, n) in lag.buckets() {
///         println!("< {upper:?}: {n}");
///     }
/// }).unwrap();
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct LoopLag {
    buckets: [u64; BUCKETS],
    count: u64,
    max: Duration,
}

impl Default for LoopLag {
    fn default() -> Self {
        LoopLag { buckets: [0; BUCKETS], count: 0, max: Duration::ZERO }
    }
}

impl fmt::Debug for LoopLag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoopLag")
            .field("count", &self.count)
            .field("p50", &self.percentile(0.5))
            .field("p99", &self.percentile(0.99))
            .field("max", &self.max)
            .finish()
    }
}

fn bucket(us: u64) -> usize {
    if us < SUB as u64 {
        return us as usize;
    }
    let log = 63 - us.leading_zeros() as usize; // >= 2
    let sub = ((us >> (log - 2)) & 3) as usize;
    (SUB + (log - 2) * SUB + sub).min(BUCKETS - 1)
}

/// The exclusive upper bound of bucket `i`, in microseconds.
fn upper(i: usize) -> u64 {
    if i < SUB {
        return i as u64 + 1;
    }
    let log = (i - SUB) / SUB + 2;
    let sub = ((i - SUB) % SUB) as u64;
    (4 + sub + 1) << (log - 2)
}

impl LoopLag {
    pub(crate) fn record(&mut self, late: Duration) {
        let us = u64::try_from(late.as_micros()).unwrap_or(u64::MAX);
        self.buckets[bucket(us)] += 1;
        self.count += 1;
        self.max = self.max.max(late);
    }

    /// Timers fired.
    ///
    /// ```
    /// quartet_runtime::run(async {
    ///     for _ in 0..3 {
    ///         quartet_runtime::sleep(std::time::Duration::from_millis(1)).await.unwrap();
    ///     }
    ///     let lag = quartet_runtime::monitor::loop_lag().unwrap();
    ///     assert!(lag.count() >= 3);
    /// }).unwrap();
    /// ```
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The latest a timer fired.
    ///
    /// ```
    /// quartet_runtime::run(async {
    ///     for _ in 0..3 {
    ///         quartet_runtime::sleep(std::time::Duration::from_millis(1)).await.unwrap();
    ///     }
    ///     let lag = quartet_runtime::monitor::loop_lag().unwrap();
    ///     assert!(lag.percentile(0.99) <= lag.max());
    /// }).unwrap();
    /// ```
    pub fn max(&self) -> Duration {
        self.max
    }

    /// The lateness below which a fraction `q` (0.0..=1.0) of timers fired: an upper bound, within
    /// 25% (the top of its bucket, but never above [`max`](Self::max)). Zero if nothing fired.
    ///
    /// ```
    /// quartet_runtime::run(async {
    ///     for _ in 0..3 {
    ///         quartet_runtime::sleep(std::time::Duration::from_millis(1)).await.unwrap();
    ///     }
    ///     let lag = quartet_runtime::monitor::loop_lag().unwrap();
    ///     println!("p50 {:?}, p99 {:?}", lag.percentile(0.5), lag.percentile(0.99));
    /// }).unwrap();
    /// ```
    pub fn percentile(&self, q: f64) -> Duration {
        if self.count == 0 {
            return Duration::ZERO;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, &n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Duration::from_micros(upper(i)).min(self.max);
            }
        }
        self.max
    }

    /// The non-empty buckets: (exclusive upper bound, count), smallest first.
    ///
    /// ```
    /// quartet_runtime::run(async {
    ///     for _ in 0..3 {
    ///         quartet_runtime::sleep(std::time::Duration::from_millis(1)).await.unwrap();
    ///     }
    ///     let lag = quartet_runtime::monitor::loop_lag().unwrap();
    ///     let total: u64 = lag.buckets().map(|(_, n)| n).sum();
    ///     assert_eq!(total, lag.count());
    /// }).unwrap();
    /// ```
    pub fn buckets(&self) -> impl Iterator<Item = (Duration, u64)> + '_ {
        self.buckets.iter().enumerate().filter(|(_, n)| **n > 0).map(|(i, n)| (Duration::from_micros(upper(i)), *n))
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_their_values() {
        for us in [0u64, 1, 3, 4, 5, 7, 8, 9, 15, 16, 100, 1000, 65_535, 1 << 20] {
            let i = bucket(us);
            assert!(us < upper(i), "{us} in bucket {i} with upper {}", upper(i));
            if i > 0 {
                assert!(us >= upper(i - 1), "{us} below bucket {i}'s lower bound");
            }
        }
    }

    #[test]
    fn percentile_is_within_a_bucket() {
        let mut l = LoopLag::default();
        for us in 1..=100u64 {
            l.record(Duration::from_micros(us));
        }
        let p50 = l.percentile(0.5);
        assert!(p50 >= Duration::from_micros(50) && p50 <= Duration::from_micros(64), "{p50:?}");
        assert_eq!(l.percentile(1.0), Duration::from_micros(100));
    }
}
