//! Hostile use of the public API, probe by probe: nested runtimes, extreme sizes and durations,
//! handles dropped on other threads, checkpoints that find their work already done. Each test
//! names the Trio behaviour it mirrors where there is one.

use quartet::sync::{Condition, Event, Lock, Semaphore};
use quartet::{
    BoxError, CancelScope, Cancelled, Error, channel, fail_after, move_on_after, nursery, run, sleep, yield_now,
};
use std::time::Duration;

/// `run` inside `run` is refused with a typed error, and the outer runtime carries on.
#[test]
fn run_inside_run_is_refused_and_the_outer_runtime_keeps_working() {
    let out = run(async {
        let inner = run(async { 1 });
        assert!(matches!(inner, Err(Error::NestedRuntime)), "{inner:?}");
        sleep(Duration::from_millis(1)).await?;
        Ok::<_, Cancelled>(2)
    });
    assert_eq!(out.unwrap(), Ok(2));
}

/// A graceful cancel with an unbounded grace period neither panics nor cancels hard.
#[test]
fn cancel_gracefully_with_duration_max_requests_shutdown_without_panicking() {
    run(async {
        let scope = CancelScope::new();
        scope.cancel_gracefully(Duration::MAX);
        let r = scope
            .run(async {
                quartet::wait_shutdown_requested().await?;
                Ok::<_, Cancelled>("drained")
            })
            .await;
        assert_eq!(r, Ok(Some("drained")));
        nursery(async |n| {
            n.spawn(async { quartet::wait_shutdown_requested().await })?;
            n.cancel_gracefully(Duration::MAX);
            Ok::<_, BoxError>(())
        })
        .await
        .unwrap();
    })
    .unwrap();
}

/// A channel whose capacity is `usize::MAX` allocates nothing up front and works as a buffer.
#[test]
fn channel_of_capacity_usize_max_is_an_ordinary_buffer() {
    run(async {
        let (tx, rx) = channel::<u32>(usize::MAX);
        for i in 0..3 {
            tx.try_send(i).unwrap();
        }
        tx.send(3).await.unwrap();
        drop(tx);
        let mut got = Vec::new();
        while let Some(v) = rx.recv().await.unwrap() {
            got.push(v);
        }
        assert_eq!(got, [0, 1, 2, 3]);
    })
    .unwrap();
}

/// `notify(usize::MAX)` wakes every waiter there is and reports how many.
#[test]
fn condition_notify_usize_max_wakes_all_and_counts_them() {
    run(async {
        let cond = Condition::new(0u32);
        assert_eq!(cond.notify(usize::MAX), 0);
        nursery(async |n| {
            for _ in 0..2 {
                let cond = &cond;
                n.spawn(async move {
                    let g = cond.lock().await?;
                    let mut g = cond.wait(g).await.map_err(BoxError::from)?;
                    *g += 1;
                    Ok::<_, BoxError>(())
                })?;
            }
            quartet::testing::wait_all_tasks_blocked().await?;
            assert_eq!(cond.statistics().waiting, 2, "{:?}", cond.statistics());
            assert_eq!(cond.notify(usize::MAX), 2);
            Ok::<_, BoxError>(())
        })
        .await
        .unwrap();
        assert_eq!(*cond.lock().await.unwrap(), 2);
    })
    .unwrap();
}

/// Trio's `Event.wait` on a set event is still a checkpoint: in a cancelled scope it raises.
#[test]
fn waiting_on_a_set_event_in_a_cancelled_scope_is_cancelled() {
    run(async {
        let ev = Event::new();
        ev.set();
        ev.set(); // idempotent
        let scope = CancelScope::new();
        scope.cancel();
        let r = scope.run(async { Ok::<_, Cancelled>(ev.wait().await) }).await.unwrap();
        assert!(matches!(r, Some(Err(_))), "{r:?}");
        assert!(ev.is_set());
        ev.wait().await.unwrap();
    })
    .unwrap();
}

/// Acquiring a free unit in a cancelled scope fails and takes nothing (Trio: `acquire` is a
/// checkpoint even when it would not block).
#[test]
fn semaphore_and_lock_acquire_in_a_cancelled_scope_take_nothing() {
    run(async {
        let sem = Semaphore::new(1);
        let lock = Lock::new(());
        let scope = CancelScope::new();
        scope.cancel();
        let r = scope
            .run(async {
                assert!(sem.acquire().await.is_err());
                assert!(lock.lock().await.is_err());
                Ok::<_, Cancelled>(())
            })
            .await;
        assert_eq!(r, Ok(Some(())));
        assert_eq!(sem.value(), 1);
        assert!(!lock.is_locked());
    })
    .unwrap();
}

