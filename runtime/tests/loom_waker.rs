//! loom: the real task wakers (`kernel/waker.rs`: a nursery's `ReadyQueue` and its child wakers)
//! woken from other threads, through the real remote queue and the real `EventFd` unparker, whose
//! kernel-side counter is modelled with loom types (`EventFd::read_blocking` stands for the
//! driver's wake read). The model's main thread is the kernel: it is marked as kernel 1, so the
//! wakers' "am I on my kernel's thread" checks run as in a program.
#![cfg(loom)]

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;
use quartet_runtime::model::{CoreUnpark, EventFd, enter_model_kernel};
use quartet_runtime::{ReadyQueue, RemoteQueue};
use std::sync::atomic::{AtomicBool as StdBool, Ordering as StdOrdering};
use std::task::{Wake, Waker};

const KERNEL: u64 = 1;

/// A nursery's own waker: counts how often its ready queue woke it.
struct Parent(Arc<AtomicUsize>);

impl Wake for Parent {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// The kernel's loop, reduced to the wake path: run what the remote queue hands back (on this
/// thread a child waker queues its child), stop once `want` children are queued, else park on
/// the eventfd until a remote wake writes it (through `flags().block(..)`, as the driver does).
fn kernel_loop(remote: &RemoteQueue<CoreUnpark>, queue: &ReadyQueue, want: usize) -> Vec<usize> {
    let mut ready = Vec::new();
    let mut woken = Vec::new();
    loop {
        remote.drain(&mut woken);
        woken.drain(..).for_each(Waker::wake);
        while let Some(child) = queue.pop() {
            ready.push(child);
        }
        if ready.len() >= want {
            return ready;
        }
        remote.flags().block(|| remote.unparker().eventfd().read_blocking());
    }
}

/// Bug guarded: a child woken on another thread is never polled again: its waker takes the
/// on-thread path from the wrong thread, or the remote push, the eventfd write and the kernel's
/// drain/park lose it. Two children are woken from two threads while the kernel parks.
#[test]
fn child_woken_from_another_thread_is_polled() {
    loom::model(|| {
        let _kernel = enter_model_kernel(KERNEL);
        let remote = RemoteQueue::new(CoreUnpark::new(Arc::new(EventFd::new().unwrap()), None));
        let queue = ReadyQueue::for_model(KERNEL, remote.clone());
        let parent_wakes = Arc::new(AtomicUsize::new(0));
        queue.set_parent(&Waker::from(std::sync::Arc::new(Parent(parent_wakes.clone()))));
        let threads: Vec<_> = [3, 5]
            .into_iter()
            .map(|child| {
                let waker = queue.waker(child);
                thread::spawn(move || waker.wake())
            })
            .collect();
        let mut ready = kernel_loop(&remote, &queue, 2);
        threads.into_iter().for_each(|t| t.join().unwrap());
        ready.sort_unstable();
        assert_eq!(ready, [3, 5], "each woken child is queued exactly once");
        assert!(parent_wakes.load(Ordering::SeqCst) >= 1, "the nursery was woken to poll them");
    });
}

static HANDED_BACK: StdBool = StdBool::new(false);
static REFUSED: StdBool = StdBool::new(false);

/// Bug guarded: a waker woken on another thread after the runtime shut down (the remote queue
/// closed) is queued anyway or wakes the dead kernel's queue from the wrong thread; or one woken
/// just before is lost instead of being handed back by `close`. Either it is refused, or `close`
/// returns it; nothing touches the ready queue off its thread.
#[test]
fn child_woken_as_the_runtime_shuts_down_is_refused_or_handed_back() {
    loom::model(|| {
        let _kernel = enter_model_kernel(KERNEL);
        let remote = RemoteQueue::new(CoreUnpark::new(Arc::new(EventFd::new().unwrap()), None));
        let queue = ReadyQueue::for_model(KERNEL, remote.clone());
        let waker = queue.waker(7);
        let t = thread::spawn(move || waker.wake());
        let left = remote.close();
        t.join().unwrap();
        assert!(left.len() <= 1);
        assert!(queue.is_empty(), "a remote wake touched the ready queue");
        // Handed back to the kernel thread, the waker queues its child there.
        let handed_back = left.len() == 1;
        left.into_iter().for_each(Waker::wake);
        assert_eq!(queue.pop(), handed_back.then_some(7));
        if handed_back { &HANDED_BACK } else { &REFUSED }.store(true, StdOrdering::SeqCst);
    });
    assert!(HANDED_BACK.load(StdOrdering::SeqCst), "wake-before-close never explored");
    assert!(REFUSED.load(StdOrdering::SeqCst), "close-before-wake never explored");
}
