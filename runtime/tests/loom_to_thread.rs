//! loom: the `to_thread` hand-off (pool queue, workers going idle, the job wrapper) and its result
//! slot (`oneshot`), including the caller cancelling or dropping its side while the worker runs.
#![cfg(loom)]

use loom::future::block_on;
use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;
use quartet_runtime::Reason;
use quartet_runtime::thread::CapacityLimiter;
use quartet_runtime::thread::job::{self, Outcome};
use quartet_runtime::thread::oneshot::{self, RecvError};
use quartet_runtime::thread::pool::Pool;
use std::future::poll_fn;
use std::sync::atomic::{AtomicBool as StdBool, Ordering as StdOrdering};
use std::time::Duration;

/// Counts its drops, so a model can check a value is dropped exactly once, wherever that happens.
struct DropCount(Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn explored(flag: &StdBool) {
    flag.store(true, StdOrdering::SeqCst);
}

fn was(flag: &StdBool) -> bool {
    flag.load(StdOrdering::SeqCst)
}

/// Bug guarded: a value sent between the receiver's check and its waker registration is never
/// noticed (the receiver blocks forever).
#[test]
fn result_sent_while_receiver_waits() {
    loom::model(|| {
        let (tx, rx) = oneshot::channel();
        let t = thread::spawn(move || tx.send(7).unwrap());
        assert_eq!(rx.recv_blocking(), Ok(7));
        t.join().unwrap();
    });
}

/// Bug guarded: a sender dropped without sending leaves the receiver waiting forever.
#[test]
fn sender_dropped_wakes_receiver() {
    loom::model(|| {
        let (tx, rx) = oneshot::channel::<u8>();
        let t = thread::spawn(move || drop(tx));
        assert_eq!(block_on(rx), Err(RecvError));
        t.join().unwrap();
    });
}

static SENT_FIRST: StdBool = StdBool::new(false);
static DROPPED_FIRST: StdBool = StdBool::new(false);

/// Bug guarded: a result sent as the receiver is dropped is leaked or dropped twice. Either the
/// send fails (value handed back to the worker) or the receiver's drop drops it.
#[test]
fn result_sent_as_receiver_drops() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = oneshot::channel();
        let value = DropCount(drops.clone());
        let t = thread::spawn(move || tx.send(value).is_ok());
        drop(rx);
        let delivered = t.join().unwrap();
        assert_eq!(drops.load(Ordering::SeqCst), 1, "the result is dropped exactly once");
        explored(if delivered { &SENT_FIRST } else { &DROPPED_FIRST });
    });
    assert!(was(&SENT_FIRST) && was(&DROPPED_FIRST), "both orders must be explored");
}

/// Bug guarded: the caller sees its result before the limiter token is back (or never gets it).
/// The worker drops the token before sending, so a caller with a result sees the token free.
#[test]
fn job_result_reaches_waiting_caller() {
    loom::model(|| {
        let pool = Pool::new(Duration::from_secs(10));
        let limiter = CapacityLimiter::new(1);
        let token = limiter.try_acquire().unwrap();
        let mut running = job::start(&pool, token, || 40 + 2, None).unwrap();
        let outcome = block_on(poll_fn(|cx| running.poll_outcome(cx)));
        assert!(matches!(outcome, Outcome::Done(Ok(42))));
        assert_eq!(limiter.borrowed(), 0, "the token is released before the result is sent");
        pool.close();
    });
}

static RAN: StdBool = StdBool::new(false);
static SKIPPED: StdBool = StdBool::new(false);