/// A lock guard dropped on another thread hands the lock to the parked task and wakes it.
#[test]
fn lock_guard_dropped_on_another_thread_wakes_the_waiter() {
    run(async {
        let lock = Lock::new(0u32);
        let guard = lock.lock().await.unwrap();
        nursery(async |n| {
            let lock = &lock;
            n.spawn(async move {
                *lock.lock().await? += 1;
                Ok::<_, Cancelled>(())
            })?;
            yield_now().await;
            assert_eq!(lock.statistics().waiting, 1);
            std::thread::scope(|s| {
                s.spawn(move || drop(guard));
            });
            Ok::<_, BoxError>(())
        })
        .await
        .unwrap();
        assert_eq!(*lock.lock().await.unwrap(), 1);
    })
    .unwrap();
}

/// The last sender dropped on another thread ends the channel for a parked receiver.
#[test]
fn last_sender_dropped_on_another_thread_ends_the_parked_receive() {
    run(async {
        let (tx, rx) = channel::<u32>(0);
        nursery(async |n| {
            let rx = &rx;
            let got = n.spawn(async move { rx.recv().await })?;
            yield_now().await;
            std::thread::spawn(move || drop(tx)).join().unwrap();
            assert_eq!(got.await.unwrap(), None);
            Ok::<_, BoxError>(())
        })
        .await
        .unwrap();
    })
    .unwrap();
}

/// A panic in a `to_thread` closure reaches the caller as an error or a resumed panic on the
/// caller's task; it never takes the runtime down with it.
#[test]
fn panicking_to_thread_closure_does_not_kill_the_runtime() {
    let r = std::panic::catch_unwind(|| {
        run(async {
            let r = quartet::to_thread(|| -> u32 { panic!("probe: worker panics") }).await;
            format!("{r:?}")
        })
    });
    match r {
        Ok(Ok(s)) => assert!(s.contains("Err"), "{s}"),
        Ok(Err(e)) => panic!("runtime error: {e}"),
        Err(_) => {} // resumed on the caller's thread: acceptable
    }
    // the process can still run a runtime afterwards
    assert_eq!(run(async { 5 }).unwrap(), 5);
}

/// Duration extremes on timeouts: `fail_after(MAX)` never fires; a `Duration::MAX` sleep under a
/// zero timeout is cut at its first checkpoint.
#[test]
fn duration_extremes_on_timeouts() {
    run(async {
        assert_eq!(fail_after(Duration::MAX, async { Ok::<_, Cancelled>(7) }).await.unwrap(), 7);
        let r = move_on_after(Duration::ZERO, async { sleep(Duration::MAX).await }).await;
        assert_eq!(r, Ok(None));
        let r = move_on_after(Duration::MAX, async { sleep(Duration::ZERO).await }).await;
        assert_eq!(r, Ok(Some(())));
    })
    .unwrap();
}

/// Builder settings out of range are typed errors, not panics.
#[test]
fn builder_settings_out_of_range_are_errors() {
    for n in [0, u32::MAX, (1 << 15) + 1] {
        let r = quartet::Builder::new().entries(n).run(async {});
        assert!(r.is_err(), "entries({n}) ran");
    }
    let r = quartet::Builder::new().thread_limit(usize::MAX).run(async { 1 });
    assert_eq!(r.unwrap(), 1);
    let r = quartet::Builder::new().busy_poll(Duration::MAX).shutdown_drain(Duration::ZERO).run(async { 2 });
    assert_eq!(r.unwrap(), 2);
}

/// Trio's `test_very_deep_cancel_scope_nesting`: a thousand nested scopes, the outermost
/// cancelled; the innermost sleep sees it and only the outermost scope catches it.
#[test]
fn very_deep_cancel_scope_nesting() {
    use std::future::Future;
    use std::pin::Pin;
    fn nest<'a>(depth: usize, scopes: &'a [CancelScope]) -> Pin<Box<dyn Future<Output = Result<(), Cancelled>> + 'a>> {
        Box::pin(async move {
            if depth == scopes.len() {
                scopes[0].cancel();
                return sleep(Duration::from_secs(3600)).await;
            }
            scopes[depth].run(nest(depth + 1, scopes)).await.map(|_| ())
        })
    }
    // a thread with a known stack: the nesting is as deep in Rust's call stack as the scopes are
    let t = std::thread::Builder::new().stack_size(16 << 20).spawn(|| {
        run(async {
            let scopes: Vec<CancelScope> = (0..1000).map(|_| CancelScope::new()).collect();
            nest(0, &scopes).await.unwrap();
            assert!(scopes[0].cancelled_caught());
            assert!(scopes[1..].iter().all(|s| !s.cancelled_caught() && !s.cancel_called()));
        })
        .unwrap();
    });
    t.unwrap().join().unwrap();
}

