//! loom models of `Event` across threads: no lost wake-up, and publication of writes made before
//! `set`.
#![cfg(loom)]

use loom::future::block_on;
use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;
use quartet_nursery::sync::Event;
use std::sync::atomic::AtomicUsize as Tally;

/// Guards against a waiter that parks after `set` has woken everyone (a lost wake-up: deadlock).
#[test]
fn set_races_wait_parking() {
    static PARKED_FIRST: Tally = Tally::new(0);
    static SET_FIRST: Tally = Tally::new(0);
    loom::model(|| {
        let event = Arc::new(Event::new());
        let setter = {
            let event = event.clone();
            thread::spawn(move || {
                let parked = event.statistics().waiting == 1;
                event.set();
                parked
            })
        };
        block_on(event.wait()).unwrap();
        let tally = if setter.join().unwrap() { &PARKED_FIRST } else { &SET_FIRST };
        tally.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    });
    assert!(PARKED_FIRST.load(std::sync::atomic::Ordering::Relaxed) > 0, "explored: waiter parked, then set");
    assert!(SET_FIRST.load(std::sync::atomic::Ordering::Relaxed) > 0, "explored: set before the waiter parked");
}

/// Guards against a wait that returns without synchronising with `set` (writes made before `set`
/// must be visible after `wait`).
#[test]
fn wait_sees_writes_made_before_set() {
    loom::model(|| {
        let event = Arc::new(Event::new());
        let data = Arc::new(AtomicUsize::new(0));
        let setter = {
            let (event, data) = (event.clone(), data.clone());
            thread::spawn(move || {
                data.store(42, Ordering::Relaxed);
                event.set();
            })
        };
        block_on(event.wait()).unwrap();
        assert_eq!(data.load(Ordering::Relaxed), 42);
        setter.join().unwrap();
    });
}