/// Bug guarded: a job whose caller was cancelled before it started still runs, or a cancel that
/// races the start loses the outcome or the token. Either the closure ran (`Done`) or it never
/// started (`NotStarted`); the token comes back in both cases.
#[test]
fn caller_cancels_as_worker_starts() {
    loom::model(|| {
        let pool = Pool::new(Duration::from_secs(10));
        let limiter = CapacityLimiter::new(1);
        let token = limiter.try_acquire().unwrap();
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        let mut running = job::start(&pool, token, move || r.fetch_add(1, Ordering::SeqCst), None).unwrap();
        running.cancel(Reason::Explicit);
        match block_on(poll_fn(|cx| running.poll_outcome(cx))) {
            Outcome::Done(Ok(_)) => {
                assert_eq!(ran.load(Ordering::SeqCst), 1);
                explored(&RAN);
            }
            Outcome::NotStarted(c) => {
                assert_eq!(c.reason(), &Reason::Explicit);
                assert_eq!(ran.load(Ordering::SeqCst), 0);
                explored(&SKIPPED);
            }
            Outcome::Done(Err(_)) => panic!("the closure does not panic"),
        }
        assert_eq!(limiter.borrowed(), 0);
        pool.close();
    });
    assert!(was(&RAN) && was(&SKIPPED), "both outcomes must be explored");
}

static ABANDONED_RUNNING: StdBool = StdBool::new(false);
static ABANDONED_QUEUED: StdBool = StdBool::new(false);

/// Bug guarded: abandoning a job (abandon-on-cancel, or the caller dropped) while the worker
/// finishes leaks its result or its limiter token. The result is dropped exactly once and the
/// token comes back only when the worker is done with the job.
#[test]
fn caller_abandons_as_worker_finishes() {
    loom::model(|| {
        let pool = Pool::new(Duration::from_secs(10));
        let limiter = CapacityLimiter::new(1);
        let token = limiter.try_acquire().unwrap();
        let drops = Arc::new(AtomicUsize::new(0));
        let d = drops.clone();
        let running = job::start(&pool, token, move || DropCount(d), None).unwrap();
        drop(running);
        // Waits until the worker gives the token back (a lost token deadlocks here).
        let again = block_on(limiter.acquire()).unwrap();
        // The job either ran (its result was dropped once) or was skipped (never made).
        let n = drops.load(Ordering::SeqCst);
        assert!(n <= 1);
        explored(if n == 1 { &ABANDONED_RUNNING } else { &ABANDONED_QUEUED });
        drop(again);
        pool.close();
    });
    assert!(was(&ABANDONED_RUNNING) && was(&ABANDONED_QUEUED), "both outcomes must be explored");
}

static REUSED: StdBool = StdBool::new(false);
static GREW: StdBool = StdBool::new(false);
static HANDED: StdBool = StdBool::new(false);

/// Bug guarded: a job queued for a worker that is about to go idle (or to exit) is never run.
/// The second job either goes to the now-idle first worker or to a new thread; both run once.
#[test]
fn job_races_worker_going_idle() {
    loom::model(|| {
        let pool = Pool::new(Duration::from_secs(10));
        let (tx1, rx1) = oneshot::channel();
        let (tx2, rx2) = oneshot::channel();
        pool.execute(Box::new(move || tx1.send(1).unwrap())).unwrap();
        pool.execute(Box::new(move || tx2.send(2).unwrap())).unwrap();
        assert_eq!(block_on(rx1), Ok(1));
        assert_eq!(block_on(rx2), Ok(2));
        explored(if pool.stats().started == 1 { &REUSED } else { &GREW });
        pool.close();
    });
    assert!(was(&REUSED) && was(&GREW), "both outcomes must be explored");
}

/// Bug guarded: with one idle worker, a job handed to it is lost if the notify misses the wait.
#[test]
fn job_handed_to_idle_worker() {
    loom::model(|| {
        let pool = Pool::new(Duration::from_secs(10));
        let (tx1, rx1) = oneshot::channel();
        pool.execute(Box::new(move || tx1.send(1).unwrap())).unwrap();
        assert_eq!(block_on(rx1), Ok(1));
        loop {
            // wait (spinning through loom) until the worker is idle, then hand it the next job
            if pool.stats().idle == 1 {
                break;
            }
            thread::yield_now();
        }
        let (tx2, rx2) = oneshot::channel();
        pool.execute(Box::new(move || tx2.send(2).unwrap())).unwrap();
        assert_eq!(block_on(rx2), Ok(2));
        assert_eq!(pool.stats().started, 1, "the idle worker was reused");
        explored(&HANDED);
        pool.close();
    });
    assert!(was(&HANDED));
}
