//! Overflowing durations handed to the public time API: an interval whose period is
//! `Duration::MAX` (or centuries) ticks once and then never again, in every missed-tick mode,
//! and `reset` works; nothing panics with "overflow when adding duration to instant".

use quartet::{Cancelled, MissedTickBehavior, interval, interval_at, move_on_after, now, sleep};
use std::time::Duration;

const HUGE: [Duration; 2] = [Duration::MAX, Duration::from_secs(1 << 40)];

#[quartet::test(mock_clock)]
async fn interval_with_a_huge_period_ticks_once_then_waits() -> Result<(), Cancelled> {
    for behavior in [MissedTickBehavior::Burst, MissedTickBehavior::Delay, MissedTickBehavior::Skip] {
        for period in HUGE {
            let mut every = interval(period);
            every.set_missed_tick_behavior(behavior);
            let first = every.tick().await?;
            assert!(first <= now());
            let second = move_on_after(Duration::from_secs(3600), every.tick()).await?;
            assert_eq!(second, None, "{behavior:?} {period:?}");
            every.reset();
            let after_reset = move_on_after(Duration::from_secs(3600), every.tick()).await?;
            assert_eq!(after_reset, None, "{behavior:?} {period:?} after reset");
        }
    }
    Ok(())
}

#[quartet::test(mock_clock)]
async fn late_tick_of_a_huge_interval_does_not_overflow() -> Result<(), Cancelled> {
    for behavior in [MissedTickBehavior::Burst, MissedTickBehavior::Delay, MissedTickBehavior::Skip] {
        let start = now();
        let mut every = interval_at(start, Duration::MAX);
        every.set_missed_tick_behavior(behavior);
        sleep(Duration::from_secs(10)).await?; // the first tick is late
        assert_eq!(every.tick().await?, start);
        assert_eq!(move_on_after(Duration::from_secs(1), every.tick()).await?, None);
    }
    Ok(())
}

#[test]
fn builder_accepts_duration_max_everywhere_and_runs_normally() {
    let out = quartet::Builder::new()
        .shutdown_drain(Duration::MAX)
        .slow_poll_threshold(Some(Duration::MAX))
        .busy_poll(Duration::MAX)
        .run(async {
            let r = quartet::nursery(async |n| {
                n.spawn(sleep(Duration::from_millis(1)))?;
                let limiter = quartet::CapacityLimiter::new(1);
                let v = quartet::to_thread(|| 21 * 2).limiter(&limiter).await?;
                Ok::<_, quartet::BoxError>(v)
            })
            .await;
            r.map_err(|e| e.to_string())
        })
        .unwrap();
    assert_eq!(out, Ok(42));
    let settled = quartet::Builder::new()
        .mock_clock(true)
        .autojump_settle(Duration::MAX)
        .run(async { sleep(Duration::from_secs(60)).await })
        .unwrap();
    assert_eq!(settled, Ok(()));
}
