//! loom: cancel delivery across threads (`runtime/src/cancel`): a scope cancelled, un-shielded or
//! given a deadline on one thread while its owner attaches an activation, parks a wait on it, or
//! finishes. The owner side runs the library's real tree, activation and park code; the kernel's
//! remote-wake path is replaced by a model sink (a loom mutex and the owner's waker), as the
//! `CancelSink` trait allows.
#![cfg(loom)]

use loom::future::block_on;
use loom::sync::Mutex;
use loom::thread;
use quartet_runtime::Reason;
use quartet_runtime::cancel::{self, Activation, CancelSink, Park, ScopeState};
use std::future::poll_fn;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool as StdBool, Ordering as StdOrdering};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

fn explored(flag: &StdBool) {
    flag.store(true, StdOrdering::SeqCst);
}

fn was(flag: &StdBool) -> bool {
    flag.load(StdOrdering::SeqCst)
}

/// The owner thread's inbox: walk requests from other threads, and the owner's waker.
struct ModelSink {
    owner: u64,
    inbox: Mutex<(Vec<Arc<ScopeState>>, Option<Waker>)>,
}

impl CancelSink for ModelSink {
    fn owner(&self) -> u64 {
        self.owner
    }

    fn request_walk(&self, state: Arc<ScopeState>) {
        let waker = {
            let mut inbox = self.inbox.lock().unwrap();
            inbox.0.push(state);
            inbox.1.clone()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl ModelSink {
    fn new() -> Arc<ModelSink> {
        Arc::new(ModelSink { owner: cancel::thread_owner_id(), inbox: Mutex::new((Vec::new(), None)) })
    }

    /// Owner side, at the start of each poll: register the waker, then run queued walks.
    fn drain(&self, waker: &Waker) {
        let queued = {
            let mut inbox = self.inbox.lock().unwrap();
            inbox.1 = Some(waker.clone());
            std::mem::take(&mut inbox.0)
        };
        for state in queued {
            cancel::deliver(&state);
        }
    }
}

static SAW_FLAG: StdBool = StdBool::new(false);
static GOT_REQUEST: StdBool = StdBool::new(false);

/// Bug guarded (S2): an activation that attaches while another thread cancels its scope misses
/// the cancel: it read the flag before the cancel set it, and the canceller did not see the
/// activation yet. Register first, then read: one of the two must happen.
#[test]
fn cancel_races_activation_attach() {
    loom::model(|| {
        let scope = ScopeState::new();
        let s2 = scope.clone();
        let sink = ModelSink::new();
        let t = thread::spawn(move || s2.cancel(Reason::Explicit));
        let _watch = scope.watch(sink.owner, Some(sink.clone() as Arc<dyn CancelSink>), 0);
        let saw = scope.cancel_flag();
        t.join().unwrap();
        let requested = !sink.inbox.lock().unwrap().0.is_empty();
        assert!(saw || requested, "the cancel was lost");
        explored(if saw { &SAW_FLAG } else { &GOT_REQUEST });
    });
    assert!(was(&SAW_FLAG) && was(&GOT_REQUEST), "both outcomes must be explored");
}

static PARKED_THEN_ABORTED: StdBool = StdBool::new(false);
static REFUSED_AT_PARK: StdBool = StdBool::new(false);

/// Bug guarded (C1, C2, P1): a wait parked inside a scope that another thread cancels sleeps
/// forever: the walk request is lost, or the walk misses the parked leaf, or a leaf parking after
/// the walk is not refused. The wait must end with the scope's `Cancelled`.
#[test]
fn cancel_from_another_thread_reaches_a_parked_wait() {
    loom::model(|| {
        let scope = ScopeState::new();
        let s2 = scope.clone();
        let sink = ModelSink::new();
        let t = thread::spawn(move || s2.cancel(Reason::Signal));
        let mut activation = Activation::with_sink(scope.clone(), sink.clone());
        let mut park = Park::new();
        let mut polls = 0;
        let c = block_on(poll_fn(|cx| {
            polls += 1;
            sink.drain(cx.waker());
            let _in = activation.enter();
            match park.park(cx) {
                Err(c) => Poll::Ready(c),
                Ok(()) => Poll::Pending,
            }
        }));
        assert_eq!(c.reason(), &Reason::Signal);
        explored(if polls == 1 { &REFUSED_AT_PARK } else { &PARKED_THEN_ABORTED });
        t.join().unwrap();
    });
    assert!(was(&PARKED_THEN_ABORTED) && was(&REFUSED_AT_PARK), "both outcomes must be explored");
}

/// Bug guarded (S1): two threads cancelling with different reasons leave the scope with no reason
/// or a reason that changes after it was read. The first reason wins and stays.
#[test]
fn concurrent_cancels_keep_the_first_reason() {
    loom::model(|| {
        let scope = ScopeState::new();
        let (a, b) = (scope.clone(), scope.clone());
        let ta = thread::spawn(move || a.cancel(Reason::Explicit));
        let tb = thread::spawn(move || b.cancel(Reason::Deadline));
        let early = scope.reason();
        ta.join().unwrap();
        tb.join().unwrap();
        let late = scope.reason().expect("cancelled");
        assert!(late == Reason::Explicit || late == Reason::Deadline);
        if let Some(early) = early {
            assert_eq!(early, late, "the reason never changes once set");
        }
    });
}

/// Bug guarded (A4, S2): a deadline set from another thread is never noticed by the owner, which
/// keeps its wait parked past it. A deadline in the past must end the wait with `Deadline`.
#[test]
fn deadline_set_from_another_thread_reaches_a_parked_wait() {
    loom::model(|| {
        let scope = ScopeState::new();
        let s2 = scope.clone();
        let sink = ModelSink::new();
        let past = Instant::now().checked_sub(Duration::from_millis(1)).unwrap_or_else(Instant::now);
        let t = thread::spawn(move || s2.set_deadline(Some(past)));
        let mut activation = Activation::with_sink(scope.clone(), sink.clone());
        let mut park = Park::new();
        let c = block_on(poll_fn(|cx| {
            sink.drain(cx.waker());
            let _in = activation.enter();
            match park.park(cx) {
                Err(c) => Poll::Ready(c),
                Ok(()) => Poll::Pending,
            }
        }));
        assert_eq!(c.reason(), &Reason::Deadline);
        assert!(scope.cancel_flag(), "an expired deadline is a permanent cancellation");
        t.join().unwrap();
    });
}

static UNSHIELDED_AT_ONCE: StdBool = StdBool::new(false);
static UNSHIELDED_LATER: StdBool = StdBool::new(false);

/// Bug guarded (T2): a shield taken down from another thread inside a cancelled outer scope does
/// not deliver the outer cancellation to the wait parked under the shield.
#[test]
fn unshield_from_another_thread_delivers_the_outer_cancel() {
    loom::model(|| {
        let outer = ScopeState::new();
        let inner = ScopeState::new();
        let sink = ModelSink::new();
        inner.set_shield(true);
        outer.cancel(Reason::Explicit);
        let i2 = inner.clone();
        let t = thread::spawn(move || i2.set_shield(false));
        let mut outer_act = Activation::with_sink(outer.clone(), sink.clone());
        let mut inner_act = Activation::with_sink(inner.clone(), sink.clone());
        let mut park = Park::new();
        let mut polls = 0;
        let c = block_on(poll_fn(|cx| {
            polls += 1;
            sink.drain(cx.waker());
            let _o = outer_act.enter();
            let _i = inner_act.enter();
            match park.park(cx) {
                Err(c) => Poll::Ready(c),
                Ok(()) => Poll::Pending,
            }
        }));
        assert_eq!(c.reason(), &Reason::Explicit);
        explored(if polls == 1 { &UNSHIELDED_AT_ONCE } else { &UNSHIELDED_LATER });
        t.join().unwrap();
    });
    assert!(was(&UNSHIELDED_AT_ONCE) && was(&UNSHIELDED_LATER), "both outcomes must be explored");
}

/// Bug guarded (T3, C3): the walk marks the nodes cancelled but never aborts the leaves parked on
/// them, so a wait whose task is not polled for another reason sleeps forever. Here the kernel
/// (this thread) runs the walk requested by another thread outside the task's poll, as the real
/// kernel does from its remote queue: only the abort can wake the task.
#[test]
fn walk_requested_by_another_thread_wakes_the_parked_task() {
    loom::model(|| {
        let scope = ScopeState::new();
        let s2 = scope.clone();
        let sink = ModelSink::new();
        let mut activation = Activation::with_sink(scope.clone(), sink.clone());
        let mut park = Park::new();
        let woken = std::sync::Arc::new(StdBool::new(false));
        let task_waker = Waker::from(std::sync::Arc::new(FlagWake(woken.clone())));
        let cx = std::task::Context::from_waker(&task_waker);
        {
            let _in = activation.enter();
            assert!(park.park(&cx).is_ok(), "not cancelled yet: parks");
        }
        let t = thread::spawn(move || s2.cancel(Reason::Explicit));
        t.join().unwrap();
        // The kernel's turn: run the queued walk requests (none of them is the task's waker).
        let queued = std::mem::take(&mut sink.inbox.lock().unwrap().0);
        queued.iter().for_each(cancel::deliver);
        assert!(woken.load(StdOrdering::SeqCst), "the abort must wake the parked task");
        let _in = activation.enter();
        assert_eq!(park.park(&cx).unwrap_err().reason(), &Reason::Explicit);
    });
}

struct FlagWake(std::sync::Arc<StdBool>);

impl std::task::Wake for FlagWake {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.store(true, StdOrdering::SeqCst);
    }
}
