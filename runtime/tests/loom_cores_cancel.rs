//! loom: cancellation across cores (`quartet::PerCore`'s group scope, `CoreNursery`'s scope). One
//! `ScopeState` is activated on two kernel threads; a body on one of them fails and cancels the
//! scope from its own thread. The canceller's own activation is walked there (it is local), and
//! the other core's activation must get a walk request: its parked wait ends with the reason.
//! The remote-wake path is replaced by a model sink, as in `loom_cancel_scope.rs`.
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

/// A core's inbox: walk requests from other cores, and the core's waker.
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

/// A core's body: a wait parked inside its activation of `scope`, until a cancel ends it.
fn parked_until_cancelled(scope: &Arc<ScopeState>, sink: &Arc<ModelSink>) -> (Reason, usize) {
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
    (c.reason().clone(), polls)
}

static PARKED_THEN_ABORTED: StdBool = StdBool::new(false);
static REFUSED_AT_PARK: StdBool = StdBool::new(false);

/// Bug guarded (S2 across cores): a core that cancels the group from its own thread walks its own
/// activation and forgets to request the walk of the other cores' activations, whose waits then
/// sleep forever. Both cores' waits must end with the failing core's reason.
#[test]
fn group_cancel_from_one_core_reaches_the_other_cores_parked_wait() {
    loom::model(|| {
        let group = ScopeState::new();
        let g1 = group.clone();
        let core1 = thread::spawn(move || {
            let sink = ModelSink::new();
            let mut activation = Activation::with_sink(g1.clone(), sink.clone());
            let entered = activation.enter(); // core 1's body runs in the group scope...
            g1.cancel(Reason::SiblingFailed("core 1 failed".into())); // ...and fails
            assert!(cancel::current().is_some(), "the canceller's own activation is walked at once");
            drop(entered);
        });
        let (reason, polls) = parked_until_cancelled(&group, &ModelSink::new());
        assert_eq!(reason, Reason::SiblingFailed("core 1 failed".into()));
        core1.join().unwrap();
        (if polls == 1 { &REFUSED_AT_PARK } else { &PARKED_THEN_ABORTED }).store(true, StdOrdering::SeqCst);
    });
    assert!(
        PARKED_THEN_ABORTED.load(StdOrdering::SeqCst) && REFUSED_AT_PARK.load(StdOrdering::SeqCst),
        "both outcomes must be explored"
    );
}
