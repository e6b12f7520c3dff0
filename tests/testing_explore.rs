//! Schedule exploration finds a real ordering bug: a check-then-act race between two children
//! over a shared `Cell`, which FIFO scheduling never exposes. The printed seed replays it, also
//! through `QUARTET_SEED` in a child process (the way a user replays a CI failure).

use quartet::testing::{Explore, TestingError};
use quartet::{BoxError, Builder, nursery, sleep, yield_now};
use std::cell::{Cell, RefCell};
use std::time::Duration;

/// One seat left; two customers book it. The bug: the check and the act are separated by an
/// await, so a customer who checked may be overtaken by the other one.
async fn book(seats: &Cell<u32>, booked: &Cell<u32>) {
    if seats.get() > 0 {
        yield_now().await; // e.g. a payment call in a real program
        seats.set(seats.get().saturating_sub(1));
        booked.set(booked.get() + 1);
    }
}

async fn last_seat_race() -> Result<(), String> {
    let (seats, booked) = (Cell::new(1), Cell::new(0));
    nursery(async |n| {
        let (s, b) = (&seats, &booked);
        n.spawn(async move {
            book(s, b).await;
            Ok::<_, BoxError>(())
        })?;
        n.spawn(async move {
            for _ in 0..5 {
                yield_now().await; // the second customer browses a little first
            }
            book(s, b).await;
            Ok::<_, BoxError>(())
        })?;
        Ok::<_, BoxError>(())
    })
    .await
    .map_err(|e| e.to_string())?;
    match booked.get() {
        0 | 1 => Ok(()),
        n => Err(format!("the last seat was sold {n} times")),
    }
}

#[test]
fn fifo_scheduling_never_shows_the_race() {
    for _ in 0..50 {
        Builder::new().mock_clock(true).run(last_seat_race()).unwrap().unwrap();
    }
}

#[test]
fn exploration_finds_the_race_and_its_seed_replays_it() {
    let explore = Explore::new(300);
    let found = explore.find(last_seat_race).unwrap().expect("300 seeds expose the race");
    let seed = found.seed.expect("exploration runs have seeds");
    assert!(found.message.contains("sold 2 times"), "{found}");
    assert!(found.to_string().contains(&format!("QUARTET_SEED={seed:#x}")), "{found}");
    let position = explore.seeds().iter().position(|&s| s == seed).unwrap();
    assert!(position < 300);
    for _ in 0..5 {
        assert_eq!(explore.replay(seed, last_seat_race), Err(found.clone()), "a seed replays exactly");
    }
}

/// Everything a run did, in order, with virtual timestamps.
async fn traced() -> Vec<(u32, Duration)> {
    let trace = RefCell::new(Vec::new());
    let t0 = quartet::now();
    nursery(async |n| {
        for id in 0..6u32 {
            let trace = &trace;
            n.spawn(async move {
                for step in 0..3 {
                    // Every child wakes at the same instants: the seed orders them.
                    sleep(Duration::from_millis(10 * step)).await?;
                    yield_now().await;
                    trace.borrow_mut().push((id, quartet::now() - t0));
                }
                Ok::<_, BoxError>(())
            })?;
        }
        Ok::<_, BoxError>(())
    })
    .await
    .unwrap();
    trace.into_inner()
}

#[test]
fn a_seed_is_a_complete_schedule_and_seeds_differ() {
    let run = |seed| Builder::new().mock_clock(true).seed(Some(seed)).run(traced()).unwrap();
    let a = run(7);
    for _ in 0..5 {
        assert_eq!(run(7), a, "same seed, same trace");
    }
    let distinct: std::collections::HashSet<_> = (0..20).map(run).collect();
    assert!(distinct.len() > 10, "seeds explore different orders: {}", distinct.len());
    let fifo = Builder::new().mock_clock(true).run(traced()).unwrap();
    let ids: Vec<u32> = fifo.iter().take(6).map(|e| e.0).collect();
    assert_eq!(ids, vec![0, 1, 2, 3, 4, 5], "without a seed: FIFO");
}

/// Runs as a child process only (see below): the body a user would write, failing on its seed.
#[test]
fn explore_child_process() {
    if std::env::var_os("QUARTET_EXPLORE_CHILD").is_none() {
        return;
    }
    Explore::new(300).run(last_seat_race);
}

fn child(seed: Option<&str>) -> (bool, String) {
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "explore_child_process", "--nocapture", "--test-threads=1"]);
    cmd.env("QUARTET_EXPLORE_CHILD", "1").env_remove("QUARTET_SEED");
    if let Some(s) = seed {
        cmd.env("QUARTET_SEED", s);
    }
    let out = cmd.output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn the_printed_seed_replays_through_quartet_seed() {
    let (ok, stderr) = child(None);
    assert!(!ok, "exploration fails the test");
    let printed = stderr
        .split("QUARTET_SEED=")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_hexdigit() && c != 'x').next())
        .unwrap_or_else(|| panic!("no seed printed: {stderr}"))
        .to_owned();
    let (ok, replay) = child(Some(&printed));
    assert!(!ok, "the printed seed fails again");
    assert!(replay.contains(&format!("QUARTET_SEED={printed}")), "{replay}");
    assert!(replay.contains("sold 2 times"), "{replay}");
    let (ok, _) = child(Some("0"));
    assert!(ok, "seed 0 happens to schedule the second customer late: it passes, every time");
    let (ok, bad) = child(Some("not-a-seed"));
    assert!(!ok && bad.contains(&TestingError::BadSeed("not-a-seed".into()).to_string()), "{bad}");
}
