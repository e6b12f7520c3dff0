//! `to_thread`: results, panics, cancellation before start, waiting versus abandoning, limits.

use quartet::thread::{CapacityLimiter, check_cancelled, pool_stats};
use quartet::{CancelScope, Cancelled, OpError, SpawnError, nursery, run, to_thread};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::task::Poll;
use std::time::Duration;

/// Sleeps in small steps until `cond` holds (bounded, so a broken runtime fails instead of hanging).
use crate::thread_support;
use thread_support::until;

#[test]
fn to_thread_returns_closure_result_from_another_thread() {
    let here = std::thread::current().id();
    let (value, there) = run(async { to_thread(|| (6 * 7, std::thread::current().id())).await }).unwrap().unwrap();
    assert_eq!(value, 42);
    assert_ne!(there, here);
}

#[test]
fn to_thread_panic_reaches_awaiting_task() {
    let caught = std::panic::catch_unwind(|| run(async { to_thread(|| -> u32 { panic!("boom in worker") }).await }));
    let payload = caught.expect_err("the panic must reach the caller");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom in worker"));
}

#[test]
fn cancelled_before_start_does_not_run_closure() {
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    let out = run(async move {
        let scope = CancelScope::new();
        scope.cancel();
        scope
            .run(async move {
                to_thread(move || r.store(true, Ordering::SeqCst)).await?;
                Ok::<_, OpError>(())
            })
            .await
    })
    .unwrap();
    assert!(matches!(out, Ok(None)), "{out:?}");
    assert!(!ran.load(Ordering::SeqCst));
}

#[test]
fn cancelled_while_waiting_for_token_does_not_run_closure() {
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    run(async move {
        let limiter = CapacityLimiter::new(1);
        let held = limiter.try_acquire().unwrap();
        let out = quartet::move_on_after(Duration::from_millis(20), async {
            to_thread(move || r.store(true, Ordering::SeqCst)).limiter(&limiter).await?;
            Ok::<_, OpError>(())
        })
        .await;
        assert!(matches!(out, Ok(None)), "{out:?}");
        assert_eq!(limiter.stats().waiting, 0);
        drop(held);
        assert_eq!(limiter.borrowed(), 0);
    })
    .unwrap();
    assert!(!ran.load(Ordering::SeqCst));
}

#[test]
fn running_job_returns_its_result_after_a_cancel_by_default() {
    let out = run(async {
        let scope = CancelScope::new();
        let handle = scope.handle();
        let started = Arc::new(AtomicBool::new(false));
        let s = started.clone();
        let mut result = None;
        nursery(async |n| {
            n.spawn(async {
                until(|| started.load(Ordering::SeqCst)).await;
                handle.cancel();
                Ok::<_, Cancelled>(())
            })?;
            let r = &mut result;
            n.spawn(async move {
                let job = to_thread(move || {
                    s.store(true, Ordering::SeqCst);
                    while check_cancelled().is_ok() {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    "finished after the cancel"
                });
                *r = Some(scope.run(async { job.await.map_err(std::io::Error::from) }).await);
                Ok::<_, Cancelled>(())
            })?;
            Ok::<_, SpawnError>(())
        })
        .await
        .unwrap();
        result.unwrap()
    })
    .unwrap();
    // The job ran, so its result is returned, not a cancellation.
    assert_eq!(out.unwrap(), Some("finished after the cancel"));
}

#[test]
fn abandon_on_cancel_returns_at_once_and_releases_token_at_thread_end() {
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let finished = Arc::new(AtomicBool::new(false));
    let f = finished.clone();
    run(async move {
        let limiter = CapacityLimiter::new(1);
        let started = Arc::new(AtomicBool::new(false));
        let s = started.clone();
        let scope = CancelScope::new();
        let handle = scope.handle();
        let mut out = None;
        nursery(async |n| {
            n.spawn(async {
                until(|| started.load(Ordering::SeqCst)).await;
                handle.cancel();
                Ok::<_, Cancelled>(())
            })?;
            let (limiter, out) = (&limiter, &mut out);
            n.spawn(async move {
                let job = to_thread(move || {
                    s.store(true, Ordering::SeqCst);
                    release_rx.recv().unwrap(); // blocked until the test lets it go
                    f.store(true, Ordering::SeqCst);
                })
                .limiter(limiter)
                .abandon_on_cancel(true);
                *out = Some(scope.run(async { job.await.map_err(std::io::Error::from) }).await);
                Ok::<_, Cancelled>(())
            })?;
            Ok::<_, SpawnError>(())
        })
        .await
        .unwrap();
        assert!(matches!(out, Some(Ok(None))), "the caller gets Cancelled at once: {out:?}");
        // The thread is still blocked in the job: its token is still borrowed.
        assert!(!finished.load(Ordering::SeqCst));
        assert_eq!(limiter.borrowed(), 1);
        release_tx.send(()).unwrap();
        until(|| limiter.borrowed() == 0).await;
        assert!(finished.load(Ordering::SeqCst));
    })
    .unwrap();
}

#[test]
fn default_limiter_bounds_concurrent_jobs() {
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    quartet::Builder::new()
        .thread_limit(2)
        .run(async {
            assert_eq!(quartet::thread::default_limiter().unwrap().total(), 2);
            nursery(async |n| {
                for _ in 0..6 {
                    let (running, peak) = (running.clone(), peak.clone());
                    n.spawn(to_thread(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(20));
                        running.fetch_sub(1, Ordering::SeqCst);
                    }))?;
                }
                Ok::<_, SpawnError>(())
            })
            .await
            .unwrap();
        })
        .unwrap();
    let peak = peak.load(Ordering::SeqCst);
    assert!((1..=2).contains(&peak), "peak {peak}");
}

#[test]
fn idle_worker_is_reused() {
    run(async {
        let first = to_thread(|| std::thread::current().id()).await.unwrap();
        until(|| pool_stats().unwrap().idle == 1).await;
        let second = to_thread(|| std::thread::current().id()).await.unwrap();
        assert_eq!(first, second);
        assert_eq!(pool_stats().unwrap().started, 1);
    })
    .unwrap();
}

#[test]
fn runtime_shutdown_does_not_wait_for_running_job() {
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (done_tx, done_rx) = mpsc::channel::<bool>();
    let started = Arc::new(AtomicBool::new(false));
    let s = started.clone();
    run(async move {
        let mut job = Box::pin(to_thread(move || {
            s.store(true, Ordering::SeqCst);
            release_rx.recv().unwrap();
            // the caller is gone: the job's handle reports it
            done_tx.send(check_cancelled().is_err()).unwrap();
        }));
        std::future::poll_fn(|cx| {
            let _ = job.as_mut().poll(cx);
            if started.load(Ordering::SeqCst) {
                return Poll::Ready(());
            }
            cx.waker().wake_by_ref();
            Poll::Pending
        })
        .await;
        // The root returns and drops the running job's future: that cannot wait for the thread.
    })
    .unwrap();
    // run() has returned while the job is still blocked.
    release_tx.send(()).unwrap();
    assert_eq!(done_rx.recv_timeout(Duration::from_secs(10)), Ok(true));
}
