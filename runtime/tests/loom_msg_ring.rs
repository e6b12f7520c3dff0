//! loom: cross-core wake-ups over MSG_RING (`wake/msg_ring.rs`), through the real remote queue,
//! the real `CoreUnpark` (its ring slot and eventfd) and the real sender's `Outbox`. A model
//! thread that calls `enter_model_sender` queues its unparks as MSG_RINGs, as a kernel thread
//! does; `ModelSender::submit` plays its `io_uring_enter` (the model kernel posts the wake into
//! the target, or fails it) and the reaping of the completions; dropping it closes its ring. The
//! target's ring is the eventfd's model counter: a MSG_RING completion and the eventfd read both
//! make it non-zero, and `read_blocking` is the target's park, entered through
//! `flags().block(..)` as the driver does (a sender unparks only a blocked target).
#![cfg(loom)]

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;
use quartet_runtime::RemoteQueue;
use quartet_runtime::model::{CoreUnpark, EventFd, ModelSender, RingTarget, enter_model_sender};
use std::sync::atomic::{AtomicBool as StdBool, Ordering as StdOrdering};
use std::task::{Wake, Waker};

/// A waker that counts how often the target kernel re-woke it.
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

/// A target kernel whose ring takes MSG_RING wakes; the flag reads true once the dup is closed.
fn target() -> (Arc<RemoteQueue<CoreUnpark>>, Arc<loom::sync::atomic::AtomicBool>) {
    let eventfd = Arc::new(EventFd::new().unwrap());
    let (ring, closed) = RingTarget::for_model(eventfd.clone());
    (RemoteQueue::new(CoreUnpark::new(eventfd, Some(ring))), closed)
}

/// The target kernel's loop reduced to the wake path: drain, run, park until a wake CQE (unless a
/// wake is already queued).
fn target_loop(q: &RemoteQueue<CoreUnpark>, want: usize) {
    let mut got = Vec::new();
    let mut seen = 0;
    loop {
        q.drain(&mut got);
        seen += got.len();
        got.drain(..).for_each(Waker::wake);
        if seen >= want {
            return;
        }
        q.flags().block(|| q.unparker().eventfd().read_blocking());
    }
}

static SENT_OPEN: StdBool = StdBool::new(false);
static REFUSED: StdBool = StdBool::new(false);

/// Bug guarded (RF1): a MSG_RING queued before the target shut down is submitted after its ring
/// fd was closed, when the number may name another file. A sender kernel wakes the target while
/// the target closes its queue; the model kernel panics if a message names a closed fd. Once both
/// are done the dup must be closed (no fd leak). The target starts blocked in its ring (a wake to
/// an awake target sends no message, RW1) and wakes for another reason before it closes, so a
/// push before that wake queues a MSG_RING.
#[test]
fn wake_queued_as_the_target_closes_never_names_a_closed_fd() {
    loom::model(|| {
        let (q, closed) = target();
        assert!(q.flags().prepare_block(), "nothing queued yet: the target blocks");
        let (w, _count) = counted();
        let q2 = q.clone();
        let sender = thread::spawn(move || {
            let s = enter_model_sender();
            let pushed = q2.push(w);
            s.submit(RingTarget::model_deliver);
            pushed
        });
        q.flags().woke();
        drop(q.close());
        let pushed = sender.join().unwrap();
        assert!(closed.load(Ordering::SeqCst), "the ring's dup was never closed");
        if pushed { &SENT_OPEN } else { &REFUSED }.store(true, StdOrdering::SeqCst);
    });
    assert!(SENT_OPEN.load(StdOrdering::SeqCst), "wake-before-close never explored");
    assert!(REFUSED.load(StdOrdering::SeqCst), "close-before-wake never explored");
}

/// A sender kernel (doing `kernel` after its push: submit, fail, or close its ring) and a plain
/// thread wake the same task of the target while the target drains and parks; the target must
/// see both wakes.
fn kernel_and_plain_thread_wake_the_parked_target(kernel: fn(ModelSender)) {
    let (q, _closed) = target();
    let (w, count) = counted();
    let (q1, w1) = (q.clone(), w.clone());
    let sender = thread::spawn(move || {
        let s = enter_model_sender();
        assert!(q1.push(w1));
        kernel(s);
    });
    let (q2, w2) = (q.clone(), w);
    let plain = thread::spawn(move || assert!(q2.push(w2)));
    target_loop(&q, 2);
    sender.join().unwrap();
    plain.join().unwrap();
    assert_eq!(count.load(Ordering::SeqCst), 2);
}

/// Bug guarded: a wake that a sender kernel and a plain thread both push, coalesced into the
/// sender's one MSG_RING, is lost or duplicated; the target parks forever. (The MSG_RING path of
/// `loom_remote_wake.rs`'s `wake_while_parking`.)
#[test]
fn msg_ring_wake_and_eventfd_wake_race_the_target_parking() {
    loom::model(|| kernel_and_plain_thread_wake_the_parked_target(|s| s.submit(RingTarget::model_deliver)));
}

/// Bug guarded (RF2): a MSG_RING that fails (`-EOVERFLOW`: the target's CQ is full) is not
/// replaced by the eventfd write, so its wake, and the plain thread's wake coalesced behind it,
/// never reach the parked target.
#[test]
fn failed_msg_ring_falls_back_to_the_eventfd() {
    loom::model(|| kernel_and_plain_thread_wake_the_parked_target(|s| s.submit(|_| -libc::EOVERFLOW)));
}

/// Bug guarded (RF3): the sender's ring closes (its runtime ends) with a MSG_RING queued and never
/// submitted; the message is dropped, and with it the wakes coalesced behind it: the target parks
/// forever.
#[test]
fn coalesced_wake_survives_the_senders_ring_closing_before_submit() {
    loom::model(|| kernel_and_plain_thread_wake_the_parked_target(drop));
}
