//! loom: remote wake-ups versus the kernel parking, with a mock parker in place of the eventfd.
//! Guards against lost wake-ups in `RemoteQueue` (push/notify/drain, and the `notified`/`awake`
//! handshake of `WakeFlags::block`, RW1) and wakers lost at shutdown. The kernel parks as the
//! driver does: through `flags().block(..)`, so a push to it while it is awake sends no unpark.
#![cfg(loom)]

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::{Arc, Condvar, Mutex};
use loom::thread;
use quartet_runtime::{RemoteQueue, Unpark};
use std::sync::atomic::AtomicBool as StdBool;
use std::task::{Wake, Waker};

/// The kernel's park/unpark edge, as a loom `Mutex<bool>` + `Condvar`.
#[derive(Default)]
struct MockParker {
    notified: Mutex<bool>,
    cv: Condvar,
}

impl Unpark for MockParker {
    fn unpark(&self) {
        *self.notified.lock().unwrap() = true;
        self.cv.notify_one();
    }
}

impl MockParker {
    fn park(&self) {
        let mut n = self.notified.lock().unwrap();
        while !*n {
            n = self.cv.wait(n).unwrap();
        }
        *n = false;
    }
}

/// A waker that counts how often the kernel re-woke it.
struct Counted(Arc<AtomicUsize>);

impl Wake for Counted {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counted() -> (Waker, Arc<AtomicUsize>) {
    let n = Arc::new(AtomicUsize::new(0));
    (Waker::from(std::sync::Arc::new(Counted(n.clone()))), n)
}

/// Bug guarded: a wake pushed while the kernel drains and parks is never seen (the kernel parks
/// forever): the drain resets `notified` after taking the queue (mutant `remote_drain_reset`),
/// or the kernel checks `notified` before it clears `awake` (mutant `awake_check_before_clear`).
/// Two remote wakers race the kernel's drain/park loop.
#[test]
fn wake_while_parking() {
    loom::model(|| {
        let q = RemoteQueue::new(MockParker::default());
        let (w, count) = counted();
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let (q, w) = (q.clone(), w.clone());
                thread::spawn(move || assert!(q.push(w)))
            })
            .collect();
        let mut got = Vec::new();
        let mut seen = 0;
        loop {
            q.drain(&mut got);
            seen += got.len();
            got.drain(..).for_each(Waker::wake);
            if seen == 2 {
                break;
            }
            q.flags().block(|| q.unparker().park());
        }
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(count.load(Ordering::SeqCst), 2);
    });
}

static PUSH_WON: StdBool = StdBool::new(false);
static CLOSE_WON: StdBool = StdBool::new(false);

/// Bug guarded: a waker pushed while the kernel shuts down is neither refused nor handed back
/// (lost). Either the push fails, or `close` returns it; both orders are explored.
#[test]
fn push_races_close() {
    loom::model(|| {
        let q = RemoteQueue::new(MockParker::default());
        let (w, _count) = counted();
        let q2 = q.clone();
        let t = thread::spawn(move || q2.push(w));
        let left = q.close();
        let pushed = t.join().unwrap();
        assert_eq!(pushed, left.len() == 1, "a pushed waker is handed back by close");
        if pushed {
            PUSH_WON.store(true, std::sync::atomic::Ordering::SeqCst);
        } else {
            CLOSE_WON.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    });
    assert!(PUSH_WON.load(std::sync::atomic::Ordering::SeqCst), "push-before-close never explored");
    assert!(CLOSE_WON.load(std::sync::atomic::Ordering::SeqCst), "close-before-push never explored");
}
