//! H7: a full submission queue never panics and never drops work; ops that wait in the userspace
//! backlog behave like any other op (they complete, and they can be cancelled).

use crate::hazard_support;

use hazard_support::{poll_once, tcp_pair, watchdog};
use quartet::{Builder, CancelScope, OpError, SpawnError, nop, nursery, sleep};
use std::cell::{Cell, RefCell};
use std::io::Write;
use std::pin::pin;
use std::time::Duration;

const CHILDREN: usize = 1000;

#[test]
fn thousand_concurrent_ops_on_a_four_entry_ring_all_complete() {
    let _w = watchdog(Duration::from_secs(30), "1000 ops on a 4-entry ring");
    let done = Cell::new(0usize);
    let received = RefCell::new(Vec::new());
    let stats = Builder::new()
        .entries(4)
        .run(async {
            let (stream, peer) = tcp_pair().await?;
            let peer = RefCell::new(peer);
            let recvs = (0..CHILDREN).filter(|i| i % 3 == 2).count();
            let sent: Vec<u8> = (0..recvs).map(|i| i as u8).collect();
            let (done, received, stream, peer, sent) = (&done, &received, &stream, &peer, &sent);
            nursery(async |n| {
                for i in 0..CHILDREN {
                    n.spawn(async move {
                        match i % 3 {
                            0 => {
                                for _ in 0..3 {
                                    nop().await?;
                                }
                            }
                            1 => sleep(Duration::from_millis((i % 7) as u64)).await?,
                            _ => {
                                let (r, buf) = stream.recv(Vec::with_capacity(1)).await;
                                assert_eq!(r?, 1, "a 1-byte recv returns one byte");
                                received.borrow_mut().extend_from_slice(&buf);
                            }
                        }
                        done.set(done.get() + 1);
                        Ok::<_, OpError>(())
                    })?;
                }
                // The data for the receivers arrives once they are all waiting in the kernel.
                n.spawn(async move {
                    sleep(Duration::from_millis(20)).await?;
                    peer.borrow_mut().write_all(sent)?;
                    Ok::<_, OpError>(())
                })?;
                Ok::<_, SpawnError>(())
            })
            .await
            .map_err(std::io::Error::other)?;
            Ok::<_, OpError>(quartet::stats().unwrap())
        })
        .unwrap()
        .unwrap();
    assert_eq!(done.get(), CHILDREN, "every op completed");
    let mut got = received.into_inner();
    got.sort_unstable();
    let expected: Vec<u8> = (0..got.len()).map(|i| i as u8).collect();
    let mut expected = expected;
    expected.sort_unstable();
    assert_eq!(got, expected, "every byte was received exactly once");
    assert!(stats.driver.sq_full > 0, "the SQ was never full, so the test proved nothing: {stats:?}");
    assert_eq!(stats.live_ops, 0, "{stats:?}");
}

/// An op that is still in the userspace backlog when its scope is cancelled never reached the
/// kernel: it must complete at once as `Cancelled` and wake its task, not wait for a CQE that
/// will never come.
#[test]
fn op_cancelled_while_still_in_the_sq_backlog_reports_cancelled() {
    const TASKS: usize = 16;
    let _w = watchdog(Duration::from_secs(30), "cancel of backlogged ops");
    let caught = Cell::new(0usize);
    let stats = Builder::new()
        .entries(4)
        .run(async {
            let (stream, _peer) = tcp_pair().await?;
            let (stream, caught) = (&stream, &caught);
            quartet::fail_after(Duration::from_secs(5), async {
                nursery(async |n| {
                    for _ in 0..TASKS {
                        n.spawn(async move {
                            let scope = CancelScope::new();
                            let out = scope
                                .run(async {
                                    // Submit (the 4-entry SQ overflows into the backlog), then
                                    // cancel in the same tick, before the ring is entered.
                                    let mut recv = pin!(stream.recv(Vec::with_capacity(8)));
                                    assert!(poll_once(recv.as_mut()).await.is_pending());
                                    scope.cancel();
                                    let (r, _) = recv.await;
                                    r.map(drop)
                                })
                                .await?;
                            assert!(out.is_none(), "nothing was sent, so the recv cannot succeed");
                            if scope.cancelled_caught() {
                                caught.set(caught.get() + 1);
                            }
                            Ok::<_, OpError>(())
                        })?;
                    }
                    Ok::<_, SpawnError>(())
                })
                .await
                .map_err(std::io::Error::other)
            })
            .await?;
            Ok::<_, OpError>(quartet::stats().unwrap())
        })
        .unwrap()
        .unwrap();
    assert!(stats.driver.sq_full > 0, "the SQ was never full, so the test proved nothing: {stats:?}");
    assert_eq!(caught.get(), TASKS, "every recv was cancelled by its own scope, promptly");
    assert_eq!(stats.live_ops, 0, "{stats:?}");
}

/// The same, at the lowest level: a scope cancelled without waking anyone (as when a deadline
/// passes between two polls in one tick). The backlogged op never reaches the kernel, so no CQE
/// will ever wake its task: it must report `Cancelled` without needing one.
#[test]
fn backlogged_op_cancelled_without_a_wake_still_completes() {
    use quartet::runtime::cancel::{Activation, ScopeState};
    use std::future::poll_fn;
    use std::task::Poll;

    let _w = watchdog(Duration::from_secs(30), "backlogged op cancelled without a wake");
    let outcome = Builder::new()
        .entries(4)
        .run(async {
            let (stream, _peer) = tcp_pair().await?;
            // Four idle recvs fill the 4-entry SQ; they stay pending until the runtime shuts down.
            let mut idle: Vec<_> = (0..4).map(|_| Box::pin(stream.recv(Vec::with_capacity(8)))).collect();
            let mut target = Box::pin(stream.recv(Vec::with_capacity(8)));
            let mut alarm = Box::pin(sleep(Duration::from_secs(2)));
            let scope = ScopeState::new();
            let mut activation = Activation::new(scope.clone());
            let mut first = true;
            let sq_full_before = quartet::stats().unwrap().driver.sq_full;
            let outcome = poll_fn(|cx| {
                if first {
                    first = false;
                    for r in &mut idle {
                        assert!(r.as_mut().poll(cx).is_pending());
                    }
                    {
                        let _in = activation.enter();
                        assert!(target.as_mut().poll(cx).is_pending(), "submitted into the backlog");
                    }
                    assert!(quartet::stats().unwrap().driver.sq_full > sq_full_before, "the SQ was full");
                    // Cancelled with no waker registered on the scope: nothing wakes this task.
                    scope.cancel(quartet::Reason::Explicit);
                    assert!(alarm.as_mut().poll(cx).is_pending());
                } else if alarm.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Err("the cancelled op never woke its task"));
                }
                let polled = {
                    let _in = activation.enter();
                    target.as_mut().poll(cx)
                };
                polled.map(|(r, _)| Ok(r))
            })
            .await;
            drop(idle);
            Ok::<_, OpError>(outcome)
        })
        .unwrap()
        .unwrap();
    match outcome {
        Ok(Err(e)) => assert!(e.is_cancelled(), "expected Cancelled, got {e:?}"),
        Ok(Ok(n)) => panic!("the recv cannot succeed (nothing was sent), got {n}"),
        Err(msg) => panic!("{msg}"),
    }
}
