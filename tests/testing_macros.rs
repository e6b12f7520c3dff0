//! `#[quartet::test]` with each option, as users write it.

use quartet::testing::{elapsed, seed};
use quartet::{BoxError, nursery, sleep, yield_now};
use std::cell::Cell;
use std::time::Duration;

#[quartet::test]
async fn plain_test_runs_on_the_real_clock_with_fifo() {
    assert_eq!(seed(), None);
    assert!(elapsed().is_err(), "no mock clock");
}

#[quartet::test(mock_clock)]
async fn mock_clock_makes_an_hour_free() -> Result<(), quartet::Cancelled> {
    sleep(Duration::from_secs(3600)).await?;
    assert_eq!(elapsed().unwrap(), Duration::from_secs(3600));
    Ok(())
}

#[quartet::test(seed = 0x2a)]
async fn a_fixed_seed_is_used() {
    assert_eq!(seed(), Some(42));
    assert_eq!(elapsed().unwrap(), Duration::ZERO, "seed implies the mock clock");
}

thread_local! {
    static RUNS: Cell<u32> = const { Cell::new(0) };
}

#[quartet::test(explore = 25)]
async fn explore_runs_the_body_once_per_seed() -> Result<(), BoxError> {
    RUNS.with(|r| r.set(r.get() + 1));
    assert!(seed().is_some());
    nursery(async |n| {
        n.spawn(async {
            yield_now().await;
            Ok::<_, BoxError>(())
        })?;
        Ok::<_, BoxError>(())
    })
    .await?;
    Ok(())
}

#[test]
fn explore_really_ran_25_times() {
    RUNS.with(|r| r.set(0));
    explore_runs_the_body_once_per_seed();
    // Unless QUARTET_SEED is set, in which case only that seed runs.
    let want = if std::env::var_os("QUARTET_SEED").is_some() { 1 } else { 25 };
    assert_eq!(RUNS.with(Cell::get), want);
}

#[quartet::test(mock_clock)]
#[should_panic(expected = "the body returned Err")]
async fn an_err_fails_the_test() -> Result<(), String> {
    Err("expected failure".into())
}