/// Trio's `test_cancel_scope_deadline_duplicates`: a deadline moved thousands of times, with a
/// checkpoint after each move, leaves no stale timer that fires later, and the last move rules.
#[test]
fn deadline_moved_many_times_only_the_last_counts() {
    run(async {
        let scope = CancelScope::new();
        let r = scope
            .run(async {
                for i in 0..20_000u64 {
                    scope.set_deadline(Some(quartet::now() + Duration::from_millis(1000 + i % 7)));
                    yield_now().await;
                    quartet::checkpoint().await?;
                }
                scope.set_deadline(None);
                sleep(Duration::from_millis(5)).await?;
                scope.set_deadline(Some(quartet::now()));
                sleep(Duration::from_secs(3600)).await?;
                Ok::<_, Cancelled>(())
            })
            .await;
        assert_eq!(r, Ok(None));
        assert!(scope.cancelled_caught());
    })
    .unwrap();
}

/// Polls `fut` a few times with a no-op waker, outside any runtime; `None` if still pending.
fn poll_outside<F: std::future::Future>(fut: F) -> Option<F::Output> {
    let mut fut = std::pin::pin!(fut);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    (0..3).find_map(|_| match fut.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => Some(v),
        std::task::Poll::Pending => None,
    })
}

/// The structured and synchronisation APIs polled outside `run` fail (or wait) without
/// panicking: a nursery, a cancel scope, the primitives, a channel.
#[test]
fn structured_and_sync_apis_outside_run_do_not_panic() {
    let r = poll_outside(nursery(async |n| {
        n.spawn(async { Ok::<_, Cancelled>(()) })?;
        Ok::<_, BoxError>(())
    }));
    assert!(!matches!(r, Some(Ok(()))), "a nursery outside run cannot have run its child: {r:?}");
    let scope = CancelScope::new();
    let _ = poll_outside(scope.run(async { sleep(Duration::from_millis(1)).await }));
    let sem = Semaphore::new(1);
    let _ = poll_outside(sem.acquire());
    assert_eq!(sem.value(), 1, "a permit taken outside run was given back");
    let lock = Lock::new(());
    let _ = poll_outside(lock.lock());
    assert!(!lock.is_locked());
    let ev = Event::new();
    ev.set();
    let _ = poll_outside(ev.wait());
    let (tx, rx) = channel::<u8>(1);
    let _ = poll_outside(tx.send(1));
    let _ = poll_outside(rx.recv());
    let cond = Condition::new(());
    let _ = poll_outside(cond.lock());
    let _ = poll_outside(fail_after(Duration::ZERO, async { Ok::<_, Cancelled>(()) }));
    let _ = poll_outside(quartet::to_thread(|| 1));
}

/// On the autojumping mock clock, unbounded sleeps one after another (each "30 years from now")
/// soon pass the clock's 100-year range; the runtime must neither panic nor spin.
#[test]
fn repeated_duration_max_sleeps_on_the_autojump_clock() {
    let r = quartet::Builder::new().mock_clock(true).run(async {
        let scope = CancelScope::new();
        let slept = std::cell::Cell::new(0u32);
        let h = scope.handle();
        let r = nursery(async |n| {
            n.spawn(async {
                for _ in 0..10 {
                    let _ = sleep(Duration::MAX).await;
                    slept.set(slept.get() + 1);
                }
                Ok::<_, Cancelled>(())
            })?;
            n.spawn(async move {
                // a real-time bound, not a pass/fail timing: the probe must end either way
                let _ = quartet::to_thread(|| std::thread::sleep(Duration::from_millis(500))).await;
                h.cancel();
                Ok::<_, Cancelled>(())
            })?;
            Ok::<_, BoxError>(())
        });
        let _ = scope.run(async { r.await.map_err(BoxError::from) }).await;
        slept.get()
    });
    let slept = r.unwrap();
    assert!(slept <= 10, "{slept}");
}

/// A rendezvous channel between two runtimes on two threads carries every value in order, and
/// the sender's runtime ending closes the channel for the receiver's.
#[test]
fn rendezvous_channel_between_two_runtimes() {
    let (tx, rx) = channel::<u32>(0);
    let sender = std::thread::spawn(move || {
        run(async move {
            for i in 0..2000 {
                tx.send(i).await.unwrap();
            }
        })
        .unwrap()
    });
    let got = run(async move {
        let mut got = Vec::new();
        while let Some(v) = rx.recv().await.unwrap() {
            got.push(v);
        }
        got
    })
    .unwrap();
    sender.join().unwrap();
    assert_eq!(got, (0..2000).collect::<Vec<_>>());
}

