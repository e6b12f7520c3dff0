//! loom models of `Lock`, `Semaphore` and `Condition` shared between threads: hand-offs are not
//! lost, the guarded data is accessed exclusively, and withdrawn acquires give back what they
//! were handed.
#![cfg(loom)]

use loom::future::block_on;
use loom::sync::Arc;
use loom::thread;
use quartet_nursery::sync::{Condition, Lock, Semaphore};
use std::future::Future;
use std::sync::atomic::{AtomicUsize as Tally, Ordering::Relaxed};
use std::task::{Context, Waker};

/// Guards against a release that does not hand the lock to a waiter on another thread (lost
/// wake-up), and against two owners touching the data at once (loom checks the data cell).
#[test]
fn release_hands_lock_to_waiter_on_other_thread() {
    static PARKED: Tally = Tally::new(0);
    static FREE: Tally = Tally::new(0);
    loom::model(|| {
        let lock = Arc::new(Lock::new(0u32));
        let mut guard = lock.try_lock().unwrap();
        let waiter = {
            let lock = lock.clone();
            thread::spawn(move || {
                let mut g = block_on(lock.lock()).unwrap();
                *g += 10;
            })
        };
        *guard += 1;
        let parked = lock.statistics().waiting == 1;
        drop(guard);
        waiter.join().unwrap();
        assert_eq!(*lock.try_lock().unwrap(), 11);
        (if parked { &PARKED } else { &FREE }).fetch_add(1, Relaxed);
    });
    assert!(PARKED.load(Relaxed) > 0 && FREE.load(Relaxed) > 0, "both orders explored");
}

/// Guards against an acquire that is dropped just as the lock is handed to it keeping the lock
/// forever.
#[test]
fn acquire_dropped_as_lock_is_handed_over() {
    loom::model(|| {
        let lock = Arc::new(Lock::new(()));
        let guard = lock.try_lock().unwrap();
        let withdrawer = {
            let lock = lock.clone();
            thread::spawn(move || {
                let mut acquire = Box::pin(lock.lock());
                let mut cx = Context::from_waker(Waker::noop());
                let _ = acquire.as_mut().poll(&mut cx);
            })
        };
        drop(guard);
        withdrawer.join().unwrap();
        assert!(!lock.is_locked(), "{:?}", lock.statistics());
    });
}

/// Guards against a released unit that neither reaches the parked acquirer nor stays in the
/// semaphore.
#[test]
fn semaphore_release_races_acquire_parking() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(0));
        let releaser = {
            let sem = sem.clone();
            thread::spawn(move || sem.release())
        };
        block_on(sem.acquire()).unwrap().forget();
        releaser.join().unwrap().unwrap();
        assert_eq!(sem.value(), 0);
    });
}

/// Guards against a notification that slips between a waiter releasing the lock and parking.
#[test]
fn notify_races_condition_wait() {
    loom::model(|| {
        let cond = Arc::new(Condition::new(false));
        let notifier = {
            let cond = cond.clone();
            thread::spawn(move || {
                let mut g = block_on(cond.lock()).unwrap();
                *g = true;
                cond.notify_one();
            })
        };
        block_on(async {
            let mut g = cond.lock().await.unwrap();
            while !*g {
                g = cond.wait(g).await.unwrap();
            }
        });
        notifier.join().unwrap();
    });
}
