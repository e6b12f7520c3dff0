//! loom: `CapacityLimiter` accounting across threads: releases on worker threads racing acquires,
//! total changes, and cancellation racing a token hand-off. Every model ends by checking that no
//! token leaked (borrowed == 0 once everything is dropped).
#![cfg(loom)]

use loom::future::block_on;
use loom::thread;
use quartet_runtime::cancel::{self, Activation, CancelSink, ScopeState};
use quartet_runtime::thread::CapacityLimiter;
use quartet_runtime::{Cancelled, Reason};
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicBool as StdBool, Ordering as StdOrdering};
use std::task::Context;

/// The owner thread's inbox for walk requests from other threads (the kernel's remote-wake path
/// in production).
struct ModelSink {
    owner: u64,
    inbox: loom::sync::Mutex<(Vec<std::sync::Arc<ScopeState>>, Option<std::task::Waker>)>,
}

impl CancelSink for ModelSink {
    fn owner(&self) -> u64 {
        self.owner
    }

    fn request_walk(&self, state: std::sync::Arc<ScopeState>) {
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

/// Polls `fut` inside `scope` (what `CancelScope::run` does), delivering cancels from other
/// threads through a model sink.
async fn in_scope<F: Future>(scope: &std::sync::Arc<ScopeState>, fut: F) -> F::Output {
    let sink = std::sync::Arc::new(ModelSink {
        owner: cancel::thread_owner_id(),
        inbox: loom::sync::Mutex::new((Vec::new(), None)),
    });
    let mut activation = Activation::with_sink(scope.clone(), sink.clone());
    let mut fut = pin!(fut);
    std::future::poll_fn(|cx: &mut Context<'_>| {
        let queued = {
            let mut inbox = sink.inbox.lock().unwrap();
            inbox.1 = Some(cx.waker().clone());
            std::mem::take(&mut inbox.0)
        };
        queued.iter().for_each(cancel::deliver);
        let _entered = activation.enter();
        fut.as_mut().poll(cx)
    })
    .await
}

fn explored(flag: &StdBool) {
    flag.store(true, StdOrdering::SeqCst);
}

fn was(flag: &StdBool) -> bool {
    flag.load(StdOrdering::SeqCst)
}

/// Bug guarded: a token released on another thread between an acquire's check and its enqueue is
/// never handed to it (the waiter sleeps forever with a free token).
#[test]
fn release_on_worker_races_acquire() {
    loom::model(|| {
        let limiter = CapacityLimiter::new(1);
        let held = limiter.try_acquire().unwrap();
        let t = thread::spawn(move || drop(held));
        let token = block_on(limiter.acquire()).unwrap();
        let s = limiter.stats();
        assert_eq!((s.borrowed, s.waiting), (1, 0));
        drop(token);
        t.join().unwrap();
        assert_eq!(limiter.borrowed(), 0);
    });
}

/// Bug guarded: raising the total while a release hands off its token over-lends or strands a
/// waiter. Two waiters; one thread releases, another raises the total to 2: both get a token.
#[test]
fn set_total_races_release() {
    loom::model(|| {
        let limiter = CapacityLimiter::new(1);
        let held = limiter.try_acquire().unwrap();
        let l2 = limiter.clone();
        let releaser = thread::spawn(move || drop(held));
        let raiser = thread::spawn(move || l2.set_total(2));
        let a = block_on(limiter.acquire()).unwrap();
        let b = block_on(limiter.acquire()).unwrap();
        assert!(limiter.borrowed() <= 2);
        drop((a, b));
        releaser.join().unwrap();
        raiser.join().unwrap();
        let s = limiter.stats();
        assert_eq!((s.borrowed, s.total, s.waiting), (0, 2, 0));
    });
}

static GOT_TOKEN: StdBool = StdBool::new(false);
static GOT_CANCEL: StdBool = StdBool::new(false);

/// Bug guarded: a token handed to a waiter that is being cancelled is lost (neither returned by
/// the acquire nor given back). A holder releases on one thread while another cancels the waiter.
#[test]
fn cancel_races_token_hand_off() {
    loom::model(|| {
        let limiter = CapacityLimiter::new(1);
        let held = limiter.try_acquire().unwrap();
        let scope = ScopeState::new();
        let s2 = scope.clone();
        let releaser = thread::spawn(move || drop(held));
        let canceller = thread::spawn(move || s2.cancel(Reason::Explicit));
        let out: Result<_, Cancelled> = block_on(in_scope(&scope, limiter.acquire()));
        match &out {
            Ok(_) => explored(&GOT_TOKEN),
            Err(c) => {
                assert_eq!(c.reason(), &Reason::Explicit);
                explored(&GOT_CANCEL);
            }
        }
        drop(out);
        releaser.join().unwrap();
        canceller.join().unwrap();
        let s = limiter.stats();
        assert_eq!((s.borrowed, s.waiting), (0, 0), "no token leaked");
        assert!(limiter.try_acquire().is_ok());
    });
    assert!(was(&GOT_TOKEN) && was(&GOT_CANCEL), "both outcomes must be explored");
}

/// Bug guarded: a waiter dropped (not polled again) after being handed a token keeps it forever.
#[test]
fn waiter_dropped_as_token_arrives() {
    loom::model(|| {
        let limiter = CapacityLimiter::new(1);
        let held = limiter.try_acquire().unwrap();
        let mut acquire = limiter.acquire();
        let waker = futures_noop();
        let first = Pin::new(&mut acquire).poll(&mut Context::from_waker(&waker));
        assert!(first.is_pending());
        let t = thread::spawn(move || drop(held));
        drop(acquire);
        t.join().unwrap();
        assert_eq!(limiter.borrowed(), 0);
        assert!(limiter.try_acquire().is_ok());
    });
}

fn futures_noop() -> std::task::Waker {
    struct Noop;
    impl std::task::Wake for Noop {
        fn wake(self: std::sync::Arc<Self>) {}
    }
    std::task::Waker::from(std::sync::Arc::new(Noop))
}
