//! Helpers of `stress_random_ops`: a tiny seeded PRNG, the ways an operation is put at risk
//! (cancelled by a timeout, cancelled at its n-th poll, dropped half-polled), data generators and
//! checksums, and the seed/duration settings.
#![allow(dead_code)]

use quartet::{CancelScope, move_on_after};
use std::error::Error as StdError;
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

/// xorshift64* (Vigna): tiny, fast, and good enough to pick random actions.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform-ish in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// An independent generator for a task, so its choices do not depend on how tasks interleave.
    pub fn fork(&mut self) -> Rng {
        Rng::new(self.next() ^ 0x9e37_79b9_7f4a_7c15)
    }

    /// How to run the next operation; `droppable` allows dropping it half-polled (only for
    /// operations whose effect may be lost without breaking the checks, such as a sleep, or that
    /// guarantee that a drop undoes them, such as a channel receive).
    pub fn how(&mut self, droppable: bool) -> How {
        match self.below(if droppable { 8 } else { 6 }) {
            0..=2 => How::Plain,
            3 | 4 => How::Timeout(Duration::from_micros(self.below(1500))),
            5 => How::CancelAtPoll(self.below(4) as u32),
            _ => How::DropAfter(self.below(3) as u32),
        }
    }
}

/// The risk an operation runs.
#[derive(Debug, Clone, Copy)]
pub enum How {
    /// Awaited to the end.
    Plain,
    /// Inside `move_on_after(d)`.
    Timeout(Duration),
    /// Inside a scope cancelled just before the operation's n-th poll.
    CancelAtPoll(u32),
    /// Polled n times (yielding in between), then dropped if not finished.
    DropAfter(u32),
}

/// What became of an operation.
#[derive(Debug)]
pub enum Outcome<T, E> {
    /// It finished with a value.
    Done(T),
    /// It failed with something other than our own cancellation.
    Err(E),
    /// Our scope cancelled it and it reported `Cancelled`: it did nothing.
    Cancelled,
    /// It was dropped before it finished: its effect is unknown.
    Dropped,
}

/// Runs `fut` at risk `how`.
pub async fn attempt<T, E, F>(how: How, fut: F) -> Outcome<T, E>
where
    F: Future<Output = Result<T, E>>,
    E: StdError + 'static,
{
    let scoped = |r: Result<Option<T>, E>| match r {
        Ok(Some(v)) => Outcome::Done(v),
        Ok(None) => Outcome::Cancelled,
        Err(e) => Outcome::Err(e),
    };
    match how {
        How::Plain => match fut.await {
            Ok(v) => Outcome::Done(v),
            Err(e) => Outcome::Err(e),
        },
        How::Timeout(d) => scoped(move_on_after(d, fut).await),
        How::CancelAtPoll(n) => {
            let scope = CancelScope::new();
            let handle = scope.handle();
            let mut fut = pin!(fut);
            let mut polls = 0;
            let counted = poll_fn(|cx| {
                if polls == n {
                    handle.cancel();
                }
                polls += 1;
                fut.as_mut().poll(cx)
            });
            scoped(scope.run(counted).await)
        }
        How::DropAfter(n) => {
            let mut fut = pin!(fut);
            for _ in 0..=n {
                let mut once = Some(fut.as_mut());
                let polled = poll_fn(|cx| Poll::Ready(once.take().expect("polled once").poll(cx))).await;
                match polled {
                    Poll::Ready(Ok(v)) => return Outcome::Done(v),
                    Poll::Ready(Err(e)) => return Outcome::Err(e),
                    Poll::Pending => quartet::yield_now().await,
                }
            }
            Outcome::Dropped
        }
    }
}

/// Byte `i` of the seeded data stream `stream`.
pub fn stream_byte(stream: u64, i: usize) -> u8 {
    let mut x = stream ^ ((i / 8) as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    (x >> ((i % 8) * 8)) as u8
}

/// FNV-1a of `data`.
pub fn fnv(data: &[u8]) -> u64 {
    fnv_more(0xcbf2_9ce4_8422_2325, data)
}

/// Continues an FNV-1a checksum.
pub fn fnv_more(mut h: u64, data: &[u8]) -> u64 {
    for &b in data {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// `QUARTET_STRESS_SEED`, or a fresh seed from the clock.
pub fn seed() -> u64 {
    match std::env::var("QUARTET_STRESS_SEED") {
        Ok(s) => s.trim().parse().expect("QUARTET_STRESS_SEED must be an unsigned integer"),
        Err(_) => {
            let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            t.as_nanos() as u64 ^ u64::from(std::process::id())
        }
    }
}

/// `QUARTET_STRESS_SECS` (fractions allowed), default 2 s.
pub fn secs() -> Duration {
    std::env::var("QUARTET_STRESS_SECS")
        .ok()
        .map(|s| Duration::from_secs_f64(s.trim().parse().expect("QUARTET_STRESS_SECS must be a number of seconds")))
        .unwrap_or(Duration::from_secs(2))
}

/// Prints the seed if the test fails (panics) while this is alive.
pub struct SeedReport(pub u64);

impl Drop for SeedReport {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("stress failed: replay with QUARTET_STRESS_SEED={}", self.0);
        }
    }
}
