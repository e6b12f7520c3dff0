//! The timer wheel seen through sleeps: exact wake instants under the mock clock at every level
//! of the wheel (sub-millisecond, cascaded, overflow), registration order among timers due at the
//! same instant, cancelled earliest timers that must not stall the clock, and real-clock timers
//! that never fire early.

use quartet::{Builder, SpawnError, now, nursery, sleep, sleep_until};
use std::cell::RefCell;
use std::time::Duration;

fn mock() -> Builder {
    Builder::new().mock_clock(true)
}

const YEAR: Duration = Duration::from_secs(365 * 86400);

#[test]
fn mock_clock_wakes_each_sleep_at_its_exact_instant_on_every_level() {
    let delays = [
        Duration::from_micros(1500),
        Duration::from_micros(1500) + Duration::from_nanos(1),
        Duration::from_millis(2),
        Duration::from_millis(63) + Duration::from_micros(999),
        Duration::from_millis(64),
        Duration::from_millis(70_000) + Duration::from_micros(300), // level 2
        Duration::from_secs(5 * 3600) + Duration::from_nanos(7),    // level 3
        3 * YEAR + Duration::from_micros(1),                        // beyond the wheel: overflow
    ];
    let woke = mock()
        .run(async move {
            let t0 = now();
            let woke = RefCell::new(Vec::new());
            nursery(async |n| {
                for d in delays.iter().rev() {
                    let woke = &woke;
                    n.spawn(async move {
                        sleep(*d).await?;
                        woke.borrow_mut().push(now() - t0);
                        Ok::<_, quartet::Cancelled>(())
                    })?;
                }
                Ok::<_, SpawnError>(())
            })
            .await
            .unwrap();
            woke.into_inner()
        })
        .unwrap();
    assert_eq!(woke, delays, "each sleep wakes at exactly its deadline, in deadline order");
}

#[test]
fn timers_due_at_the_same_instant_fire_in_registration_order() {
    let order = mock()
        .run(async {
            let at = now() + Duration::from_millis(100);
            let order = RefCell::new(Vec::new());
            nursery(async |n| {
                for i in 0..20u32 {
                    let order = &order;
                    // Registered every 5 ms: the first ones on the wheel's second level (cascaded
                    // when the clock reaches the 64 ms block of `at`), the later ones directly
                    // on the first.
                    n.spawn(async move {
                        sleep(Duration::from_millis(u64::from(i) * 5)).await?;
                        sleep_until(at).await?;
                        order.borrow_mut().push(i);
                        Ok::<_, quartet::Cancelled>(())
                    })?;
                }
                Ok::<_, SpawnError>(())
            })
            .await
            .unwrap();
            order.into_inner()
        })
        .unwrap();
    assert_eq!(order, (0..20).collect::<Vec<_>>());
}

#[test]
fn timers_fired_together_wake_in_deadline_order() {
    let order = Builder::new()
        .mock_clock(true)
        .autojump(false)
        .run(async {
            let t0 = now();
            let order = RefCell::new(Vec::new());
            nursery(async |n| {
                // All within one millisecond, registered latest first.
                for us in [900u64, 700, 500, 300, 100] {
                    let order = &order;
                    n.spawn(async move {
                        sleep_until(t0 + Duration::from_micros(us)).await?;
                        order.borrow_mut().push(us);
                        Ok::<_, quartet::Cancelled>(())
                    })?;
                }
                n.spawn(async {
                    quartet::yield_now().await; // the sleeps register first
                    quartet::testing::advance(Duration::from_millis(1)).unwrap();
                    Ok::<_, quartet::Cancelled>(())
                })?;
                Ok::<_, SpawnError>(())
            })
            .await
            .unwrap();
            order.into_inner()
        })
        .unwrap();
    assert_eq!(order, [100, 300, 500, 700, 900]);
}

#[test]
fn cancelling_the_earliest_timer_does_not_stall_the_mock_clock() {
    for (cancelled, kept) in [(Duration::from_secs(3600), Duration::from_secs(7200)), (3 * YEAR, 40 * YEAR)] {
        let took = mock()
            .run(async move {
                let t0 = now();
                {
                    let mut early = Box::pin(sleep(cancelled));
                    let pending = std::future::poll_fn(|cx| std::task::Poll::Ready(early.as_mut().poll(cx))).await;
                    assert!(pending.is_pending());
                } // dropped: its registration goes away
                sleep(kept).await.unwrap();
                now() - t0
            })
            .unwrap();
        assert_eq!(took, kept, "the clock jumped straight to the remaining timer");
    }
}

#[test]
fn real_clock_timers_never_fire_early() {
    let early = Builder::new()
        .run(async {
            let t0 = now();
            let early = RefCell::new(Vec::new());
            nursery(async |n| {
                let mut x = 1u64;
                for i in 0..300u64 {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    // Spread over 0-140 ms: level 0, level 1 (cascaded) and same-millisecond groups.
                    let at = t0 + Duration::from_micros((x >> 33) % 140_000 + i % 3);
                    let early = &early;
                    n.spawn(async move {
                        sleep_until(at).await?;
                        let woke = now();
                        if woke < at {
                            early.borrow_mut().push(at - woke);
                        }
                        Ok::<_, quartet::Cancelled>(())
                    })?;
                }
                Ok::<_, SpawnError>(())
            })
            .await
            .unwrap();
            early.into_inner()
        })
        .unwrap();
    assert!(early.is_empty(), "timers fired early by {early:?}");
}
