//! `from_thread` and `Handle`: running futures and closures on the loop from other threads.

use quartet::thread::{FromThreadError, Handle, check_cancelled};
use quartet::{CancelScope, Cancelled, SpawnError, from_thread, from_thread_sync, nursery, run, sleep, to_thread};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::thread_support;
use thread_support::until;

#[test]
fn from_thread_runs_future_on_the_loop() {
    let loop_thread = std::thread::current().id();
    let (on, worker) = run(async {
        to_thread(|| {
            let on = from_thread(|| async {
                sleep(Duration::from_millis(1)).await?; // runtime I/O works: this is on the loop
                Ok::<_, Cancelled>(std::thread::current().id())
            });
            (on, std::thread::current().id())
        })
        .await
    })
    .unwrap()
    .unwrap();
    assert_eq!(on.unwrap().unwrap(), loop_thread);
    assert_ne!(worker, loop_thread);
}

#[test]
fn from_thread_sync_runs_closure_on_the_loop() {
    let loop_thread = std::thread::current().id();
    let on = run(async { to_thread(|| from_thread_sync(|| std::thread::current().id())).await }).unwrap().unwrap();
    assert_eq!(on, Ok(loop_thread));
}

#[test]
fn handle_taken_on_the_loop_works_from_any_thread() {
    let out = run(async {
        let handle = Handle::current().unwrap();
        let t = std::thread::spawn(move || handle.run_sync(|| quartet::stats().is_some()));
        // wait for the plain thread without blocking the loop
        to_thread(move || t.join().unwrap()).await
    })
    .unwrap()
    .unwrap();
    assert_eq!(out, Ok(true));
}

#[test]
fn from_thread_after_shutdown_errors_instead_of_hanging() {
    let handle = run(async { Handle::current().unwrap() }).unwrap();
    assert_eq!(handle.run_sync(|| 1), Err(FromThreadError::Shutdown));
    assert_eq!(handle.run(|| async { 1 }), Err(FromThreadError::Shutdown));
    assert_eq!(handle.check_cancelled().unwrap_err().reason(), &quartet::Reason::Shutdown);
}

#[test]
fn from_thread_pending_at_shutdown_errors_instead_of_hanging() {
    let running = Arc::new(AtomicBool::new(false));
    let r = running.clone();
    let thread = run(async move {
        let handle = Handle::current().unwrap();
        let t = std::thread::spawn(move || {
            handle.run(move || {
                r.store(true, Ordering::SeqCst);
                std::future::pending::<()>()
            })
        });
        until(|| running.load(Ordering::SeqCst)).await;
        t // the runtime shuts down with the future still pending
    })
    .unwrap();
    assert_eq!(thread.join().unwrap(), Err(FromThreadError::Shutdown));
}

#[test]
fn from_thread_on_the_loop_thread_is_refused() {
    let out = run(async { Handle::current().unwrap().run_sync(|| 1) }).unwrap();
    assert_eq!(out, Err(FromThreadError::OnRuntimeThread));
}

#[test]
fn from_thread_without_a_handle_is_refused() {
    let out = std::thread::spawn(|| from_thread_sync(|| 1)).join().unwrap();
    assert_eq!(out, Err(FromThreadError::NoHandle));
    assert!(check_cancelled().is_ok(), "not a worker: nothing to be cancelled");
}

#[test]
fn from_thread_panic_reaches_the_calling_thread() {
    let out = run(async {
        to_thread(|| std::panic::catch_unwind(|| from_thread_sync(|| -> u8 { panic!("boom on the loop") })).is_err())
            .await
    })
    .unwrap()
    .unwrap();
    assert!(out);
}

#[test]
fn from_thread_future_runs_under_the_callers_cancellation() {
    let out = run(async {
        let scope = CancelScope::new();
        let handle = scope.handle();
        let started = Arc::new(AtomicBool::new(false));
        let s = started.clone();
        let mut out = None;
        nursery(async |n| {
            n.spawn(async {
                until(|| started.load(Ordering::SeqCst)).await;
                handle.cancel();
                Ok::<_, Cancelled>(())
            })?;
            let out = &mut out;
            n.spawn(async move {
                let job = to_thread(move || {
                    s.store(true, Ordering::SeqCst);
                    while check_cancelled().is_ok() {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    // the caller is cancelled: a long sleep on the loop fails at once
                    from_thread(|| async { sleep(Duration::from_secs(60)).await })
                });
                *out = Some(scope.run(async { job.await.map_err(std::io::Error::from) }).await);
                Ok::<_, Cancelled>(())
            })?;
            Ok::<_, SpawnError>(())
        })
        .await
        .unwrap();
        out.unwrap()
    })
    .unwrap();
    let inner = out.unwrap().expect("the job ran, so its result comes back");
    assert!(matches!(inner, Ok(Err(Cancelled { .. }))), "{inner:?}");
}
