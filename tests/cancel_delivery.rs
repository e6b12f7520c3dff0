//! Cancellation reaches every blocked operation however it is awaited (the park/abort protocol):
//! inside `FuturesUnordered`, `buffer_unordered` and `select`, which poll only the branches that
//! were woken; in every task that runs a cloned scope; from another OS thread. The operations that
//! report `Cancelled` did nothing: data sent afterwards is received whole.

use crate::nursery_support;

use futures_util::future::{Either, select};
use futures_util::stream::{FuturesUnordered, StreamExt};
use nursery_support::{run, tcp_pair};
use quartet::net::TcpStream;
use quartet::{BoxError, CancelScope, Cancelled, OpError, Reason, SpawnError, move_on_after, nursery};
use std::cell::Cell;
use std::time::{Duration, Instant};

/// A recv that reports whether it was cancelled.
async fn recv_outcome(s: &TcpStream) -> Result<usize, OpError> {
    let (r, _buf) = s.recv(Vec::with_capacity(64)).await;
    r
}

/// After the cancelled recvs, the streams still carry every byte sent.
async fn still_delivers(pairs: &[(TcpStream, TcpStream)]) -> Result<(), OpError> {
    for (i, (client, server)) in pairs.iter().enumerate() {
        let msg = format!("after cancel {i}").into_bytes();
        let (r, _) = client.send_all(msg.clone()).await;
        r?;
        let (n, buf) = server.recv(Vec::with_capacity(64)).await;
        assert_eq!(n?, msg.len());
        assert_eq!(buf, msg, "a cancelled recv consumed data");
    }
    Ok(())
}

#[test]
fn deadline_around_futures_unordered_of_blocked_recvs_fires() {
    run(async {
        let pairs = vec![tcp_pair().await?, tcp_pair().await?];
        let started = Instant::now();
        let outcomes = Cell::new(0);
        let r = move_on_after(Duration::from_millis(50), async {
            let mut set: FuturesUnordered<_> = pairs.iter().map(|(_, server)| recv_outcome(server)).collect();
            while let Some(r) = set.next().await {
                assert!(matches!(&r, Err(e) if e.is_cancelled()), "{r:?}");
                outcomes.set(outcomes.get() + 1);
            }
            Err::<(), _>(OpError::Cancelled(Cancelled::new(Reason::Deadline)))
        })
        .await;
        assert_eq!(r.unwrap(), None, "the deadline's scope caught the cancellation");
        assert_eq!(outcomes.get(), 2, "every branch resolved Cancelled");
        eprintln!("FuturesUnordered: deadline 50 ms, returned after {:?}", started.elapsed());
        still_delivers(&pairs).await
    })
    .unwrap();
}

#[test]
fn deadline_around_buffer_unordered_of_blocked_recvs_fires() {
    run(async {
        let pairs = vec![tcp_pair().await?, tcp_pair().await?, tcp_pair().await?];
        let r = move_on_after(Duration::from_millis(30), async {
            let results: Vec<_> = futures_util::stream::iter(pairs.iter().map(|(_, s)| recv_outcome(s)))
                .buffer_unordered(2)
                .collect()
                .await;
            // The first two were cancelled in flight; the third one started cancelled.
            assert_eq!(results.len(), 3);
            assert!(results.iter().all(|r| matches!(r, Err(e) if e.is_cancelled())), "{results:?}");
            Err::<(), _>(OpError::Cancelled(Cancelled::new(Reason::Deadline)))
        })
        .await;
        assert_eq!(r.unwrap(), None);
        still_delivers(&pairs).await
    })
    .unwrap();
}

#[test]
fn deadline_around_select_of_two_blocked_recvs_fires() {
    run(async {
        let pairs = vec![tcp_pair().await?, tcp_pair().await?];
        let r = move_on_after(Duration::from_millis(20), async {
            let a = std::pin::pin!(recv_outcome(&pairs[0].1));
            let b = std::pin::pin!(recv_outcome(&pairs[1].1));
            let (first, other) = match select(a, b).await {
                Either::Left((r, other)) | Either::Right((r, other)) => (r, other),
            };
            assert!(matches!(&first, Err(e) if e.is_cancelled()), "{first:?}");
            let second = other.await; // the loser is cancelled too (level-triggered)
            assert!(matches!(&second, Err(e) if e.is_cancelled()), "{second:?}");
            first.map(drop)
        })
        .await;
        assert_eq!(r.unwrap(), None);
        still_delivers(&pairs).await
    })
    .unwrap();
}