/// An unbounded autojump settle time: the clock still jumps once the outstanding worker job has
/// finished (its completion ends the settle wait), and nothing panics on the huge wait.
#[test]
fn autojump_settle_of_duration_max_still_jumps_after_the_job() {
    let r = quartet::Builder::new().mock_clock(true).autojump_settle(Duration::MAX).run(async {
        nursery(async |n| {
            n.spawn(async {
                quartet::to_thread(|| std::thread::sleep(Duration::from_millis(20))).await?;
                Ok::<_, BoxError>(())
            })?;
            sleep(Duration::from_secs(3600)).await?;
            Ok::<_, BoxError>(())
        })
        .await
    });
    r.unwrap().unwrap();
}

/// Handles outliving what they point at: a cancel handle used after its scope, its nursery and
/// its runtime are gone (from another thread too) is a no-op, not a panic.
#[test]
fn handles_used_after_their_scope_and_runtime_are_gone() {
    let (scope_handle, nursery_handle) = run(async {
        let scope = CancelScope::new();
        let h = scope.handle();
        scope.run(async { Ok::<_, Cancelled>(()) }).await.unwrap();
        let nh = nursery(async |n| Ok::<_, BoxError>(n.cancel_handle())).await.unwrap();
        h.cancel();
        assert!(scope.cancel_called());
        (h, nh)
    })
    .unwrap();
    scope_handle.cancel();
    nursery_handle.cancel();
    std::thread::spawn(move || {
        scope_handle.cancel();
        nursery_handle.cancel();
    })
    .join()
    .unwrap();
}

/// After the end of a channel every receive keeps reporting the end (Trio: `EndOfChannel`
/// again), and an unbounded channel reports no capacity.
#[test]
fn end_of_channel_is_reported_again_and_again() {
    run(async {
        let (tx, rx) = quartet::unbounded_channel::<u8>();
        assert_eq!(rx.statistics().capacity, None);
        tx.try_send(1).unwrap();
        drop(tx);
        assert_eq!(rx.recv().await.unwrap(), Some(1));
        for _ in 0..3 {
            assert_eq!(rx.recv().await.unwrap(), None);
            assert_eq!(rx.try_recv(), Err(quartet::channel::TryRecvError::EndOfChannel));
        }
    })
    .unwrap();
}

/// A scope run again inside its own block in the same task is refused, as Trio refuses it
/// (`RuntimeError`: "Each CancelScope may only be used for a single 'with' block"): the nested
/// block's checkpoints fail with `Reason::ScopeReentered`, which is not a cancellation, so neither
/// run absorbs it and it reaches the caller. The scope itself is not cancelled by the refusal,
/// also when the nesting goes through another scope, and a later run (after the block) works.
#[test]
fn scope_run_inside_its_own_block_in_the_same_task_is_refused() {
    run(async {
        let scope = CancelScope::new();
        let r = scope
            .run(async {
                let other = CancelScope::new();
                let inner = other.run(scope.run(sleep(Duration::from_secs(3600)))).await;
                let err = inner.unwrap_err();
                assert_eq!(err.reason(), &quartet::Reason::ScopeReentered);
                assert!(!quartet::is_cancellation(&err), "a refusal is not a cancellation");
                Err::<(), _>(err)
            })
            .await;
        assert!(matches!(r, Err(ref c) if c.reason() == &quartet::Reason::ScopeReentered), "{r:?}");
        assert!(!scope.cancel_called() && !scope.cancelled_caught());
        assert_eq!(scope.run(sleep(Duration::from_millis(1))).await, Ok(Some(())));
        assert_eq!(move_on_after(Duration::from_millis(50), sleep(Duration::from_millis(1))).await, Ok(Some(())));
    })
    .unwrap();
}

/// A deadline moved into the past by the body reaches two tasks blocked in the same scope.
#[test]
fn deadline_moved_into_the_past_from_another_task_while_both_are_blocked() {
    run(async {
        let scope = CancelScope::new();
        let r = nursery(async |n| {
            let scope = &scope;
            let a = n.spawn(async move { scope.run(sleep(Duration::from_secs(3600))).await })?;
            let b = n.spawn(async move { scope.run(sleep(Duration::from_secs(3600))).await })?;
            quartet::testing::wait_all_tasks_blocked().await?;
            scope.set_deadline(Some(quartet::now()));
            Ok::<_, BoxError>((a.await?, b.await?))
        })
        .await
        .unwrap();
        assert_eq!(r, (None, None));
        assert!(scope.cancelled_caught());
        assert_eq!(scope.reason(), Some(quartet::Reason::Deadline));
    })
    .unwrap();
}
