//! What happens when the body or a child is polled and finishes: its outcome is recorded,
//! failures cancel the nursery (N4), and a `start`ed child's outcome goes to its caller.

use super::Inner;
use crate::error::{BoxError, Failure};
use quartet_runtime::introspect::TaskOutcome;
use quartet_runtime::{Cancelled, Reason, cancel, find_cancelled};
use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

pub(super) fn poll_body<T, E, B>(
    inner: &Inner<'_>,
    body: Pin<&mut Option<B>>,
    out: &mut Option<Result<Result<T, E>, Cancelled>>,
    _cx: &mut Context<'_>,
) where
    B: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
{
    let Some(waker) = inner.state.borrow().body_waker.clone() else { return };
    let mut cx = Context::from_waker(&waker);
    let mut body = body;
    let Some(fut) = body.as_mut().as_pin_mut() else { return };
    let r = catch_unwind(AssertUnwindSafe(|| fut.poll(&mut cx)));
    let result = match r {
        Ok(Poll::Pending) => return,
        Ok(Poll::Ready(r)) => Some(r),
        Err(p) => {
            record_panic(inner, p, "the nursery body");
            None
        }
    };
    let dropped = catch_unwind(AssertUnwindSafe(|| body.set(None)));
    if let Err(p) = dropped {
        record_panic(inner, p, "the nursery body");
    }
    match result {
        Some(Ok(v)) => *out = Some(Ok(Ok(v))),
        Some(Err(e)) => {
            let e: BoxError = e.into();
            match find_cancelled(&*e).filter(|_| cancel::current().is_some()) {
                Some(c) => *out = Some(Err(c)),
                None => fail(inner, Failure::new("the nursery body".into(), e)),
            }
        }
        None => {}
    }
}

pub(super) fn poll_child(inner: &Inner<'_>, i: usize) {
    // The child stays in its slot while it runs (the dump lists it); the poll holds its own `Rc`.
    let task = {
        let mut st = inner.state.borrow_mut();
        let Some(child) = st.slots[i].child() else { return };
        if st.busy(i) {
            return;
        }
        let task = child.task.clone();
        st.set_busy(i, true);
        task
    };
    let ready = inner.ready.as_ref().expect("checked in nursery()");
    // The child borrows its slot's waker (no allocation); a clone it keeps costs a count.
    let polled = ready.with_waker(i, &mut None, |w| task.run(&mut Context::from_waker(w)));
    let outcome = match polled {
        Ok(Poll::Pending) => {
            inner.state.borrow_mut().set_busy(i, false);
            return;
        }
        Ok(Poll::Ready(r)) => Ok(r),
        Err(p) => {
            task.panicked();
            Err(p)
        }
    };
    let info = task.info();
    // C2: the future is dropped here, in place (its `Drop` may panic: reported below).
    let dropped = catch_unwind(AssertUnwindSafe(|| task.release()));
    if let Some(record) = inner.record.get() {
        record.exited(info, || match &outcome {
            Ok(Ok(())) => TaskOutcome::Completed,
            Ok(Err(e)) => match find_cancelled(&**e).filter(|_| cancel::current().is_some()) {
                Some(c) => TaskOutcome::Cancelled(c.reason().clone()),
                None => TaskOutcome::Failed(e.to_string()),
            },
            Err(_) => TaskOutcome::Panicked,
        });
    }
    let (child, start) = {
        let mut st = inner.state.borrow_mut();
        st.set_busy(i, false);
        let child = st.free_slot(i);
        st.live -= 1;
        let start = if st.starts.is_empty() { None } else { st.starts.remove(&(i as u32)) };
        (child, start)
    };
    // Outside the borrow: the child's `Drop` finds its future gone and drops the cell's `Rc`
    // (the last one unless a join handle keeps the result).
    drop(child);
    let start = start.filter(|s| s.pending());
    match (outcome, start) {
        (Ok(Ok(())), Some(s)) => s.exited(),
        (Ok(Ok(())), None) => {}
        (Ok(Err(e)), Some(s)) => s.failed(e),
        // A `Cancelled` is only a cancellation if a scope the child runs under is cancelled (this
        // runs inside the nursery's poll, with its scopes entered). A stray one, e.g. from a
        // `start` on another nursery, is a failure: nothing is filtered silently.
        (Ok(Err(e)), None) => match find_cancelled(&*e).filter(|_| cancel::current().is_some()) {
            Some(c) => {
                inner.state.borrow_mut().child_cancelled.get_or_insert(c);
            }
            None => fail(inner, Failure::new(info.to_string(), e)),
        },
        (Err(p), Some(s)) => s.panicked(p),
        (Err(p), None) => record_panic(inner, p, &info.to_string()),
    }
    if let Err(p) = dropped {
        record_panic(inner, p, &info.to_string());
    }
}

fn fail(inner: &Inner<'_>, failure: Failure) {
    let who = failure.origin().to_string();
    inner.state.borrow_mut().failures.push(failure);
    inner.scope.cancel(Reason::SiblingFailed(who));
}

fn record_panic(inner: &Inner<'_>, p: Box<dyn Any + Send>, who: &str) {
    {
        let mut st = inner.state.borrow_mut();
        if st.panic.is_none() {
            st.panic = Some(p);
        }
    }
    inner.scope.cancel(Reason::SiblingFailed(format!("{who} (panicked)")));
}
