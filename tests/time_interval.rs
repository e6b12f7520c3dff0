//! `interval`: ticks on the `sleep_until` clock, the three missed-tick policies after a task held
//! the loop for several periods, the `Stream` face, and cancellation consuming no tick. Ticks
//! return their *scheduled* instants, so the checks compare exact instants, not elapsed times.

use crate::fs_support;

use fs_support::{Via, next, run_with};
use quartet::{CancelScope, Instant, MissedTickBehavior, interval, interval_at};
use std::time::Duration;

const P: Duration = Duration::from_millis(10);

/// Holds the loop (a deliberately blocking task) so that several ticks are missed.
fn block_for(d: Duration) {
    std::thread::sleep(d);
}

#[test]
fn the_first_tick_is_at_the_start_and_the_rest_follow_the_period() {
    run_with(Via::Ring, async {
        let t0 = Instant::now() + Duration::from_millis(5);
        let mut every = interval_at(t0, P);
        for k in 0..4 {
            let at = every.tick().await.unwrap();
            assert_eq!(at, t0 + P * k);
            assert!(Instant::now() >= at, "a tick never fires before its instant");
        }
    });
}

#[test]
fn burst_fires_every_missed_tick_on_the_original_schedule() {
    run_with(Via::Ring, async {
        let mut every = interval(P);
        let t0 = every.tick().await.unwrap();
        block_for(P * 3 + P / 2);
        for k in 1..=5 {
            assert_eq!(every.tick().await.unwrap(), t0 + P * k);
        }
    });
}

#[test]
fn delay_restarts_the_schedule_one_period_after_the_late_tick() {
    run_with(Via::Ring, async {
        let mut every = interval(P);
        every.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let t0 = every.tick().await.unwrap();
        block_for(P * 3 + P / 2);
        let before = Instant::now();
        assert_eq!(every.tick().await.unwrap(), t0 + P, "the late tick still reports its own instant");
        let after = Instant::now();
        let next = every.tick().await.unwrap();
        assert!(next >= before + P && next <= after + P, "one period after the late tick fired");
        // next + P, or later if this (loaded) machine stalled the task for a whole period again
        assert!(every.tick().await.unwrap() >= next + P, "then on the new schedule");
    });
}

#[test]
fn skip_drops_missed_ticks_and_stays_on_the_original_grid() {
    run_with(Via::Ring, async {
        let mut every = interval(P);
        every.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let t0 = every.tick().await.unwrap();
        block_for(P * 3 + P / 2);
        assert_eq!(every.tick().await.unwrap(), t0 + P);
        let next = every.tick().await.unwrap();
        let offset = next - t0;
        assert_eq!(offset.as_nanos() % P.as_nanos(), 0, "on the grid");
        assert!(offset >= P * 4, "the missed instants were skipped: {offset:?}");
    });
}

#[test]
fn the_interval_stream_yields_successive_ticks() {
    run_with(Via::Ring, async {
        let t0 = Instant::now();
        let mut every = interval_at(t0, P);
        for k in 0..3 {
            assert_eq!(next(&mut every).await.unwrap().unwrap(), t0 + P * k);
        }
    });
}

#[test]
fn a_cancelled_tick_consumes_no_tick() {
    run_with(Via::Ring, async {
        let t0 = Instant::now();
        let mut every = interval_at(t0, P);
        let scope = CancelScope::new();
        scope.cancel();
        let r = scope.run(async { Ok::<_, quartet::Cancelled>(every.tick().await) }).await.unwrap().unwrap();
        assert!(r.is_err());
        assert_eq!(every.tick().await.unwrap(), t0, "the same tick is still due");
        assert_eq!(every.tick().await.unwrap(), t0 + P);
    });
}

/// A zero period is valid: every tick is due at once, so the interval ticks as often as the loop
/// lets the task run. The next tick is scheduled at the instant the previous one was taken, so
/// the reported instants never go backwards, whatever the missed-tick policy.
#[test]
fn a_zero_period_ticks_at_once_under_every_policy() {
    for behavior in [MissedTickBehavior::Burst, MissedTickBehavior::Delay, MissedTickBehavior::Skip] {
        run_with(Via::Ring, async {
            let t0 = Instant::now();
            let mut every = interval_at(t0, Duration::ZERO);
            every.set_missed_tick_behavior(behavior);
            assert_eq!(every.period(), Duration::ZERO);
            let mut last = every.tick().await.unwrap();
            assert_eq!(last, t0, "{behavior:?}: the first tick is at the start");
            block_for(Duration::from_millis(2)); // the next tick is late: the missed-tick path
            for _ in 0..5 {
                let at = every.tick().await.unwrap();
                assert!(at >= last, "{behavior:?}: {at:?} < {last:?}");
                last = at;
            }
            every.reset();
            assert!(every.tick().await.unwrap() >= last, "{behavior:?}: reset");
        });
    }
}

/// Each zero-period tick is still a checkpoint: it yields to the other tasks, and a cancel scope
/// stops a loop that does nothing but tick.
#[test]
fn a_zero_period_tick_is_still_a_checkpoint() {
    use std::cell::Cell;
    run_with(Via::Ring, async {
        let mut every = interval(Duration::ZERO);
        let out = quartet::move_on_after(Duration::from_millis(5), async {
            loop {
                every.tick().await?;
            }
            #[allow(unreachable_code)]
            Ok::<(), quartet::Cancelled>(())
        })
        .await
        .unwrap();
        assert_eq!(out, None, "the deadline stopped the ticking loop");

        let sibling_ran = Cell::new(0u32);
        quartet::nursery(async |n| {
            let mut every = interval(Duration::ZERO);
            n.spawn(async {
                for _ in 0..1000 {
                    sibling_ran.set(sibling_ran.get() + 1);
                    quartet::yield_now().await;
                }
                Ok::<_, quartet::Cancelled>(())
            })?;
            for _ in 0..10 {
                let before = sibling_ran.get();
                every.tick().await?;
                assert!(sibling_ran.get() > before, "a tick let the sibling run");
            }
            n.cancel();
            Ok::<_, quartet::BoxError>(())
        })
        .await
        .unwrap();
    });
}

/// `Skip` after falling more than `u32::MAX` periods behind (a nanosecond period, a task held
/// for ten seconds): the next tick is still the next grid instant ahead, not one in the past.
#[test]
fn skip_far_behind_a_tiny_period_lands_ahead_of_now() {
    // the autojumping mock clock: `advance` makes the task late, and the clock jumps to each
    // next tick when nothing else can run
    quartet::Builder::new()
        .mock_clock(true)
        .run(async {
            let period = Duration::from_nanos(1);
            let t0 = quartet::now();
            let mut every = interval_at(t0, period);
            every.set_missed_tick_behavior(MissedTickBehavior::Skip);
            assert_eq!(every.tick().await.unwrap(), t0);
            quartet::testing::advance(Duration::from_secs(10)).unwrap();
            assert_eq!(every.tick().await.unwrap(), t0 + period, "the late tick reports its own instant");
            let now = quartet::now();
            let next = every.tick().await.unwrap();
            assert!(next > now, "skipped to a tick {:?} before now", now - next);
        })
        .unwrap();
}
