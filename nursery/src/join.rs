//! Per-child results.

use crate::error::JoinError;
use crate::nursery::JoinSide;
use quartet_runtime::cancel;
use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// How a child ended, as its handle will report it: `JoinError` without the awaiter's own
/// `Cancelled`, so the state is the size of the value plus a tag (a `Cancelled` would add ~32
/// bytes to every child).
pub(crate) enum Ended<T> {
    Value(T),
    Failed,
    Panicked,
    ChildCancelled,
    Dropped,
}

impl<T> Ended<T> {
    fn into_result(self) -> Result<T, JoinError> {
        match self {
            Ended::Value(v) => Ok(v),
            Ended::Failed => Err(JoinError::Failed),
            Ended::Panicked => Err(JoinError::Panicked),
            Ended::ChildCancelled => Err(JoinError::ChildCancelled),
            Ended::Dropped => Err(JoinError::Dropped),
        }
    }
}

/// The join state of one child: its result (written once, C3) and the waker of the task awaiting
/// it. Lives in the child's task cell (`nursery/cell.rs`).
pub(crate) struct Slot<T> {
    /// A `Cell`, not a `RefCell`: 8 bytes less in every task cell; the value is only ever
    /// moved in and out, never borrowed.
    result: Cell<Option<Ended<T>>>,
    waker: Cell<Option<Waker>>,
}

impl<T> Slot<T> {
    pub fn new() -> Slot<T> {
        Slot { result: Cell::new(None), waker: Cell::new(None) }
    }

    /// Records how the child ended, unless that is already known; wakes the awaiting task.
    pub fn set(&self, ended: Ended<T>) {
        match self.result.take() {
            None => self.result.set(Some(ended)),
            // Already known: the first one stays (`ended` is dropped after it is back).
            first => self.result.set(first),
        }
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }
}

/// The result of one child, awaitable inside (or after) its nursery.
///
/// Dropping the handle neither detaches nor cancels the child: it stays in its nursery, which
/// still waits for it and still reports its failure.
///
/// # Cancellation
/// Awaiting is a checkpoint for the awaiting task: it checks for cancellation first and yields at
/// least once, even if the child has already finished. If the awaiting task's scope is cancelled
/// it returns `JoinError::Cancelled`; the child is unaffected and its result stays in the handle
/// for a later await.
///
/// # Examples
/// ```
/// use quartet_nursery::*;
/// # quartet_runtime::run(async {
/// nursery(async |n| -> Result<(), BoxError> {
///     let h: JoinHandle<u32> = n.spawn(async { Ok::<_, BoxError>(40 + 2) })?;
///     assert_eq!(h.await?, 42);
///     Ok(())
/// })
/// .await?;
/// # Ok::<(), NurseryError>(()) }).unwrap().unwrap();
/// ```
pub struct JoinHandle<T> {
    /// The child's task cell, seen only through its join state (C2 in `nursery/cell.rs`: the
    /// future inside is always dropped before the cell can be freed, so this `Rc` never drops
    /// it, whatever lifetime it borrowed).
    cell: Rc<dyn JoinSide<T>>,
    /// This await has passed its entry checkpoint and yielded once.
    yielded: bool,
    /// The outcome was returned: awaiting again gives `AlreadyJoined` (the slot is empty now).
    joined: bool,
    /// Parked on the cancel-status tree while waiting for the child.
    park: cancel::Park,
}

impl<T> JoinHandle<T> {
    /// # Safety
    /// Whoever else owns `cell` drops the future inside it before its last `Rc` to the cell is
    /// dropped, and never drops that `Rc` otherwise (C2 in `nursery/cell.rs`).
    pub(crate) unsafe fn new<'env>(cell: Rc<dyn JoinSide<T> + 'env>) -> Self {
        // Only the trait object's lifetime bound changes (same fat-pointer layout). The handle
        // reaches the cell only through `JoinSide::join_slot`, which touches the result and the
        // waker (whose types do not involve `'env`), never the future.
        // SAFETY: as argued above; and by the caller's contract the future is already dropped
        // whenever this `Rc` is the last one, so dropping it never runs the future's drop after `'env`.
        let cell: Rc<dyn JoinSide<T>> = unsafe { std::mem::transmute::<Rc<dyn JoinSide<T> + 'env>, _>(cell) };
        JoinHandle {
            cell,
            yielded: false,
            joined: false,
            park: cancel::Park::waiting_for(quartet_runtime::introspect::WaitKind::Join),
        }
    }

    /// True once the child has finished.
    ///
    /// ```
    /// use quartet_nursery::*;
    /// # quartet_runtime::run(async {
    /// nursery(async |n| -> Result<(), BoxError> {
    ///     let h = n.spawn(async { Ok::<_, BoxError>(()) })?;
    ///     assert!(!h.is_finished()); // not polled yet
    ///     quartet_runtime::checkpoint().await?;
    ///     assert!(h.is_finished());
    ///     Ok(())
    /// })
    /// .await?;
    /// # Ok::<(), NurseryError>(()) }).unwrap().unwrap();
    /// ```
    pub fn is_finished(&self) -> bool {
        self.joined || {
            let r = self.slot().result.take();
            let done = r.is_some();
            self.slot().result.set(r);
            done
        }
    }
}

impl<T> JoinHandle<T> {
    fn slot(&self) -> &Slot<T> {
        self.cell.join_slot()
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle").field("finished", &self.is_finished()).finish()
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.joined {
            return Poll::Ready(Err(JoinError::AlreadyJoined));
        }
        if !self.yielded {
            // Entry: a cancelled awaiter takes nothing; otherwise yield once (schedule point).
            if let Some(c) = cancel::current() {
                return Poll::Ready(Err(JoinError::Cancelled(c)));
            }
            self.yielded = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        // A result that is there is returned even if a cancel arrived meanwhile (it completed
        // first); the next checkpoint raises.
        let done = self.slot().result.take();
        if let Some(r) = done.map(Ended::into_result) {
            self.park.unpark();
            self.yielded = false;
            self.joined = true;
            return Poll::Ready(r);
        }
        if let Err(c) = self.park.park(cx) {
            self.park.unpark();
            self.yielded = false;
            return Poll::Ready(Err(JoinError::Cancelled(c)));
        }
        self.slot().waker.set(Some(cx.waker().clone()));
        Poll::Pending
    }
}
