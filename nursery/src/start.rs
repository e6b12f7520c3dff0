//! The start handshake (Trio's `nursery.start`): run a child until it reports that it is ready.
//!
//! The child lives in the target nursery from the beginning, but until it calls
//! [`TaskStatus::started`] it is also inside a private cancel scope that the `start` call cancels
//! when its caller is cancelled (or drops the call). Once started, that scope no longer applies:
//! like Trio's re-parenting, the child is then an ordinary child of the nursery, cancelled only by
//! the nursery's own scopes, even if the `start` call had been cancelled before.

use crate::error::{BoxError, StartError};
use quartet_runtime::Reason;
use quartet_runtime::cancel::{self, ScopeState};
use quartet_runtime::sync::Arc;
use std::any::Any;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

pub(crate) enum StartState<V> {
    Waiting,
    Started(V),
    Failed(BoxError),
    Panicked(Box<dyn Any + Send>),
    Exited,
    Taken,
}

pub(crate) struct StartSlot<V> {
    /// The `start` call's private scope around the child until it has started.
    pub scope: Arc<ScopeState>,
    pub state: RefCell<StartState<V>>,
    pub waker: Cell<Option<Waker>>,
    /// Set when the `start` future is dropped before the child started: nobody will collect the
    /// child's outcome, so its failures go to the nursery like any child's.
    abandoned: Cell<bool>,
}

impl<V> StartSlot<V> {
    pub fn new() -> Rc<Self> {
        Rc::new(StartSlot {
            scope: ScopeState::new(),
            state: RefCell::new(StartState::Waiting),
            waker: Cell::new(None),
            abandoned: Cell::new(false),
        })
    }

    /// True while the child has not called `started` (whether or not anyone still waits).
    fn waiting(&self) -> bool {
        matches!(*self.state.borrow(), StartState::Waiting)
    }

    /// The caller of `start` stopped waiting: the child's outcome now goes to the nursery, and the
    /// child is cancelled unless it has started.
    pub fn abandon(&self) {
        self.abandoned.set(true);
        if self.waiting() {
            self.scope.cancel(Reason::Other("the start() call was dropped".into()));
        }
    }

    fn settle(&self, s: StartState<V>) {
        let mut cur = self.state.borrow_mut();
        if matches!(*cur, StartState::Waiting) {
            *cur = s;
        }
        drop(cur);
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }
}

/// What the nursery does with a `start`ed child's outcome before it called `started`.
pub(crate) trait StartSink {
    /// True while the child has not called `started` and `start`'s caller still waits: its
    /// failures belong to that caller.
    fn pending(&self) -> bool;
    fn failed(&self, e: BoxError);
    fn panicked(&self, p: Box<dyn Any + Send>);
    fn exited(&self);
}

impl<V> StartSink for StartSlot<V> {
    fn pending(&self) -> bool {
        self.waiting() && !self.abandoned.get()
    }
    fn failed(&self, e: BoxError) {
        self.settle(StartState::Failed(e))
    }
    fn panicked(&self, p: Box<dyn Any + Send>) {
        self.settle(StartState::Panicked(p))
    }
    fn exited(&self) {
        self.settle(StartState::Exited)
    }
}

/// Given to a task started with [`Nursery::start`](crate::Nursery::start); call
/// [`started`](TaskStatus::started) once the task is ready.
pub struct TaskStatus<V> {
    slot: Rc<StartSlot<V>>,
}

impl<V> TaskStatus<V> {
    pub(crate) fn new(slot: Rc<StartSlot<V>>) -> Self {
        TaskStatus { slot }
    }

    /// Reports readiness: `start` returns `value`. From now on the task is an ordinary child of
    /// its nursery, and its failures go to the nursery.
    pub fn started(self, value: V) {
        self.slot.settle(StartState::Started(value));
        // From here on only the nursery's scopes apply, even for the rest of the current poll.
        self.slot.scope.uncancel();
    }
}

impl<V> fmt::Debug for TaskStatus<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskStatus").finish_non_exhaustive()
    }
}

pub(crate) fn take<V>(slot: &StartSlot<V>) -> Option<Result<V, StartError>> {
    let mut st = slot.state.borrow_mut();
    match std::mem::replace(&mut *st, StartState::Taken) {
        StartState::Waiting => {
            *st = StartState::Waiting;
            None
        }
        StartState::Started(v) => Some(Ok(v)),
        StartState::Failed(e) => Some(Err(StartError::Failed(e))),
        StartState::Exited => Some(Err(StartError::ExitedWithoutStarting)),
        StartState::Panicked(p) => {
            drop(st);
            std::panic::resume_unwind(p)
        }
        StartState::Taken => Some(Err(StartError::ExitedWithoutStarting)),
    }
}

pin_project_lite::pin_project! {
    /// Polls a child inside its `start` call's private scope until it calls `started`.
    pub(crate) struct StartScoped<V, F> {
        slot: Rc<StartSlot<V>>,
        #[pin]
        fut: F,
    }
}

impl<V, F> StartScoped<V, F> {
    pub fn new(slot: Rc<StartSlot<V>>, fut: F) -> Self {
        StartScoped { slot, fut }
    }
}

impl<V, F: Future> Future for StartScoped<V, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        if !this.slot.waiting() {
            return this.fut.poll(cx);
        }
        let _entered = cancel::enter(&this.slot.scope);
        this.slot.scope.register(cx.waker());
        this.fut.poll(cx)
    }
}
