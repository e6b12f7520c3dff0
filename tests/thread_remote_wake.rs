//! Cross-thread wake-ups: a waker woken on another thread wakes the loop, a burst of remote wakes
//! is coalesced into one unpark, and a kernel that is awake (not blocked in its ring) is sent no
//! unpark at all: it finds the wakes in its queue itself.

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
fn burst_of_remote_pushes_unparks_a_blocked_kernel_once_until_drained() {
    let q = RemoteQueue::new(CountingUnpark::default());
    assert!(q.flags().prepare_block(), "nothing queued: the kernel may block");
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
    assert!(!q.flags().prepare_block(), "a kernel with a wake queued must not block");
    q.flags().woke();
    q.close();
    assert!(!q.push(noop_waker()), "pushes fail once the kernel has shut down");
}

#[test]
fn pushes_to_an_awake_kernel_send_no_unpark_and_are_seen_before_it_blocks() {
    let q = RemoteQueue::new(CountingUnpark::default());
    let mut out = Vec::new();
    for round in 1..=3 {
        assert!(q.push(noop_waker()));
        assert_eq!(q.unparker().0.load(Ordering::SeqCst), 0, "round {round}: the kernel is awake");
        assert!(q.flags().pending(), "round {round}: the run loop sees the wake");
        // The kernel about to block sees it too, and drains instead.
        assert_eq!(q.flags().block(|| unreachable!("blocked with a wake queued")), None);
        q.drain(&mut out);
        assert_eq!(out.len(), round);
        assert!(!q.flags().pending());
    }
    // Blocked (inside `block`'s wait), it is unparked.
    let q2 = q.clone();
    let blocked = q.flags().block(|| {
        std::thread::spawn(move || assert!(q2.push(noop_waker()))).join().unwrap();
        q.unparker().0.load(Ordering::SeqCst)
    });
    assert_eq!(blocked, Some(1), "a push to a blocked kernel unparks it");
    assert!(q.flags().pending());
}

#[test]
fn burst_of_remote_wakes_to_an_awake_kernel_costs_no_ring_completion() {
    let (completions, polls) = run(async {
        let waker = poll_fn(|cx| Poll::Ready(cx.waker().clone())).await;
        let before = stats().unwrap().driver.cqes;
        // The loop is busy in this poll (joined synchronously) while another thread wakes the root
        // 1000 times: the kernel is awake, so no wake unparks it, and it cannot drain in between:
        // every wake after the first finds the flag set.
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
    assert_eq!(completions, 0, "the burst cost {completions} ring completions; the kernel was awake");
}
