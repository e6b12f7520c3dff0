//! `Nursery::start`: the caller's side of the start handshake (see `crate::start`).

use super::{Child, Nursery};
use crate::error::{BoxError, StartError};
use crate::start::{self, StartScoped, StartSink, StartSlot, TaskStatus};
use quartet_runtime::hooks::{Park, StatusRef};
use quartet_runtime::{Cancelled, is_cancellation};
use std::future::{Future, poll_fn};
use std::panic::Location;
use std::rc::Rc;
use std::task::Poll;

impl<'env> Nursery<'env> {
    /// Starts a child and waits until it calls [`TaskStatus::started`], returning the value it
    /// passed (Trio's `nursery.start`). Errors before `started` come out of here, not out of the
    /// nursery; afterwards the child is an ordinary child of this nursery.
    ///
    /// Until it calls `started`, the child runs under the *caller's* cancel scopes (Trio: in a
    /// nursery of the caller); afterwards it moves under this nursery's. Like a spawn, it runs
    /// until its first checkpoint even if the caller is already cancelled.
    ///
    /// # Cancellation
    /// If the caller is cancelled before the child has started, the child is cancelled too;
    /// `start` waits for it to finish and returns `StartError::Cancelled` (a cancel scope around
    /// `start` catches it). A child that calls `started` while the caller is cancelled is not
    /// moved into this nursery (Trio's rule): it stays cancelled, `start` waits for it and returns
    /// `StartError::Cancelled`. Dropping the future also cancels a child that has not started; its
    /// outcome then goes to the nursery like any child's, so no failure is lost.
    ///
    /// # Examples
    /// ```
    /// use quartet_nursery::*;
    /// # quartet_runtime::run(async {
    /// nursery(async |n| -> Result<(), BoxError> {
    ///     let port: u16 = n
    ///         .start(|status| async move {
    ///             status.started(8080); // e.g. after binding
    ///             quartet_runtime::checkpoint().await?; // ... then keep serving
    ///             Ok::<(), BoxError>(())
    ///         })
    ///         .await?;
    ///     assert_eq!(port, 8080);
    ///     Ok(())
    /// })
    /// .await?;
    /// # Ok::<(), NurseryError>(()) }).unwrap().unwrap();
    /// ```
    #[track_caller]
    pub fn start<V, F, Fut, E>(&self, f: F) -> impl Future<Output = Result<V, StartError>> + use<'_, 'env, V, F, Fut, E>
    where
        V: 'env,
        F: FnOnce(TaskStatus<V>) -> Fut,
        Fut: Future<Output = Result<(), E>> + 'env,
        E: Into<BoxError>,
    {
        let loc = Location::caller();
        async move {
            let slot = StartSlot::<V>::new();
            // Until it has started, the child runs under the caller's cancel status (Trio: in a
            // nursery of the caller), so the caller's cancellation reaches it.
            let caller = StatusRef::current();
            let fut = StartScoped::new(slot.clone(), caller, f(TaskStatus::new(slot.clone())));
            let scope = slot.scope.clone();
            let child = async move {
                match fut.await.map_err(Into::<BoxError>::into) {
                    // The start scope (cancelled because `start` was cancelled or dropped before
                    // `started`) owns this cancellation and absorbs it, like any cancel scope.
                    Err(e) if is_cancellation(&*e) && scope.cancel_called() => Ok(()),
                    r => r,
                }
            };
            let sink: Rc<dyn StartSink + 'env> = slot.clone();
            let task = Rc::new(super::TaskCell::new(self.child_info(None, loc), child));
            self.insert(Child { task }, Some(sink))?;
            let guard = AbandonOnDrop(Some(slot.clone()));
            let mut cancelled: Option<Cancelled> = None;
            let mut park = Park::waiting_for(quartet_runtime::introspect::WaitKind::Start);
            let out = poll_fn(|cx| {
                if let Some(r) = start::take(&slot) {
                    park.unpark();
                    return Poll::Ready(r);
                }
                if cancelled.is_none() {
                    // The walk that cancels the caller also reaches the child, which runs under the
                    // caller's status; here we only note it and keep waiting for the child.
                    if let Err(c) = park.park(cx) {
                        cancelled = Some(c);
                    }
                }
                slot.waker.set(Some(cx.waker().clone()));
                Poll::Pending
            })
            .await;
            let mut guard = guard;
            guard.0 = None;
            match (out, cancelled) {
                (Err(StartError::Failed(e)), Some(c)) if is_cancellation(&*e) => Err(StartError::Cancelled(c)),
                (Err(StartError::ExitedWithoutStarting), Some(c)) => Err(StartError::Cancelled(c)),
                (out, _) => out,
            }
        }
    }
}

/// Dropping a `start` call before it returned: the child's outcome goes to the nursery, and the
/// child, if it has not started yet, is cancelled.
struct AbandonOnDrop<V>(Option<Rc<StartSlot<V>>>);

impl<V> Drop for AbandonOnDrop<V> {
    fn drop(&mut self) {
        if let Some(slot) = self.0.take() {
            slot.abandon();
        }
    }
}
