//! The mock clock: autojump, manual moves, every time source on virtual time, and real loopback
//! I/O between tasks still working under it. No test here measures wall-clock time to decide.

use quartet_runtime::testing::{MAX_VIRTUAL, TestingError, advance, elapsed, jump_to, wait_all_tasks_blocked};
use quartet_runtime::{Builder, interval, now, sleep, sleep_until};
use std::time::Duration;

fn mock() -> Builder {
    Builder::new().mock_clock(true)
}

#[test]
fn an_hour_long_sleep_jumps_exactly() {
    let out = mock()
        .run(async {
            let t0 = now();
            sleep(Duration::from_secs(3600)).await.unwrap();
            (now() - t0, elapsed().unwrap())
        })
        .unwrap();
    assert_eq!(out, (Duration::from_secs(3600), Duration::from_secs(3600)));
}

#[test]
fn same_result_every_run() {
    let run = || {
        mock()
            .run(async {
                let mut log = Vec::new();
                for ms in [7u64, 3, 1000, 1] {
                    sleep(Duration::from_millis(ms)).await.unwrap();
                    log.push(elapsed().unwrap());
                }
                log
            })
            .unwrap()
    };
    let first = run();
    assert_eq!(first.last(), Some(&Duration::from_millis(1011)));
    for _ in 0..5 {
        assert_eq!(run(), first);
    }
}

#[test]
fn interval_ticks_on_virtual_time() {
    let ticks = mock()
        .run(async {
            let t0 = now();
            let mut every = interval(Duration::from_secs(60));
            let mut at = Vec::new();
            for _ in 0..4 {
                at.push(every.tick().await.unwrap() - t0);
            }
            at
        })
        .unwrap();
    let want: Vec<_> = (0..4).map(|i| Duration::from_secs(60 * i)).collect();
    assert_eq!(ticks, want);
}

#[test]
fn manual_clock_moves_only_when_told() {
    mock()
        .autojump(false)
        .run(async {
            let t0 = now();
            advance(Duration::from_secs(2)).unwrap();
            jump_to(t0 + Duration::from_secs(10)).unwrap();
            jump_to(t0).unwrap(); // the past: ignored
            assert_eq!(now() - t0, Duration::from_secs(10));
            // A due sleep fires at the next turn.
            sleep_until(t0 + Duration::from_secs(5)).await.unwrap();
            assert_eq!(advance(Duration::MAX), Err(TestingError::Overflow));
            assert_eq!(advance(MAX_VIRTUAL), Err(TestingError::Overflow), "10 s already used");
            assert_eq!(jump_to(t0 + MAX_VIRTUAL + Duration::from_secs(1)), Err(TestingError::Overflow));
            assert_eq!(now() - t0, Duration::from_secs(10), "refused moves leave the clock alone");
            advance(MAX_VIRTUAL - Duration::from_secs(10)).unwrap(); // exactly to the limit
            assert_eq!(now() - t0, MAX_VIRTUAL);
            // Deadlines still work at the far end of the range.
            quartet_runtime::sleep(Duration::ZERO).await.unwrap();
        })
        .unwrap();
}

#[test]
fn clock_calls_need_a_mock_clock() {
    Builder::new()
        .run(async {
            assert_eq!(advance(Duration::from_secs(1)), Err(TestingError::NoMockClock));
            assert_eq!(elapsed(), Err(TestingError::NoMockClock));
        })
        .unwrap();
}

#[test]
fn wait_all_tasks_blocked_returns_at_idle_without_a_mock_clock() {
    Builder::new()
        .run(async {
            wait_all_tasks_blocked().await.unwrap();
            wait_all_tasks_blocked().await.unwrap();
        })
        .unwrap();
}
