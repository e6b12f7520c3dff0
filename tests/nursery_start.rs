//! The start handshake (semantics §1.4): `n.start(f)` returns the value passed to `started`;
//! errors before `started` come out of `start`; cancelling `start` cancels the child.

use crate::nursery_support;

use nursery_support::run;
use quartet::net::{TcpListener, TcpStream};
use quartet::{
    CancelScope, Cancelled, OpError, SpawnError, StartError, TaskStatus, checkpoint, move_on_after, nursery, sleep,
    yield_now,
};
use std::cell::{Cell, RefCell};
use std::future::{Future, poll_fn};
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::task::Poll;
use std::time::Duration;

#[test]
fn start_returns_the_value_passed_to_started() {
    let after_started = Cell::new(false);
    let out = run(async {
        nursery(async |n| {
            let after_started = &after_started;
            let v = n
                .start(|status: TaskStatus<u32>| async move {
                    sleep(Duration::from_millis(2)).await?;
                    status.started(42);
                    sleep(Duration::from_millis(2)).await?;
                    after_started.set(true);
                    Ok::<_, Cancelled>(())
                })
                .await?;
            // the child is still running as an ordinary child
            assert!(!after_started.get());
            Ok::<_, StartError>(v)
        })
        .await
    });
    assert_eq!(out.unwrap(), 42);
    assert!(after_started.get());
}

#[test]
fn start_binds_a_listener_and_returns_its_address() {
    let served = Cell::new(0);
    run(async {
        nursery(async |n| {
            let served = &served;
            let addr: SocketAddr = n
                .start(|status: TaskStatus<SocketAddr>| async move {
                    let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
                    status.started(listener.local_addr()?);
                    let (conn, _) = listener.accept().await?;
                    let (r, _) = conn.send_all(b"hello".to_vec()).await;
                    r?;
                    served.set(served.get() + 1);
                    Ok::<_, OpError>(())
                })
                .await?;
            // the listener is bound before `start` returns, so this connect cannot be refused
            let client = TcpStream::connect(addr).await?;
            let (r, buf) = client.recv(Vec::with_capacity(16)).await;
            r?;
            assert_eq!(buf, b"hello");
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        })
        .await
    })
    .unwrap();
    assert_eq!(served.get(), 1);
}

#[test]
fn error_before_started_comes_out_of_start_and_spares_the_nursery() {
    let sibling_ok = Cell::new(false);
    let out = run(async {
        nursery(async |n| {
            let sibling_ok = &sibling_ok;
            n.spawn(async move {
                sleep(Duration::from_millis(10)).await?;
                sibling_ok.set(true);
                Ok::<_, Cancelled>(())
            })?;
            let r = n
                .start(|_status: TaskStatus<()>| async move {
                    checkpoint().await?;
                    Err::<(), _>(std::io::Error::other("bind failed"))
                })
                .await;
            let msg = match r {
                Err(StartError::Failed(e)) => e.to_string(),
                other => panic!("expected StartError::Failed, got {other:?}"),
            };
            Ok::<_, SpawnError>(msg)
        })
        .await
    });
    assert_eq!(out.unwrap(), "bind failed", "the nursery must not see the start error");
    assert!(sibling_ok.get(), "an error before started must not cancel the nursery");
}

#[test]
fn exiting_without_calling_started_is_an_error_of_start() {
    let out = run(async {
        nursery(async |n| {
            let r = n.start(|_status: TaskStatus<()>| async move { Ok::<_, Cancelled>(()) }).await;
            Ok::<_, SpawnError>(matches!(r, Err(StartError::ExitedWithoutStarting)))
        })
        .await
    });
    assert!(out.unwrap());
}

#[test]
fn error_after_started_goes_to_the_nursery() {
    let err = run(async {
        nursery(async |n| {
            n.start(|status: TaskStatus<()>| async move {
                status.started(());
                checkpoint().await?;
                Err::<(), _>(std::io::Error::other("failed after start"))
            })
            .await?;
            Ok::<_, StartError>(())
        })
        .await
    })
    .unwrap_err();
    assert_eq!(err.failures().len(), 1);
    assert!(err.to_string().contains("failed after start"), "{err}");
}

#[test]
fn panic_before_started_is_resumed_in_the_caller_of_start() {
    let out = run(async {
        nursery(async |n| {
            let mut f = std::pin::pin!(n.start(|_status: TaskStatus<()>| async move {
                yield_now().await;
                std::panic::panic_any(7u8);
                #[allow(unreachable_code)]
                Ok::<_, Cancelled>(())
            }));
            // Catch the unwind at the `start` call itself: that is where it must come out.
            let r = poll_fn(|cx| match catch_unwind(AssertUnwindSafe(|| f.as_mut().poll(cx))) {
                Ok(Poll::Pending) => Poll::Pending,
                Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
                Err(p) => Poll::Ready(Err(p)),
            })
            .await;
            let payload = r.expect_err("start must resume the child's panic");
            Ok::<_, SpawnError>(payload.downcast_ref::<u8>().copied())
        })
        .await
    });
    assert_eq!(out.unwrap(), Some(7), "the panic (with its payload) belongs to start's caller, not the nursery");
}

