//! loom: cancelling a cancel scope (`ScopeState`) from another thread while the kernel thread
//! registers its waker, checks the state, and creates or finishes child scopes.
#![cfg(loom)]

use loom::future::block_on;
use loom::thread;
use quartet_runtime::Reason;
use quartet_runtime::cancel::{self, ScopeState};
use std::future::poll_fn;
use std::sync::atomic::{AtomicBool as StdBool, Ordering as StdOrdering};
use std::task::Poll;
use std::time::{Duration, Instant};

fn explored(flag: &StdBool) {
    flag.store(true, StdOrdering::SeqCst);
}

fn was(flag: &StdBool) -> bool {
    flag.load(StdOrdering::SeqCst)
}

static SEEN_AT_ONCE: StdBool = StdBool::new(false);
static SEEN_AFTER_WAKE: StdBool = StdBool::new(false);

/// Bug guarded: a cancel that lands between the owner's check and its next registration is lost
/// (the task sleeps forever in a cancelled scope). Register-then-check must see it or be woken.
#[test]
fn cancel_races_register() {
    loom::model(|| {
        let scope = ScopeState::new();
        let s2 = scope.clone();
        let t = thread::spawn(move || s2.cancel(Reason::Explicit));
        let mut polls = 0;
        block_on(poll_fn(|cx| {
            polls += 1;
            scope.register(cx.waker());
            if scope.cancel_called() { Poll::Ready(()) } else { Poll::Pending }
        }));
        explored(if polls == 1 { &SEEN_AT_ONCE } else { &SEEN_AFTER_WAKE });
        assert_eq!(scope.reason(), Some(Reason::Explicit));
        t.join().unwrap();
    });
    assert!(was(&SEEN_AT_ONCE) && was(&SEEN_AFTER_WAKE), "both outcomes must be explored");
}

static CHILD_SAW_IT: StdBool = StdBool::new(false);
static CHILD_FINISHED_FIRST: StdBool = StdBool::new(false);

/// Bug guarded: a parent scope cancelled from another thread while the kernel creates a child
/// scope (spawn) and drops it again (the child finishes) is missed by the parent's task. The
/// parent task polls the child inside the parent's scope; the child sees the cancel through the
/// stack, or finishes first and the parent sees it after the wake.
#[test]
fn cancel_races_child_spawn() {
    loom::model(|| {
        let parent = ScopeState::new();
        let p2 = parent.clone();
        let t = thread::spawn(move || p2.cancel(Reason::Signal));
        let mut child = None;
        let mut child_done = false;
        let mut child_saw = false;
        block_on(poll_fn(|cx| {
            parent.register(cx.waker());
            let _in_parent = cancel::enter(&parent);
            if !child_done {
                let c = child.get_or_insert_with(ScopeState::new); // spawn
                c.register(cx.waker());
                let _in_child = cancel::enter(c);
                if let Some(cancelled) = cancel::current() {
                    assert_eq!(cancelled.reason(), &Reason::Signal);
                    child_saw = true;
                }
                child_done = true; // the child finishes after one poll either way
                child = None;
            }
            match cancel::current() {
                Some(_) => Poll::Ready(()),
                None => Poll::Pending,
            }
        }));
        explored(if child_saw { &CHILD_SAW_IT } else { &CHILD_FINISHED_FIRST });
        assert!(cancel::current().is_none(), "the stack is empty outside the scopes");
        t.join().unwrap();
    });
    assert!(was(&CHILD_SAW_IT) && was(&CHILD_FINISHED_FIRST), "both outcomes must be explored");
}

/// Bug guarded: two threads cancelling with different reasons leave the scope with no reason or
/// a reason that changes after it was read. The first reason wins and stays.
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

/// Bug guarded: a deadline set from another thread does not wake the owner, which keeps
/// sleeping past it (no timer is armed for a deadline it never saw).
#[test]
fn deadline_set_from_another_thread_wakes_owner() {
    loom::model(|| {
        let scope = ScopeState::new();
        let s2 = scope.clone();
        let past = Instant::now().checked_sub(Duration::from_millis(1)).unwrap_or_else(Instant::now);
        let t = thread::spawn(move || s2.set_deadline(Some(past)));
        block_on(poll_fn(|cx| {
            scope.register(cx.waker());
            if scope.cancel_called() { Poll::Ready(()) } else { Poll::Pending }
        }));
        assert_eq!(scope.reason(), Some(Reason::Deadline));
        t.join().unwrap();
    });
}
