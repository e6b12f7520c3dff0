//! loom: the watchdog's shared poll stack between the kernel thread (push/pop per poll) and the
//! watchdog thread (looks at the top, reports without the lock), and its stop/join on drop.
//! Guards W1 (a stuck poll is reported once however many rounds see it) and W3 (dropping the
//! watchdog stops and joins its thread: the model would deadlock otherwise).
#![cfg(loom)]

use loom::sync::atomic::{AtomicUsize, Ordering};
use quartet_runtime::introspect::{StuckPoll, StuckPollReporter};
use quartet_runtime::model::Watchdog;
use std::time::Duration;

#[derive(Default)]
struct Count(AtomicUsize);

impl StuckPollReporter for Count {
    fn report(&self, stuck: &StuckPoll) {
        assert!(stuck.task().is_none()); // the root future's poll, the only one in the model
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Bug guarded: each watchdog round re-reports the same stuck poll (W1). The kernel thread starts
/// a poll that stays stuck through two watchdog rounds, then returns; dropping the watchdog must
/// stop and join its thread.
#[test]
fn stuck_poll_is_reported_once_and_drop_joins() {
    loom::model(|| {
        let count = std::sync::Arc::new(Count::default());
        let w = Watchdog::for_model(Duration::ZERO, count.clone());
        w.enter(None);
        w.poke();
        loom::thread::yield_now();
        w.poke();
        loom::thread::yield_now();
        w.leave();
        drop(w);
        assert!(count.0.load(Ordering::SeqCst) <= 1, "a stuck poll was reported twice");
    });
}