#[test]
fn cancelling_start_cancels_the_child() {
    let child_saw = RefCell::new(None);
    let out = run(async {
        nursery(async |n| {
            let child_saw = &child_saw;
            let r = move_on_after(
                Duration::from_millis(10),
                n.start(|status: TaskStatus<()>| async move {
                    let r = sleep(Duration::from_secs(3600)).await;
                    *child_saw.borrow_mut() = Some(r.clone());
                    r?;
                    status.started(());
                    Ok::<_, Cancelled>(())
                }),
            )
            .await;
            Ok::<_, SpawnError>(r)
        })
        .await
    });
    let r = out.unwrap();
    assert!(matches!(r, Ok(None)), "the deadline around start must catch the cancellation: {r:?}");
    let saw = child_saw.borrow().clone().expect("child ran");
    assert_eq!(saw.unwrap_err().reason(), &quartet::Reason::Deadline);
}

#[test]
fn dropping_the_start_future_cancels_the_child() {
    let child_saw = RefCell::new(None);
    run(async {
        nursery(async |n| {
            let child_saw = &child_saw;
            let mut fut = std::pin::pin!(n.start(|status: TaskStatus<()>| async move {
                let r = sleep(Duration::from_secs(3600)).await;
                *child_saw.borrow_mut() = Some(r.is_err());
                r?;
                status.started(());
                Ok::<_, Cancelled>(())
            }));
            assert!(nursery_support::poll_once(fut.as_mut()).await.is_pending());
            sleep(Duration::from_millis(2)).await?;
            Ok::<_, Cancelled>(())
        })
        .await
    })
    .unwrap();
    assert_eq!(*child_saw.borrow(), Some(true));
}

#[test]
fn started_child_is_not_cancelled_by_the_callers_scope() {
    let ran_to_end = Cell::new(false);
    run(async {
        nursery(async |n| {
            let ran_to_end = &ran_to_end;
            let scope = CancelScope::new();
            scope
                .run(async {
                    n.start(|status: TaskStatus<()>| async move {
                        status.started(());
                        sleep(Duration::from_millis(20)).await?;
                        ran_to_end.set(true);
                        Ok::<_, Cancelled>(())
                    })
                    .await?;
                    scope.cancel();
                    checkpoint().await?;
                    Ok::<_, StartError>(())
                })
                .await?;
            assert!(scope.cancelled_caught());
            Ok::<_, StartError>(())
        })
        .await
    })
    .unwrap();
    assert!(ran_to_end.get(), "after started, the child belongs to the nursery only");
}

#[test]
fn child_that_starts_inside_a_cancelled_start_is_not_moved_and_start_returns_its_value_when_it_exits_cleanly() {
    // Trio (`test_nursery_start`): `started` called while the `start` call's caller is cancelled
    // does not move the task into the target nursery. It stays cancelled and `start` waits for it
    // to finish. This task swallows its cancellations and exits cleanly, so (Trio) it completed
    // successfully: `start` returns the value and the deadline scope catches nothing.
    let after = RefCell::new(None);
    run(async {
        nursery(async |n| {
            let after = &after;
            let r = move_on_after(
                Duration::from_millis(5),
                n.start(|status: TaskStatus<u8>| async move {
                    let first = sleep(Duration::from_secs(3600)).await;
                    assert!(first.is_err(), "the start call was cancelled");
                    status.started(1); // too late: the caller is cancelled
                    let second = sleep(Duration::from_millis(5)).await;
                    *after.borrow_mut() = Some(second.is_ok());
                    Ok::<_, Cancelled>(())
                }),
            )
            .await;
            assert!(matches!(r, Ok(Some(1))), "the task exited cleanly: start returns its value: {r:?}");
            Ok::<_, SpawnError>(())
        })
        .await
    })
    .unwrap();
    assert_eq!(*after.borrow(), Some(false), "the child was moved out of the cancelled caller");
}

#[test]
fn start_called_in_an_already_cancelled_scope_returns_cancelled() {
    // Trio: the child runs until its first checkpoint; its `started` does not move it; `start`
    // raises Cancelled and the scope around it catches it.
    let seen = RefCell::new(Vec::new());
    let out = run(async {
        nursery(async |n| {
            let seen = &seen;
            let scope = CancelScope::new();
            scope.cancel();
            let r = scope
                .run(async {
                    n.start(|status: TaskStatus<&str>| async move {
                        seen.borrow_mut().push("child ran");
                        status.started("value");
                        let r = checkpoint().await;
                        seen.borrow_mut().push(if r.is_err() { "child cancelled" } else { "child not cancelled" });
                        r
                    })
                    .await
                })
                .await;
            assert!(matches!(r, Ok(None)), "{r:?}");
            assert!(scope.cancelled_caught());
            assert_eq!(n.live_children(), 0, "start returned only after the child finished");
            Ok::<_, SpawnError>(())
        })
        .await
    });
    out.unwrap();
    assert_eq!(*seen.borrow(), vec!["child ran", "child cancelled"]);
}

#[test]
fn failure_of_a_child_whose_start_was_abandoned_reaches_the_nursery() {
    let err = run(async {
        nursery(async |n| {
            let mut fut = std::pin::pin!(n.start(|_status: TaskStatus<()>| async move {
                let r = sleep(Duration::from_secs(3600)).await;
                assert!(r.is_err());
                // cleanup fails for real
                Err::<(), _>(std::io::Error::other("cleanup failed"))
            }));
            assert!(nursery_support::poll_once(fut.as_mut()).await.is_pending());
            Ok::<_, SpawnError>(())
        })
        .await
    });
    let err = err.expect_err("the child's real failure must not be swallowed");
    assert!(err.to_string().contains("cleanup failed"), "{err}");
}
