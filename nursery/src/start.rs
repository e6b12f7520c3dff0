//! The start handshake (Trio's `nursery.start`): run a child until it reports that it is ready.
//!
//! The child lives in the target nursery from the beginning (the nursery polls it), but until it
//! calls [`TaskStatus::started`] it runs inside a private cancel scope whose node in the
//! cancel-status tree hangs under the *caller's* status, so the caller's cancellation reaches it
//! (Trio runs it in a nursery of the caller). Dropping the `start` call cancels that scope.
//!
//! When the child calls `started` and its private status is not cancelled, the node is moved
//! under the target nursery's status (Trio's re-parenting), together with everything parked
//! under it: from then on only the nursery's scopes apply. The move happens inside `started`
//! (so the child's very next checkpoint sees a cancelled nursery), or, if `started` was called
//! from outside the child's own poll, when the child is next polled. If the private status is
//! cancelled at that moment (the caller was cancelled), the child is not moved (Trio's rule): it
//! stays cancelled, `start` waits for it to finish and returns `Cancelled` (or the value, if the
//! task exited cleanly after all: Trio's `started_with_no_checkpoint`).

use crate::error::{BoxError, StartError};
use quartet_runtime::Reason;
use quartet_runtime::hooks::{Activation, ScopeState, StatusRef};
use std::any::Any;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

pub(crate) enum StartState<V> {
    Waiting,
    /// `started` was called while the caller was cancelled: the child was not moved. Once the
    /// child has finished, `start` reports `Cancelled`, or, if the child exited cleanly, returns
    /// this value (Trio: the task completed successfully).
    Refused(V),
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
    /// Set by `StartScoped` while the child's private status is cancelled: `started` then
    /// refuses to move the child.
    refuse: Cell<bool>,
    /// While `StartScoped` polls the child (and only then, so the position is alive): the
    /// child's private status and the nursery's, for `started` to move the child at once.
    moving: Cell<Option<(StatusRef, StatusRef)>>,
}

impl<V> StartSlot<V> {
    pub fn new() -> Rc<Self> {
        Rc::new(StartSlot {
            scope: ScopeState::new(),
            state: RefCell::new(StartState::Waiting),
            waker: Cell::new(None),
            abandoned: Cell::new(false),
            refuse: Cell::new(false),
            moving: Cell::new(None),
        })
    }

    /// True while the child has not (successfully) called `started`, whether or not anyone
    /// still waits.
    fn waiting(&self) -> bool {
        matches!(*self.state.borrow(), StartState::Waiting | StartState::Refused(_))
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
        *cur = match (std::mem::replace(&mut *cur, StartState::Taken), s) {
            // Refused, then a clean exit: `start` returns the value (Trio `test_nursery_start`).
            (StartState::Refused(v), StartState::Exited) => StartState::Started(v),
            (StartState::Waiting | StartState::Refused(_), s) => s,
            (settled, _) => settled,
        };
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
///
/// # Examples
/// ```
/// use quartet_nursery::*;
/// # quartet_runtime::run(async {
/// use quartet_runtime::net::TcpListener;
/// nursery(async |n| -> Result<(), BoxError> {
///     let addr = n
///         .start(|status: TaskStatus<std::net::SocketAddr>| async move {
///             let listener = TcpListener::bind("127.0.0.1:0".parse()?)?;
///             status.started(listener.local_addr()?); // `start` returns this to the caller
///             Ok::<(), BoxError>(()) // ... then serve until cancelled
///         })
///         .await?;
///     assert_ne!(addr.port(), 0);
///     Ok(())
/// })
/// .await?;
/// # Ok::<(), NurseryError>(()) }).unwrap().unwrap();
/// ```
pub struct TaskStatus<V> {
    slot: Rc<StartSlot<V>>,
}

impl<V> TaskStatus<V> {
    pub(crate) fn new(slot: Rc<StartSlot<V>>) -> Self {
        TaskStatus { slot }
    }

    /// Reports readiness: `start` returns `value`. From now on the task is an ordinary child of
    /// its nursery, and its failures go to the nursery.
    ///
    /// If the caller of `start` has been cancelled meanwhile, the task is not moved into the
    /// nursery (Trio's rule): it stays cancelled, and `start` returns `Cancelled` once the task
    /// has finished, unless the task exits cleanly (`Ok`): then, as in Trio, it completed
    /// successfully and `start` returns `value`.
    ///
    /// ```
    /// use quartet_nursery::*;
    /// # quartet_runtime::run(async {
    /// nursery(async |n| -> Result<(), BoxError> {
    ///     let v = n.start(|status| async move {
    ///         status.started(42u32);
    ///         Ok::<(), BoxError>(())
    ///     })
    ///     .await?;
    ///     assert_eq!(v, 42);
    ///     Ok(())
    /// })
    /// .await?;
    /// # Ok::<(), NurseryError>(()) }).unwrap().unwrap();
    /// ```
    pub fn started(self, value: V) {
        if self.slot.refuse.get() {
            let mut cur = self.slot.state.borrow_mut();
            if matches!(*cur, StartState::Waiting) {
                *cur = StartState::Refused(value);
            }
            return;
        }
        // Trio re-parents inside `started()`: code after it, in the same poll, already runs under
        // the nursery's scopes (a cancelled nursery cancels its next checkpoint).
        if let Some((child, nursery)) = self.slot.moving.take() {
            child.move_under(nursery);
        }
        self.slot.settle(StartState::Started(value));
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
        StartState::Refused(v) => {
            *st = StartState::Refused(v);
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
    /// Polls a child inside its `start` call's private scope: under the caller's status until it
    /// has started, then under the nursery's.
    pub(crate) struct StartScoped<V, F> {
        slot: Rc<StartSlot<V>>,
        #[pin]
        fut: F,
        activation: Activation,
        moved: bool,
    }
}

impl<V, F> StartScoped<V, F> {
    pub fn new(slot: Rc<StartSlot<V>>, caller: StatusRef, fut: F) -> Self {
        let activation = Activation::under(slot.scope.clone(), caller);
        StartScoped { slot, fut, activation, moved: false }
    }
}

impl<V, F: Future> Future for StartScoped<V, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        // The nursery polls its children under its own status: that is where a started child goes.
        let nursery = StatusRef::current();
        let entered = this.activation.enter();
        this.slot.refuse.set(this.activation.effectively_cancelled());
        if !*this.moved {
            this.slot.moving.set(this.activation.status().map(|child| (child, nursery)));
        }
        let clear = ClearMoving(this.slot); // also on unwind: the position is only valid now
        let polled = this.fut.poll(cx);
        drop(clear);
        drop(entered);
        if !*this.moved && matches!(*this.slot.state.borrow(), StartState::Started(_) | StartState::Taken) {
            // Started (and not refused): move under the nursery with everything parked inside.
            *this.moved = true;
            this.activation.move_under(nursery);
        }
        polled
    }
}

/// Clears [`StartSlot::moving`] when the child's poll ends, however it ends.
struct ClearMoving<'a, V>(&'a StartSlot<V>);

impl<V> Drop for ClearMoving<'_, V> {
    fn drop(&mut self) {
        self.0.moving.set(None);
    }
}
