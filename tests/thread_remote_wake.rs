//! Cross-thread wake-ups: a waker woken on another thread wakes the loop, and a burst of remote
//! wakes is coalesced into one unpark and one ring completion.

use quartet::runtime::{RemoteQueue, Unpark};
use quartet::{run, stats};
use std::future::poll_fn;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Poll, Waker};

#[derive(Default)]
struct CountingUnpark(AtomicUsize);

impl Unpark for CountingUnpark {
    fn unpark(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn noop_waker() -> Waker {
    struct Noop;
    impl std::task::Wake for Noop {
        fn wake(self: std::sync::Arc<Self>) {}
    }
    Waker::from(std::sync::Arc::new(Noop))
}

#[test]
fn burst_of_remote_pushes_unparks_once_until_drained() {
    let q = RemoteQueue::new(CountingUnpark::default());
    let q2 = q.clone();
    let w = noop_waker();
    std::thread::spawn(move || {
        for _ in 0..1000 {
            assert!(q2.push(w.clone()));
        }
    })
    .join()
    .unwrap();
    assert_eq!(q.unparker().0.load(Ordering::SeqCst), 1, "1000 pushes, one unpark");
    let mut out = Vec::new();
    q.drain(&mut out);
    assert_eq!(out.len(), 1000);
    assert!(q.push(noop_waker()));
    assert_eq!(q.unparker().0.load(Ordering::SeqCst), 2, "after a drain the next push unparks again");
    q.close();
    assert!(!q.push(noop_waker()), "pushes fail once the kernel has shut down");
}

#[test]
fn burst_of_remote_wakes_costs_one_ring_completion() {
    let (completions, polls) = run(async {
        let waker = poll_fn(|cx| Poll::Ready(cx.waker().clone())).await;
        let before = stats().unwrap().driver.cqes;
        // The loop is blocked (joined synchronously) while another thread wakes the root 1000 times,
        // so the kernel cannot drain in between: every wake after the first finds the flag set.
        std::thread::spawn(move || {
            for _ in 0..1000 {
                waker.wake_by_ref();
            }
        })
        .join()
        .unwrap();
        // Pending once, without waking itself: only the remote wakes can get us polled again.
        let mut polls = 0;
        poll_fn(|_| {
            polls += 1;
            if polls == 1 { Poll::Pending } else { Poll::Ready(()) }
        })
        .await;
        (stats().unwrap().driver.cqes - before, polls)
    })
    .unwrap();
    assert_eq!(polls, 2);
    assert_eq!(completions, 1, "the burst cost {completions} ring completions");
}
