//! The start handshake (Trio's `nursery.start`): run a child until it reports that it is ready.

use crate::error::{BoxError, StartError};
use std::any::Any;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;
use std::task::Waker;

pub(crate) enum StartState<V> {
    Waiting,
    Started(V),
    Failed(BoxError),
    Panicked(Box<dyn Any + Send>),
    Exited,
    Taken,
}

pub(crate) struct StartSlot<V> {
    pub state: RefCell<StartState<V>>,
    pub waker: Cell<Option<Waker>>,
}

impl<V> StartSlot<V> {
    pub fn new() -> Rc<Self> {
        Rc::new(StartSlot { state: RefCell::new(StartState::Waiting), waker: Cell::new(None) })
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
    /// True while the child has not called `started`: its failures belong to `start`'s caller.
    fn pending(&self) -> bool;
    fn failed(&self, e: BoxError);
    fn panicked(&self, p: Box<dyn Any + Send>);
    fn exited(&self);
}

impl<V> StartSink for StartSlot<V> {
    fn pending(&self) -> bool {
        matches!(*self.state.borrow(), StartState::Waiting)
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
