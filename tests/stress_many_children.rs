//! Stress: 10,000 children, one of which fails. Every other child is cancelled (whether it waits on
//! a timer, a ring op or a socket, or spins on checkpoints), the failure is reported exactly once
//! with its origin, and nothing is left behind: no op in flight, no fd open.

mod nursery_support;

use nursery_support::{open_fds, run, tcp_pair};
use quartet::{BoxError, Reason, checkpoint, nop, nursery, sleep, stats};
use std::cell::Cell;
use std::time::{Duration, Instant};

const CHILDREN: u32 = 10_000;
const FAILER: u32 = 7_777;

#[test]
fn ten_thousand_children_one_fails_all_others_cancelled_error_reported_once() {
    let fds_before = open_fds();
    let cancelled = Cell::new(0u32);
    let wrong_reason = Cell::new(0u32);
    let started = Instant::now();
    let (err, live_ops) = run(async {
        let mut pairs = Vec::new();
        for _ in 0..16 {
            pairs.push(tcp_pair().await.unwrap());
        }
        let r = nursery(async |n| {
            for i in 0..CHILDREN {
                let (cancelled, wrong_reason, pairs) = (&cancelled, &wrong_reason, &pairs);
                if i == FAILER {
                    n.spawn_named("the failing one", async {
                        for _ in 0..10 {
                            checkpoint().await?;
                        }
                        Err::<(), BoxError>(std::io::Error::other("child 7777 failed").into())
                    })?;
                    continue;
                }
                n.spawn(async move {
                    let r: Result<(), BoxError> = match i % 4 {
                        0 => sleep(Duration::from_secs(3600)).await.map_err(Into::into),
                        1 => loop {
                            if let Err(e) = nop().await {
                                break Err(e.into());
                            }
                        },
                        2 => {
                            let (a, _) = &pairs[i as usize % pairs.len()];
                            a.recv(Vec::with_capacity(8)).await.0.map(drop).map_err(Into::into)
                        }
                        _ => loop {
                            if let Err(e) = checkpoint().await {
                                break Err(e.into());
                            }
                        },
                    };
                    let e = r.expect_err("only a cancellation ends these children");
                    match quartet::find_cancelled(&*e) {
                        Some(c) => {
                            cancelled.set(cancelled.get() + 1);
                            if !matches!(c.reason(), Reason::SiblingFailed(who) if who.contains("the failing one")) {
                                wrong_reason.set(wrong_reason.get() + 1);
                            }
                        }
                        None => panic!("child {i} failed with a non-cancellation: {e}"),
                    }
                    Err::<(), _>(e)
                })?;
            }
            Ok::<_, BoxError>(())
        })
        .await;
        for (a, b) in pairs {
            a.close().await.unwrap();
            b.close().await.unwrap();
        }
        (r, stats().unwrap().live_ops)
    });
    let elapsed = started.elapsed();
    let err = err.expect_err("one child failed");
    assert_eq!(err.failures().len(), 1, "reported once: {err}");
    assert!(err.failures()[0].origin().contains("the failing one"), "{err}");
    assert_eq!(err.failures()[0].error().to_string(), "child 7777 failed");
    assert_eq!(cancelled.get(), CHILDREN - 1, "every other child must be cancelled");
    assert_eq!(wrong_reason.get(), 0, "the cancel reason must name the failed sibling");
    assert_eq!(live_ops, 0, "ops left in flight");
    assert_eq!(open_fds(), fds_before, "fds left open");
    eprintln!("stress: {CHILDREN} children, 1 failure, {} cancelled in {elapsed:?}", cancelled.get());
}
