//! Periodic ticks: [`interval`] and [`interval_at`], with a policy for ticks that were missed
//! because the task was busy ([`MissedTickBehavior`], as tokio's).
//!
//! An [`Interval`] is built on [`sleep_until`] on the runtime's clock, so every tick is a
//! checkpoint and obeys cancel scopes like any sleep. A tick's value is the instant it was
//! *scheduled* for, which is exact (and what a test can check), not when the task got to run.
//!
//! A tick counts as missed when, by the time it fires, the next one is already due (the task was
//! late by at least a whole period). Lateness below one period never shifts the schedule.
//!
//! A zero period is valid and means "tick as often as the loop allows": every tick is due at
//! once, yet each is still a checkpoint (a `sleep_until` of an instant already passed yields and
//! obeys cancel scopes), so a loop that only ticks neither starves the other tasks nor escapes a
//! deadline. There is no schedule to fall behind on, so the policies coincide: the next tick is
//! scheduled for the instant the previous one was taken, and the reported instants never go
//! backwards. (Tokio panics on a zero period; a zero is a plausible computed value, e.g. a rate
//! limit of "unlimited", so quartet gives it a meaning instead.)

use crate::error::Cancelled;
use crate::time::{Instant, Sleep, far_future, sleep_until};
use futures_core::Stream;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// What an [`Interval`] does after missing ticks.
///
/// # Examples
/// ```no_run
/// use quartet_runtime::{MissedTickBehavior, interval};
/// let mut frames = interval(std::time::Duration::from_millis(16));
/// frames.set_missed_tick_behavior(MissedTickBehavior::Skip); // never render stale frames
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissedTickBehavior {
    /// Fire the missed ticks one after the other, as fast as the task takes them, until caught
    /// up; the schedule stays on `start + k * period` (the default).
    #[default]
    Burst,
    /// Fire once, then start a new schedule one period after that late tick.
    Delay,
    /// Fire once, then continue at the next instant of the original schedule that is still
    /// ahead (the missed ones are dropped).
    Skip,
}

impl MissedTickBehavior {
    /// When the tick after one `scheduled` for that fired at `now` is due.
    fn next(self, scheduled: Instant, now: Instant, period: Duration) -> Instant {
        if period.is_zero() {
            // Always due: no tick can be missed, and `Skip` must not divide by the period.
            return now.max(scheduled);
        }
        let on_time = later(scheduled, period);
        if now < on_time {
            return on_time;
        }
        match self {
            MissedTickBehavior::Burst => on_time,
            MissedTickBehavior::Delay => later(now, period),
            MissedTickBehavior::Skip => {
                // In nanoseconds: the count of periods behind can pass `u32::MAX` (a 1 ns period
                // 5 s late), which `Duration * u32` cannot express; a clamped count would land
                // on a grid instant still in the past and fire the skipped ticks after all.
                let behind = (now - scheduled).as_nanos() / period.as_nanos();
                period
                    .as_nanos()
                    .checked_mul(behind + 1)
                    .and_then(|ahead| u64::try_from(ahead).ok())
                    .and_then(|ahead| scheduled.checked_add(Duration::from_nanos(ahead)))
                    .unwrap_or_else(|| later(now, period))
            }
        }
    }
}

/// `at + d`, or a far-future instant when that is not representable (a period of
/// `Duration::MAX` means "never again", not a panic).
fn later(at: Instant, d: Duration) -> Instant {
    at.checked_add(d).unwrap_or_else(|| far_future().max(at))
}

/// Ticks every `period`, the first one at once. See [`Interval`].
///
/// A zero `period` ticks as often as the loop lets the task run, each tick still a checkpoint
/// (see [`Interval`], "Zero period"); `Duration::MAX` ticks once and then never again.
///
/// # Examples
/// ```no_run
/// use std::time::Duration;
/// # quartet_runtime::run(async {
/// let mut every = quartet_runtime::interval(Duration::from_secs(1));
/// for _ in 0..3 {
///     let at = every.tick().await?;
///     println!("tick scheduled for {at:?}");
/// }
/// # Ok::<(), quartet_runtime::Cancelled>(()) }).unwrap().unwrap();
/// ```
pub fn interval(period: Duration) -> Interval {
    interval_at(crate::now(), period)
}

/// Ticks at `start`, `start + period`, `start + 2 * period`... See [`Interval`].
///
/// `start` may be in the past (the first tick is then due at once and the missed-tick policy
/// decides what follows). A zero `period` ticks at `start` and then as often as the loop lets the
/// task run, each tick still a checkpoint (see [`interval`]).
///
/// # Examples
/// ```no_run
/// use quartet_runtime::{Instant, interval_at};
/// use std::time::Duration;
/// # quartet_runtime::run(async {
/// let mut every = interval_at(Instant::now() + Duration::from_millis(50), Duration::from_millis(10));
/// every.tick().await?; // 50 ms from now
/// # Ok::<(), quartet_runtime::Cancelled>(()) }).unwrap().unwrap();
/// ```
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    Interval { period, next: start, behavior: MissedTickBehavior::default(), sleep: None }
}