fn cloned_scope_reaches_every_task(tasks: usize) {
    let caught = Cell::new(0);
    run(async {
        let pairs: Vec<_> = {
            let mut v = Vec::new();
            for _ in 0..tasks {
                v.push(tcp_pair().await.unwrap());
            }
            v
        };
        let scope = CancelScope::new();
        nursery(async |n| {
            for (_, server) in &pairs {
                let (scope, caught) = (scope.clone(), &caught);
                n.spawn(async move {
                    let r = scope.run(recv_outcome(server)).await?;
                    assert_eq!(r, None, "the recv must be cancelled, not complete");
                    caught.set(caught.get() + 1);
                    Ok::<_, OpError>(())
                })?;
            }
            // let every task park its recv, then cancel the one shared scope
            for _ in 0..3 {
                quartet::yield_now().await;
            }
            scope.cancel();
            Ok::<_, SpawnError>(())
        })
        .await
        .unwrap();
        assert!(scope.cancelled_caught());
        still_delivers(&pairs).await.unwrap();
    });
    assert_eq!(caught.get(), tasks, "every task running the cloned scope was cancelled");
}

#[test]
fn scope_cloned_into_two_tasks_cancels_both() {
    cloned_scope_reaches_every_task(2);
}

#[test]
fn scope_cloned_into_a_hundred_tasks_cancels_all() {
    cloned_scope_reaches_every_task(100);
}

#[test]
fn cancel_from_another_thread_reaches_ops_inside_a_combinator() {
    run(async {
        let pairs = vec![tcp_pair().await?, tcp_pair().await?];
        let scope = CancelScope::new();
        let handle = scope.handle();
        let canceller = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            handle.cancel_with(Reason::Signal);
        });
        let r = scope
            .run(async {
                let mut set: FuturesUnordered<_> = pairs.iter().map(|(_, s)| recv_outcome(s)).collect();
                let mut reason = None;
                while let Some(r) = set.next().await {
                    match r {
                        Err(OpError::Cancelled(c)) => reason = Some(c.reason().clone()),
                        other => panic!("expected Cancelled, got {other:?}"),
                    }
                }
                assert_eq!(reason, Some(Reason::Signal));
                Err::<(), _>(OpError::Cancelled(Cancelled::new(Reason::Signal)))
            })
            .await;
        canceller.join().unwrap();
        assert_eq!(r.unwrap(), None);
        still_delivers(&pairs).await
    })
    .unwrap();
}

#[test]
fn expired_deadline_is_permanent_even_if_moved_later() {
    // Trio: a scope never becomes un-cancelled. Moving the deadline of a scope that its deadline
    // already cancelled leaves it cancelled; the next checkpoint still raises.
    run(async {
        let scope = CancelScope::new();
        scope.set_deadline(Some(Instant::now() + Duration::from_millis(5)));
        let r = scope
            .run(async {
                let first = quartet::sleep(Duration::from_secs(3600)).await;
                assert!(first.is_err(), "the deadline cancelled the sleep");
                scope.set_deadline(Some(Instant::now() + Duration::from_secs(3600)));
                assert!(scope.cancel_called(), "cancel_called stays true");
                quartet::checkpoint().await?;
                Ok::<_, Cancelled>("not reached")
            })
            .await;
        assert_eq!(r, Ok(None));
        assert!(scope.cancelled_caught());
        assert_eq!(scope.reason(), Some(Reason::Deadline));
    })
}

#[test]
fn cancel_reaches_a_wait_inside_a_combinator_in_a_nested_nursery() {
    // The walk goes down through nurseries: a child's child's channel receive inside
    // FuturesUnordered is reached by cancelling the outer nursery.
    let cancelled = Cell::new(0);
    let out = run(async {
        let cancelled = &cancelled;
        nursery(async |outer| {
            let stop = outer.cancel_handle();
            outer.spawn(async move {
                nursery(async |inner| {
                    inner.spawn(async move {
                        let (_tx, rx) = quartet::channel::<u8>(1);
                        let mut set: FuturesUnordered<_> = (0..3).map(|_| rx.recv()).collect();
                        while let Some(r) = set.next().await {
                            assert!(r.is_err(), "the receive was cancelled");
                            cancelled.set(cancelled.get() + 1);
                        }
                        Err::<(), _>(Cancelled::new(Reason::Explicit))
                    })?;
                    Ok::<_, SpawnError>(())
                })
                .await
            })?;
            quartet::yield_now().await;
            stop.cancel();
            Ok::<_, BoxError>(())
        })
        .await
    });
    // The nursery stopped itself after its body returned: Trio exits normally.
    out.expect("a nursery cancelled from inside ends normally");
    assert_eq!(cancelled.get(), 3, "every receive inside the combinator was cancelled");
}
