//! Loop lag: every fired timer is recorded with how late it fired, and a blocked loop shows up.

use quartet::monitor::{loop_lag, reset_loop_lag};
use quartet::{Cancelled, SpawnError, nursery, run, sleep};
use std::time::Duration;

#[test]
fn every_fired_timer_is_counted() {
    let lag = run(async {
        reset_loop_lag();
        for _ in 0..10 {
            sleep(Duration::from_millis(1)).await.unwrap();
        }
        loop_lag().unwrap()
    })
    .unwrap();
    assert_eq!(lag.count(), 10);
    assert_eq!(lag.buckets().map(|(_, n)| n).sum::<u64>(), 10);
    assert!(lag.percentile(0.5) <= lag.max());
}

#[test]
fn blocked_loop_shows_up_as_timer_lag() {
    let lag = run(async {
        reset_loop_lag();
        nursery(async |n| {
            n.spawn(async { sleep(Duration::from_millis(1)).await })?;
            n.spawn(async {
                // holds the loop for 40 ms, so the 1 ms timer cannot fire before ~40 ms
                std::thread::sleep(Duration::from_millis(40));
                Ok::<_, Cancelled>(())
            })?;
            Ok::<_, SpawnError>(())
        })
        .await
        .unwrap();
        loop_lag().unwrap()
    })
    .unwrap();
    assert_eq!(lag.count(), 1);
    assert!(lag.max() >= Duration::from_millis(30), "{lag:?}");
    assert_eq!(lag.percentile(0.99), lag.percentile(0.5), "one sample");
    assert!(loop_lag().is_none(), "outside run");
}