/// A periodic timer: await [`tick`](Interval::tick), or use it as a [`Stream`] of tick instants
/// (it never ends).
///
/// # Cancellation
/// Each tick is a checkpoint (a [`sleep_until`]). A tick that returns `Cancelled` consumed no
/// tick: the next call returns the same scheduled instant.
///
/// # Zero period
/// A period of [`Duration::ZERO`] is valid: every tick is due at once, so the interval ticks as
/// often as the loop lets the task run. Each tick is still a checkpoint: it yields to the other
/// ready tasks and fails with `Cancelled` in a cancelled scope, so a loop that only ticks cannot
/// starve the loop or outlive its deadline. No tick can be missed, so the [`MissedTickBehavior`]
/// policies coincide: the next tick is scheduled for the instant the previous one was taken (the
/// reported instants never go backwards).
///
/// # Examples
/// ```no_run
/// use quartet_runtime::{MissedTickBehavior, interval};
/// use std::time::Duration;
/// # quartet_runtime::run(async {
/// let mut heartbeat = interval(Duration::from_millis(100));
/// heartbeat.set_missed_tick_behavior(MissedTickBehavior::Skip);
/// heartbeat.tick().await?;
/// # Ok::<(), quartet_runtime::Cancelled>(()) }).unwrap().unwrap();
/// ```
#[derive(Debug)]
pub struct Interval {
    period: Duration,
    /// The instant the next tick is scheduled for.
    next: Instant,
    behavior: MissedTickBehavior,
    /// The sleep of a tick in progress (kept across polls of the stream).
    sleep: Option<Pin<Box<Sleep>>>,
}

impl Interval {
    /// Waits for the next tick and returns the instant it was scheduled for.
    ///
    /// # Cancellation
    /// A checkpoint; `Cancelled` means no tick was consumed.
    ///
    /// # Examples
    /// ```no_run
    /// # quartet_runtime::run(async {
    /// let mut every = quartet_runtime::interval(std::time::Duration::from_millis(100));
    /// let first = every.tick().await?; // at once
    /// let second = every.tick().await?; // 100 ms later
    /// assert_eq!(second - first, every.period());
    /// # Ok::<(), quartet_runtime::Cancelled>(()) }).unwrap().unwrap();
    /// ```
    pub fn tick(&mut self) -> impl std::future::Future<Output = Result<Instant, Cancelled>> {
        crate::fused::once(async move { poll_fn(|cx| self.poll_tick(cx)).await })
    }

    /// Polls for the next tick (the poll form of [`tick`](Interval::tick)).
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Result<Instant, Cancelled>> {
        let sleep = self.sleep.get_or_insert_with(|| Box::pin(sleep_until(self.next)));
        let res = std::task::ready!(sleep.as_mut().poll(cx));
        self.sleep = None;
        res?;
        let scheduled = self.next;
        self.next = self.behavior.next(scheduled, crate::now(), self.period);
        Poll::Ready(Ok(scheduled))
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// The policy for missed ticks.
    pub fn missed_tick_behavior(&self) -> MissedTickBehavior {
        self.behavior
    }

    /// Sets the policy for missed ticks.
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.behavior = behavior;
    }

    /// Restarts the schedule: the next tick is one period from now.
    ///
    /// # Examples
    /// ```no_run
    /// # quartet_runtime::run(async {
    /// let mut idle = quartet_runtime::interval(std::time::Duration::from_secs(30));
    /// idle.reset(); // activity seen: the idle tick moves 30 s ahead
    /// # Ok::<(), quartet_runtime::Cancelled>(()) }).unwrap().unwrap();
    /// ```
    pub fn reset(&mut self) {
        self.next = later(crate::now(), self.period);
        self.sleep = None;
    }
}

impl Stream for Interval {
    type Item = Result<Instant, Cancelled>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_tick(cx).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::MissedTickBehavior::{Burst, Delay, Skip};
    use std::time::{Duration, Instant};

    const P: Duration = Duration::from_millis(10);

    #[test]
    fn a_tick_within_its_period_keeps_the_schedule_for_every_policy() {
        let t0 = Instant::now();
        for b in [Burst, Delay, Skip] {
            assert_eq!(b.next(t0, t0 + Duration::from_millis(9), P), t0 + P, "{b:?}");
        }
    }

    #[test]
    fn burst_keeps_the_original_schedule_after_missed_ticks() {
        let t0 = Instant::now();
        assert_eq!(Burst.next(t0, t0 + Duration::from_millis(35), P), t0 + P);
    }

    #[test]
    fn delay_restarts_one_period_after_the_late_tick() {
        let t0 = Instant::now();
        let now = t0 + Duration::from_millis(35);
        assert_eq!(Delay.next(t0, now, P), now + P);
    }

    #[test]
    fn a_zero_period_schedules_the_next_tick_when_the_last_was_taken() {
        let t0 = Instant::now();
        let late = t0 + Duration::from_millis(35);
        for b in [Burst, Delay, Skip] {
            assert_eq!(b.next(t0, late, Duration::ZERO), late, "{b:?}");
            assert_eq!(b.next(late, t0, Duration::ZERO), late, "{b:?}: never backwards");
        }
    }

    #[test]
    fn skip_more_than_u32_max_periods_behind_still_lands_ahead_of_now() {
        let t0 = Instant::now();
        let now = t0 + Duration::from_secs(10); // 10^10 periods of 1 ns: more than u32::MAX
        let p = Duration::from_nanos(1);
        assert_eq!(Skip.next(t0, now, p), now + p);
        let p = Duration::from_nanos(3);
        let next = Skip.next(t0, now, p);
        assert!(next > now && next <= now + p && (next - t0).as_nanos() % 3 == 0, "{:?}", next - now);
    }

    #[test]
    fn skip_jumps_to_the_next_instant_of_the_schedule_still_ahead() {
        let t0 = Instant::now();
        assert_eq!(Skip.next(t0, t0 + Duration::from_millis(35), P), t0 + Duration::from_millis(40));
        assert_eq!(Skip.next(t0, t0 + Duration::from_millis(40), P), t0 + Duration::from_millis(50));
    }
}
