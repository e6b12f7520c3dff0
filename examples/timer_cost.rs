//! A timer-heavy program with a deterministic instruction count, for `valgrind --tool=callgrind`
//! (wall-clock timer benchmarks depend on how late the loop wakes; instruction counts under a
//! manual mock clock do not).
//!
//! `cargo build --release --example timer_cost`, then
//! `valgrind --tool=callgrind target/release/examples/timer_cost WORKLOAD N` with `N` and `0`:
//! the difference divided by `N` is the instructions per timer.
//!
//! Workloads:
//! - `fire`: `N` children sleep until random instants (nanosecond resolution) in a 200 ms window;
//!   a driver task moves the mock clock in 100 µs steps, yielding after each, so every timer is
//!   inserted, cascaded as the clock reaches it, and fired in its batch.
//! - `cancel`: with 10 000 other timers armed, one task arms `N` sleeps 1-6 s out, polling each
//!   once, and drops it: an insert and a cancel each (a timeout whose operation finished first).

use quartet::{Builder, SpawnError, nursery, sleep, sleep_until, testing, yield_now};
use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let workload = args.first().map(String::as_str).unwrap_or("fire").to_string();
    let n: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(20_000);
    Builder::new()
        .mock_clock(true)
        .autojump(false)
        .run(async move {
            match workload.as_str() {
                "fire" => fire(n).await,
                "cancel" => cancel(n).await,
                other => panic!("unknown workload {other:?} (fire or cancel)"),
            }
        })
        .unwrap();
}

/// splitmix64: the same delays in every build.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

async fn fire(n: u64) {
    let t0 = quartet::now();
    let mut rng = 7;
    let left = Cell::new(n);
    let left = &left;
    nursery(async |nur| {
        for _ in 0..n {
            let at = t0 + Duration::from_nanos(next(&mut rng) % 200_000_000);
            nur.spawn(async move {
                sleep_until(at).await?;
                left.set(left.get() - 1);
                Ok::<_, quartet::Cancelled>(())
            })?;
        }
        nur.spawn(async move {
            while left.get() > 0 {
                testing::advance(Duration::from_micros(100)).unwrap();
                yield_now().await;
            }
            Ok::<_, quartet::Cancelled>(())
        })?;
        Ok::<_, SpawnError>(())
    })
    .await
    .unwrap();
    println!("fired {n} timers by +{:?} (virtual)", quartet::now() - t0);
}

async fn cancel(n: u64) {
    // 10 000 other timers stay armed throughout (idle connections' timeouts), up to an hour out.
    let mut rng = 11;
    nursery(async |nur| {
        for _ in 0..10_000 {
            let d = Duration::from_millis(next(&mut rng) % 3_600_000);
            nur.spawn(async move { sleep(d).await })?;
        }
        yield_now().await; // every idle child runs (and registers its timer) before the body resumes
        for i in 0..n {
            let mut s = pin!(sleep(Duration::from_millis(1000 + (i * 7919) % 5000)));
            std::future::poll_fn(|cx| {
                assert!(s.as_mut().poll(cx).is_pending());
                Poll::Ready(())
            })
            .await;
        }
        assert_eq!(quartet::stats().unwrap().timers, 10_000);
        nur.cancel(); // done: the idle ones end
        Ok::<_, SpawnError>(())
    })
    .await
    .unwrap();
    println!("armed and cancelled {n} timers among 10 000 others");
}
