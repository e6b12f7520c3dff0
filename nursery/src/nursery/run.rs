//! The nursery future: polls the body and the ready children in rounds, inside the nursery's
//! activation (N1-N3).

use super::outcome::{poll_body, poll_child};
use super::{BODY, Child, Inner, Slot};
use crate::error::{BoxError, NurseryError};
use quartet_runtime::hooks::Activation;
use quartet_runtime::hooks::{PREFETCH_AHEAD, ReadyQueue, consume_budget, prefetch};
use quartet_runtime::{Cancelled, Reason};
use std::future::Future;
use std::panic::resume_unwind;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

pin_project_lite::pin_project! {
    /// Polls the body and the ready children, under the nursery's cancel scope.
    pub(super) struct Run<'n, 'env, B: Future> {
        inner: &'n Rc<Inner<'env>>,
        #[pin]
        body: Option<B>,
        out: Option<Result<B::Output, Cancelled>>,
        started: bool,
        // Whether this future has returned `Pending` at least once (exit is a schedule point).
        yielded: bool,
        // The nursery's node in the cancel-status tree (N1); declared last so that it is freed
        // after the body and the children.
        activation: Activation,
    }

    impl<'n, 'env, B: Future> PinnedDrop for Run<'n, 'env, B> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            let (children, starts): (Vec<Child<'env>>, _) = {
                let mut st = this.inner.state.borrow_mut();
                st.closed = true;
                (st.slots.iter_mut().filter_map(Slot::take_child).collect(), std::mem::take(&mut st.starts))
            };
            drop(children);
            drop(starts);
        }
    }
}

impl<'env, T: 'static, E, B> Future for Run<'_, 'env, B>
where
    B: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
{
    type Output = Result<T, NurseryError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let inner: &Inner<'env> = this.inner;
        let ready = inner.ready.as_ref().expect("checked in nursery()");
        let _entered = this.activation.enter();
        ready.set_parent(cx.waker());
        if !std::mem::replace(this.started, true) {
            inner.state.borrow_mut().body_waker = Some(ready.waker(BODY));
            ready.push(BODY);
        }
        // Rounds: each polls the children that were ready when it began (a child that yields goes
        // to the back and waits for the next round). Another round follows at once only while no
        // I/O waits to be submitted: a yield or channel hand-off then costs no kernel tick, while a
        // round that queued I/O ends the tick so the kernel submits it promptly. The tick's budget
        // bounds it all (then the kernel turns the ring before we continue, H8).
        let mut first_round = true;
        loop {
            if !std::mem::replace(&mut first_round, false) && quartet_runtime::hooks::io_queued() {
                if !ready.is_empty() {
                    cx.waker().wake_by_ref();
                }
                break;
            }
            let round = ready.len();
            if round == 0 {
                break;
            }
            for _ in 0..round {
                if !consume_budget() {
                    *this.yielded = true;
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                let Some(i) = ready.pop() else { break };
                if i == BODY {
                    poll_body(inner, this.body.as_mut(), this.out, cx);
                } else {
                    prefetch_ahead(inner, ready);
                    poll_child(inner, i);
                }
            }
        }

        if this.body.is_none() && inner.state.borrow().live == 0 && !std::mem::replace(this.yielded, true) {
            // Exit is a schedule point (never a cancel point): a nursery that had nothing to wait
            // for still lets others run once. It stays open meanwhile, so a sibling may spawn.
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let (live, panic) = {
            let mut st = inner.state.borrow_mut();
            let done = this.body.is_none() && st.live == 0;
            (st.live, if done { st.panic.take() } else { None })
        };
        if let Some(p) = panic {
            let failures = {
                let mut st = inner.state.borrow_mut();
                st.closed = true;
                std::mem::take(&mut st.failures)
            };
            crate::error::report_failures_behind_panic("a nursery", &failures);
            resume_unwind(p);
        }
        if this.body.is_none() && live == 0 {
            let (failures, child_cancelled) = {
                let mut st = inner.state.borrow_mut();
                st.closed = true;
                (std::mem::take(&mut st.failures), st.child_cancelled.take())
            };
            if !failures.is_empty() {
                return Poll::Ready(Err(NurseryError::failed(failures)));
            }
            return Poll::Ready(match this.out.take() {
                // Children were cancelled by a scope outside the nursery: like Trio, the
                // cancellation propagates so that the scope owning it catches it.
                Some(Ok(Ok(_))) if child_cancelled.is_some() && this.activation.parent_cancelled() => {
                    Err(NurseryError::from_cancel(child_cancelled.expect("checked"), false))
                }
                Some(Ok(Ok(v))) => Ok(v),
                // Stopped from inside (its own scope, no outer one): like Trio, the nursery exits
                // normally. A body that returns `()` has its value; any other body that was
                // cancelled before returning its value ends with `is_own_cancel()`.
                Some(Err(c)) if this.activation.owns_cancellation() => match unit_value::<T>() {
                    Some(unit) => Ok(unit),
                    None => Err(NurseryError::from_cancel(c, true)),
                },
                Some(Err(c)) => Err(NurseryError::from_cancel(c, false)),
                _ => Err(NurseryError::from_cancel(Cancelled::new(Reason::Explicit), false)),
            });
        }
        // More ready work: come back next tick.
        if !ready.is_empty() {
            cx.waker().wake_by_ref();
        }
        *this.yielded = true;
        Poll::Pending
    }
}

impl<'n, 'env, B: Future> Run<'n, 'env, B> {
    pub(super) fn new(inner: &'n Rc<Inner<'env>>, activation: Activation, body: B) -> Self {
        Run {
            inner,
            body: Some(body),
            out: None,
            started: false,
            // Must start false: nursery exit is a schedule point even when there was nothing to
            // wait for (semantics §3.3; tests/checkpoint_ops.rs `nursery_exit_is_a_schedule_point`).
            yielded: false,
            activation,
        }
    }
}

/// `Some(())` as a `T` if `T` is `()`: the value of a body that had none to return.
fn unit_value<T: 'static>() -> Option<T> {
    let unit: Box<dyn std::any::Any> = Box::new(());
    unit.downcast::<T>().ok().map(|b| *b)
}

/// Starts loading what the polls a few places down the ready queue touch first, so that their
/// cache misses overlap with this poll instead of following it (with many tasks each one's slot
/// and cell are cold: see `quartet_runtime::hooks::prefetch`). Two stages: the slot of the child
/// `2 * PREFETCH_AHEAD` ahead, and the cell of the one `PREFETCH_AHEAD` ahead (its slot, which
/// holds the cell's address, was prefetched `PREFETCH_AHEAD` polls ago).
#[inline]
fn prefetch_ahead(inner: &Inner<'_>, ready: &ReadyQueue) {
    // A short queue (a few tasks that wake each other: their records are hot anyway) pays one
    // peek; the state is borrowed only when there is something ahead to prefetch.
    let Some(near) = ready.peek(PREFETCH_AHEAD - 1) else { return };
    let st = inner.state.borrow();
    if let Some(slot) = ready.peek(2 * PREFETCH_AHEAD - 1).and_then(|j| st.slots.get(j)) {
        prefetch(slot);
    }
    if let Some(child) = st.slots.get(near).and_then(|s| s.child()) {
        prefetch(Rc::as_ptr(&child.task).cast::<u8>());
    }
}
