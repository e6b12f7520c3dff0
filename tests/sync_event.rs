//! `Event`: waking every waiter, waiting on a set event, setting from another thread,
//! statistics.
use quartet::sync::Event;
use quartet::{BoxError, Cancelled, nursery, run, yield_now};
use std::cell::Cell;
use std::sync::Arc;

#[test]
fn set_wakes_every_waiter() {
    let woken = Cell::new(0);
    run(async {
        let event = Event::new();
        nursery(async |n| {
            for _ in 0..10 {
                let (event, woken) = (&event, &woken);
                n.spawn(async move {
                    event.wait().await?;
                    woken.set(woken.get() + 1);
                    Ok::<_, Cancelled>(())
                })?;
            }
            yield_now().await;
            let s = event.statistics();
            assert_eq!((s.set, s.waiting), (false, 10));
            event.set();
            event.set(); // idempotent
            assert_eq!(event.statistics().waiting, 0);
            Ok::<_, BoxError>(())
        })
        .await
    })
    .unwrap()
    .unwrap();
    assert_eq!(woken.get(), 10);
}

#[test]
fn waiting_on_a_set_event_returns_and_is_set_reports_it() {
    run(async {
        let event = Event::default();
        assert!(!event.is_set());
        event.set();
        assert!(event.is_set());
        event.wait().await?;
        event.wait().await
    })
    .unwrap()
    .unwrap();
}

#[test]
fn set_from_another_thread_wakes_a_task() {
    let event = Arc::new(Event::new());
    let setter = {
        let event = event.clone();
        std::thread::spawn(move || {
            while event.statistics().waiting == 0 {
                std::thread::yield_now();
            }
            event.set();
        })
    };
    run(async { event.wait().await }).unwrap().unwrap();
    setter.join().unwrap();
}

#[test]
fn event_is_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Event>();
}
