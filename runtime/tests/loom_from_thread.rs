//! loom: `from_thread` submissions racing the kernel's park and its shutdown. The kernel is the
//! model's main thread, running the real `SystemRunner` and parking on a mock parker.
#![cfg(loom)]

use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::{Arc, Condvar, Mutex};
use loom::thread;
use quartet_runtime::thread::oneshot;
use quartet_runtime::thread::system::{SystemQueue, SystemRunner};
use quartet_runtime::thread::{FromThreadError, Handle};
use std::sync::atomic::{AtomicBool as StdBool, Ordering as StdOrdering};
use std::task::{Wake, Waker};

/// The kernel's park/unpark edge, as a loom `Mutex<bool>` + `Condvar`; its waker unparks it.
#[derive(Default)]
struct MockParker {
    notified: Mutex<bool>,
    cv: Condvar,
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

struct Unparker(Arc<MockParker>);

impl Wake for Unparker {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        *self.0.notified.lock().unwrap() = true;
        self.0.cv.notify_one();
    }
}

/// A kernel: its system queue and runner, and the waker that unparks it.
fn kernel() -> (Arc<MockParker>, Waker, Arc<SystemQueue>, SystemRunner) {
    let parker = Arc::new(MockParker::default());
    let waker = Waker::from(std::sync::Arc::new(Unparker(parker.clone())));
    let queue = SystemQueue::new(waker.clone(), 0);
    let runner = SystemRunner::new(queue.clone());
    (parker, waker, queue, runner)
}

static RAN: StdBool = StdBool::new(false);
static REFUSED: StdBool = StdBool::new(false);

/// Bug guarded: a `from_thread` call submitted while the runtime shuts down blocks its thread
/// forever. It either runs (`Ok`) or fails with `Shutdown`; both are explored, neither hangs.
#[test]
fn submission_races_shutdown() {
    loom::model(|| {
        let (_parker, waker, queue, mut runner) = kernel();
        let handle = Handle::new(queue, None);
        let t = thread::spawn(move || handle.run_sync(|| 7));
        runner.run(&waker);
        runner.shutdown();
        match t.join().unwrap() {
            Ok(v) => {
                assert_eq!(v, 7);
                RAN.store(true, StdOrdering::SeqCst);
            }
            Err(e) => {
                assert_eq!(e, FromThreadError::Shutdown);
                REFUSED.store(true, StdOrdering::SeqCst);
            }
        }
    });
    assert!(RAN.load(StdOrdering::SeqCst) && REFUSED.load(StdOrdering::SeqCst), "both outcomes must be explored");
}

/// Bug guarded: a submission that lands while the kernel decides to park is never run (the
/// kernel sleeps, the submitter waits forever).
#[test]
fn submission_wakes_parked_kernel() {
    loom::model(|| {
        let (parker, waker, queue, mut runner) = kernel();
        let done = Arc::new(AtomicBool::new(false));
        let d = done.clone();
        let handle = Handle::new(queue, None);
        let t = thread::spawn(move || {
            handle.run_sync(move || {
                d.store(true, Ordering::SeqCst);
                7
            })
        });
        loop {
            runner.run(&waker);
            if done.load(Ordering::SeqCst) {
                break;
            }
            parker.park();
        }
        assert_eq!(t.join().unwrap(), Ok(7));
        runner.shutdown();
    });
}

/// Bug guarded: a system task woken from a third thread is never polled again. The from_thread
/// future waits for a value another thread sends; the kernel parks until it is done.
#[test]
fn system_task_woken_from_another_thread() {
    loom::model(|| {
        let (parker, waker, queue, mut runner) = kernel();
        let (tx, rx) = oneshot::channel::<u8>();
        let done = Arc::new(AtomicBool::new(false));
        let d = done.clone();
        let handle = Handle::new(queue, None);
        let submitter = thread::spawn(move || {
            handle.run(move || async move {
                let v = rx.await;
                d.store(true, Ordering::SeqCst);
                v
            })
        });
        let sender = thread::spawn(move || tx.send(5).unwrap());
        loop {
            runner.run(&waker);
            if done.load(Ordering::SeqCst) {
                break;
            }
            parker.park();
        }
        assert_eq!(submitter.join().unwrap(), Ok(Ok(5)));
        sender.join().unwrap();
        runner.shutdown();
    });
}
