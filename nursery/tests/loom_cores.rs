//! loom: the structures `spawn_on` shares between cores (`nursery/src/cores/remote.rs`): a core's
//! mailbox of jobs, and a cross-core nursery's tracker of live remote children. The "cores" are
//! loom threads; a job is a guard that finishes its child in the tracker when it is run or
//! dropped, as the real job's `ChildGuard` does.
#![cfg(loom)]

use loom::future::block_on;
use loom::sync::Arc;
use loom::thread;
use quartet_nursery::cores_model::{Ended, Mailbox, Tracker};
use std::future::poll_fn;
use std::sync::atomic::{AtomicBool as StdBool, Ordering::SeqCst};

/// A job: finishes its child once, when run or when dropped unrun.
struct Job {
    tracker: Arc<Tracker>,
    value: u32,
}

impl Drop for Job {
    fn drop(&mut self) {
        self.tracker.finish(Ended::Quietly);
    }
}

fn job(tracker: &Arc<Tracker>, value: u32) -> Job {
    tracker.add();
    Job { tracker: tracker.clone(), value }
}

static RUN_BY_CORE: StdBool = StdBool::new(false);

/// Bug guarded (the mailbox's lost wake-up): core 1's mailbox task checks an empty queue and
/// parks in two steps, a job pushed in between finds no waker, and the child never runs (its
/// nursery on core 0 waits forever).
#[test]
fn job_pushed_as_the_mailbox_task_parks_is_run() {
    loom::model(|| {
        let mailbox = Arc::new(Mailbox::<Job>::new());
        let tracker = Arc::new(Tracker::new());
        let m1 = mailbox.clone();
        let core1 = thread::spawn(move || {
            let got = block_on(poll_fn(|cx| m1.poll_recv(cx))).expect("open");
            assert_eq!(got.value, 7);
            drop(got); // ran: finishes its child
        });
        mailbox.push(job(&tracker, 7)).unwrap_or_else(|_| panic!("the mailbox is open"));
        block_on(poll_fn(|cx| tracker.poll_idle(cx)));
        core1.join().unwrap();
        RUN_BY_CORE.store(true, SeqCst);
    });
    assert!(RUN_BY_CORE.load(SeqCst));
}

static REFUSED: StdBool = StdBool::new(false);
static DROPPED_BY_CLOSE: StdBool = StdBool::new(false);

/// Bug guarded (M1): a job pushed as the group closes the mailbox is neither refused nor run:
/// `close` forgets it, its child never finishes, and the nursery that spawned it waits forever.
#[test]
fn push_races_mailbox_close() {
    loom::model(|| {
        let mailbox = Arc::new(Mailbox::<Job>::new());
        let tracker = Arc::new(Tracker::new());
        let m1 = mailbox.clone();
        let closer = thread::spawn(move || m1.close());
        let refused = mailbox.push(job(&tracker, 1)).is_err(); // a refused job drops here
        block_on(poll_fn(|cx| tracker.poll_idle(cx)));
        closer.join().unwrap();
        assert_eq!(tracker.live(), 0);
        (if refused { &REFUSED } else { &DROPPED_BY_CLOSE }).store(true, SeqCst);
    });
    assert!(REFUSED.load(SeqCst) && DROPPED_BY_CLOSE.load(SeqCst), "both outcomes must be explored");
}

/// Bug guarded (K1): the last remote child finishes on another core as the nursery parks; the
/// nursery's exit must be woken, whichever of the two finishing cores is last.
#[test]
fn last_remote_child_finishes_as_the_nursery_waits() {
    loom::model(|| {
        let tracker = Arc::new(Tracker::new());
        let (a, b) = (job(&tracker, 1), job(&tracker, 2));
        let ta = thread::spawn(move || drop(a));
        let tb = thread::spawn(move || drop(b));
        block_on(poll_fn(|cx| tracker.poll_idle(cx)));
        ta.join().unwrap();
        tb.join().unwrap();
    });
}
