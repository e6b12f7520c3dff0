//! Nurseries: the only way to run tasks concurrently (semantics §1, §2).
//!
//! Design (why children may borrow, soundly): a child is a future stored *inside* its nursery and
//! polled only from the nursery future's own `poll`. Nothing else (no kernel run queue, no waker)
//! can poll it; a waker only records "slot i is ready" in the nursery's [`ReadyQueue`] and wakes
//! the nursery. So if the nursery future is leaked with `mem::forget`, its children are never
//! polled again and never dropped: they leak with it, and can never touch the borrowed data after
//! it is freed. If the nursery future is dropped, it drops its children first. The nursery's
//! lifetime `'env` is invariant, so a child can borrow what outlives the nursery call, but not
//! the body's own locals.
//!
//! Scheduling invariants: the body and the children are polled inside the nursery's cancel scope
//! (so children see the nursery's scopes, never their spawner's); when that scope becomes
//! cancelled (explicitly, by an outer scope, or by its own deadline, for which the nursery arms a
//! timer) every child and the body are queued once so each blocked op sees it; and the nursery
//! future returns `Pending` at least once before it completes (exit is a schedule point), but exit
//! itself never produces a `Cancelled`.

use crate::error::{BoxError, Failure, JoinError, NurseryError, SpawnError, StartError};
use crate::join::{JoinHandle, Slot as JoinSlot};
use crate::scope::{CancelHandle, CancelScope};
use crate::start::{self, StartScoped, StartSink, StartSlot, TaskStatus};
use quartet_runtime::cancel::{self, ScopeState};
use quartet_runtime::sync::Arc;
use quartet_runtime::task::{TaskInfo, consume_budget};
use quartet_runtime::{Cancelled, OpError, ReadyQueue, Reason, Timer, find_cancelled, is_cancellation};
use std::any::Any;
use std::cell::RefCell;
use std::fmt;
use std::future::{Future, poll_fn};
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, Location, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// Slot 0 of the ready queue is the nursery's body.
const BODY: usize = 0;

type ChildFuture<'env> = Pin<Box<dyn Future<Output = Result<(), BoxError>> + 'env>>;

struct Child<'env> {
    fut: ChildFuture<'env>,
    info: TaskInfo,
    start: Option<Rc<dyn StartSink + 'env>>,
}

struct Slot<'env> {
    child: Option<Child<'env>>,
    /// Set while the child is taken out to be polled, so a re-spawn cannot reuse the slot.
    busy: bool,
    waker: Option<Waker>,
}

struct State<'env> {
    slots: Vec<Slot<'env>>,
    free: Vec<usize>,
    live: usize,
    closed: bool,
    failures: Vec<Failure>,
    panic: Option<Box<dyn Any + Send>>,
    /// The first `Cancelled` a child ended with: re-raised if an outer scope owns it.
    child_cancelled: Option<Cancelled>,
}

struct Inner<'env> {
    scope: Arc<ScopeState>,
    ready: Option<std::sync::Arc<ReadyQueue>>,
    state: RefCell<State<'env>>,
}

/// A handle to a running nursery: spawn children, start them, cancel the nursery.
///
/// Cloning the handle is cheap; a clone moved into a child lets it spawn siblings. Children
/// inherit the nursery's cancel scopes, not the spawner's.
pub struct Nursery<'env> {
    inner: Rc<Inner<'env>>,
    _invariant: PhantomData<fn(&'env ()) -> &'env ()>,
}

impl Clone for Nursery<'_> {
    fn clone(&self) -> Self {
        Nursery { inner: self.inner.clone(), _invariant: PhantomData }
    }
}

impl fmt::Debug for Nursery<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.inner.state.borrow();
        f.debug_struct("Nursery").field("live", &st.live).field("closed", &st.closed).finish()
    }
}

/// Opens a nursery, runs `body` in it, and returns once the body and every child have finished.
///
/// The body gets a [`Nursery`] handle. A child's `Err` or panic cancels the nursery (body and
/// siblings); once everything has finished, failures come back as a [`NurseryError`] listing each
/// one with its origin, and a panic is resumed here with its original payload. Cancellations are
/// never reported as failures.
///
/// # Examples
/// ```no_run
/// use quartet_nursery::{SpawnError, nursery};
/// use quartet_runtime::{Cancelled, run, sleep};
/// use std::time::Duration;
/// run(async {
///     let names = vec!["a", "b", "c"];
///     nursery(async |n| {
///         for name in &names {
///             // children may borrow `names`: it outlives the nursery
///             n.spawn(async move {
///                 sleep(Duration::from_millis(10)).await?;
///                 println!("{name} done");
///                 Ok::<_, Cancelled>(())
///             })?;
///         }
///         Ok::<_, SpawnError>(())
///     })
///     .await
/// }).unwrap().unwrap();
/// ```
///
/// A child cannot borrow the body's own locals, which die before the children do:
/// ```compile_fail,E0597
/// use quartet_nursery::{SpawnError, nursery};
/// use quartet_runtime::{Cancelled, run};
/// run(async {
///     nursery(async |n| {
///         let local = 5;
///         let borrowed = &local; // error: `local` does not live long enough
///         n.spawn(async move { assert_eq!(*borrowed, 5); Ok::<_, Cancelled>(()) })?;
///         Ok::<_, SpawnError>(())
///     }).await
/// }).unwrap().unwrap();
/// ```
///
/// Nor can a child hand its own locals to a sibling through the nursery handle:
/// ```compile_fail,E0597
/// use quartet_nursery::{SpawnError, nursery};
/// use quartet_runtime::{Cancelled, run};
/// run(async {
///     nursery(async |n| {
///         let handle = n.clone();
///         n.spawn(async move {
///             let local = 5;
///             let borrowed = &local; // error: `local` does not live long enough
///             handle.spawn(async move { assert_eq!(*borrowed, 5); Ok::<_, Cancelled>(()) })?;
///             Ok::<_, SpawnError>(())
///         })?;
///         Ok::<_, SpawnError>(())
///     }).await
/// }).unwrap().unwrap();
/// ```
///
/// And borrowed data cannot be freed while the nursery future that borrows it is alive (leaking
/// that future with `mem::forget` ends the borrow; its children then never run again):
/// ```compile_fail,E0505
/// use quartet_nursery::{SpawnError, nursery};
/// use quartet_runtime::{Cancelled, run};
/// run(async {
///     let data = vec![1, 2, 3];
///     let fut = nursery(async |n| {
///         n.spawn(async { assert_eq!(data.len(), 3); Ok::<_, Cancelled>(()) })?;
///         Ok::<_, SpawnError>(())
///     });
///     drop(data); // error: cannot move out of `data` because it is borrowed
///     fut.await
/// }).unwrap().unwrap();
/// ```
pub async fn nursery<'env, F, T, E>(body: F) -> Result<T, NurseryError>
where
    F: AsyncFnOnce(&Nursery<'env>) -> Result<T, E>,
    E: Into<BoxError>,
{
    let n = Nursery::new();
    if n.inner.ready.is_none() {
        return Err(NurseryError::failed(vec![Failure::new("nursery".into(), Box::new(OpError::NoRuntime))]));
    }
    let fut = body(&n);
    let run = Run {
        inner: &n.inner,
        body: Some(fut),
        out: None,
        seen_cancel: false,
        started: false,
        // Must start false: nursery exit is a schedule point even when there was nothing to wait
        // for (semantics §3.3; tests/checkpoint_ops.rs `nursery_exit_is_a_schedule_point`).
        yielded: false,
        timer: Timer::new(),
    };
    run.await
}

impl<'env> Nursery<'env> {
    fn new() -> Nursery<'env> {
        let state = State {
            slots: Vec::new(),
            free: Vec::new(),
            live: 0,
            closed: false,
            failures: Vec::new(),
            panic: None,
            child_cancelled: None,
        };
        let mut state = state;
        // Slot 0 is the body; its waker is created lazily by `Run`.
        state.slots.push(Slot { child: None, busy: true, waker: None });
        Nursery {
            inner: Rc::new(Inner { scope: ScopeState::new(), ready: ReadyQueue::new(), state: RefCell::new(state) }),
            _invariant: PhantomData,
        }
    }

    /// Spawns a child. Its `Ok` value goes to the returned handle; its `Err` or panic cancels the
    /// nursery and is reported by it.
    ///
    /// # Errors
    /// [`SpawnError`] if the nursery has finished.
    #[track_caller]
    pub fn spawn<F, T, E>(&self, fut: F) -> Result<JoinHandle<T>, SpawnError>
    where
        F: Future<Output = Result<T, E>> + 'env,
        T: 'env,
        E: Into<BoxError>,
    {
        self.spawn_with(None, Location::caller(), fut)
    }

    /// Spawns a named child; the name appears in failure reports and diagnostics.
    #[track_caller]
    pub fn spawn_named<F, T, E>(&self, name: impl Into<String>, fut: F) -> Result<JoinHandle<T>, SpawnError>
    where
        F: Future<Output = Result<T, E>> + 'env,
        T: 'env,
        E: Into<BoxError>,
    {
        self.spawn_with(Some(name.into()), Location::caller(), fut)
    }

    fn spawn_with<F, T, E>(
        &self,
        name: Option<String>,
        loc: &'static Location<'static>,
        fut: F,
    ) -> Result<JoinHandle<T>, SpawnError>
    where
        F: Future<Output = Result<T, E>> + 'env,
        T: 'env,
        E: Into<BoxError>,
    {
        let slot = JoinSlot::new();
        let result = slot.clone();
        let child = async move {
            let guard = DroppedGuard(&result);
            let out = fut.await;
            std::mem::forget(guard);
            match out {
                Ok(v) => {
                    result.set(Ok(v));
                    Ok(())
                }
                Err(e) => {
                    let e: BoxError = e.into();
                    let je = if is_cancellation(&*e) { JoinError::ChildCancelled } else { JoinError::Failed };
                    result.set(Err(je));
                    Err(e)
                }
            }
        };
        self.insert(Child { fut: Box::pin(child), info: TaskInfo::new(name, loc), start: None })?;
        Ok(JoinHandle::new(slot))
    }

    fn insert(&self, child: Child<'env>) -> Result<(), SpawnError> {
        let index = {
            let mut st = self.inner.state.borrow_mut();
            if st.closed {
                return Err(SpawnError);
            }
            let index = match st.free.pop() {
                Some(i) => i,
                None => {
                    st.slots.push(Slot { child: None, busy: false, waker: None });
                    st.slots.len() - 1
                }
            };
            st.slots[index].child = Some(child);
            st.live += 1;
            index
        };
        if let Some(r) = &self.inner.ready {
            r.push(index);
        }
        Ok(())
    }

    /// Starts a child and waits until it calls [`TaskStatus::started`], returning the value it
    /// passed (Trio's `nursery.start`). Errors before `started` come out of here, not out of the
    /// nursery; afterwards the child is an ordinary child of this nursery.
    ///
    /// Like a spawn, the child runs until its first checkpoint even if the caller is already
    /// cancelled.
    ///
    /// # Cancellation
    /// If the caller is cancelled while waiting, the child is cancelled too; `start` waits for it
    /// and returns `StartError::Cancelled` (a cancel scope around `start` catches it). A child
    /// that calls `started` anyway is then an ordinary child, no longer cancelled, and `start`
    /// returns its value. Dropping the future also cancels a child that has not started; its
    /// outcome then goes to the nursery like any child's, so no failure is lost.
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
            let fut = StartScoped::new(slot.clone(), f(TaskStatus::new(slot.clone())));
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
            self.insert(Child { fut: Box::pin(child), info: TaskInfo::new(None, loc), start: Some(sink) })?;
            let guard = AbandonOnDrop(Some(slot.clone()));
            let mut cancelled: Option<Cancelled> = None;
            let out = poll_fn(|cx| {
                if let Some(r) = start::take(&slot) {
                    return Poll::Ready(r);
                }
                if cancelled.is_none() {
                    if let Some(c) = cancel::current() {
                        slot.scope.cancel(c.reason().clone());
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

    /// Cancels the nursery: its body and every child (reason: explicit).
    pub fn cancel(&self) {
        self.inner.scope.cancel(Reason::Explicit)
    }

    /// A `Send + Sync` handle that cancels this nursery from anywhere.
    pub fn cancel_handle(&self) -> CancelHandle {
        CancelScope::from_state(self.inner.scope.clone()).handle()
    }

    /// The nursery's own cancel scope (for its deadline, shield and state).
    pub fn cancel_scope(&self) -> CancelScope {
        CancelScope::from_state(self.inner.scope.clone())
    }

    /// Children that have not finished.
    pub fn live_children(&self) -> usize {
        self.inner.state.borrow().live
    }

    /// True once the nursery has finished; spawning then fails.
    pub fn is_closed(&self) -> bool {
        self.inner.state.borrow().closed
    }
}

/// Marks a join slot `Dropped`/`Panicked` if the child never finished.
struct DroppedGuard<'a, T>(&'a Rc<JoinSlot<T>>);

impl<T> Drop for DroppedGuard<'_, T> {
    fn drop(&mut self) {
        let e = if std::thread::panicking() { JoinError::Panicked } else { JoinError::Dropped };
        self.0.set(Err(e));
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

pin_project_lite::pin_project! {
    /// Polls the body and the ready children, under the nursery's cancel scope.
    struct Run<'n, 'env, B: Future> {
        inner: &'n Rc<Inner<'env>>,
        #[pin]
        body: Option<B>,
        out: Option<Result<B::Output, Cancelled>>,
        seen_cancel: bool,
        started: bool,
        // Whether this future has returned `Pending` at least once (exit is a schedule point).
        yielded: bool,
        // Wakes the nursery at its own scope's deadline (`n.cancel_scope().set_deadline(..)`).
        timer: Timer,
    }

    impl<'n, 'env, B: Future> PinnedDrop for Run<'n, 'env, B> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            let children: Vec<Child<'env>> = {
                let mut st = this.inner.state.borrow_mut();
                st.closed = true;
                st.slots.iter_mut().filter_map(|s| s.child.take()).collect()
            };
            drop(children);
        }
    }
}

impl<'env, T, E, B> Future for Run<'_, 'env, B>
where
    B: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
{
    type Output = Result<T, NurseryError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let inner: &Inner<'env> = this.inner;
        let ready = inner.ready.as_ref().expect("checked in nursery()");
        let _entered = cancel::enter(&inner.scope);
        inner.scope.register(cx.waker());
        ready.set_parent(cx.waker());
        if !std::mem::replace(this.started, true) {
            inner.state.borrow_mut().slots[BODY].waker = Some(ready.waker(BODY));
            ready.push(BODY);
        }
        match inner.scope.deadline() {
            Some(d) => {
                let _ = this.timer.poll_at(d, cx);
            }
            None => this.timer.disarm(),
        }
        // Rounds: each polls the children that were ready when it began (a child that yields goes
        // to the back and waits for the next round). Another round follows at once only while no
        // I/O waits to be submitted: a yield or channel hand-off then costs no kernel tick, while a
        // round that queued I/O ends the tick so the kernel submits it promptly. The tick's budget
        // bounds it all (then the kernel turns the ring before we continue, H8).
        let mut first_round = true;
        loop {
            if !std::mem::replace(&mut first_round, false) && quartet_runtime::task::io_queued() {
                if !ready.is_empty() {
                    cx.waker().wake_by_ref();
                }
                break;
            }
            let now_cancelled = cancel::current().is_some();
            if now_cancelled && !*this.seen_cancel {
                // Level-triggered: wake everything once so each blocked op sees the cancellation.
                wake_all(inner, ready, this.body.is_some());
            }
            *this.seen_cancel = now_cancelled;

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
            inner.state.borrow_mut().closed = true;
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
                Some(Ok(Ok(_))) if child_cancelled.is_some() && cancel::outer_cancelled() => {
                    Err(NurseryError::from_cancel(child_cancelled.expect("checked"), false))
                }
                Some(Ok(Ok(v))) => Ok(v),
                Some(Err(c)) => {
                    let own = inner.scope.cancel_called() && !cancel::outer_cancelled();
                    Err(NurseryError::from_cancel(c, own))
                }
                _ => Err(NurseryError::from_cancel(Cancelled::new(Reason::Explicit), false)),
            });
        }
        // More ready work: come back next tick. (A cancel raised during this round has already
        // woken us through the scope's registered waker.)
        if !ready.is_empty() {
            cx.waker().wake_by_ref();
        }
        *this.yielded = true;
        Poll::Pending
    }
}

fn wake_all(inner: &Inner<'_>, ready: &ReadyQueue, body: bool) {
    let live: Vec<usize> = {
        let st = inner.state.borrow();
        st.slots.iter().enumerate().filter(|(i, s)| *i != BODY && s.child.is_some()).map(|(i, _)| i).collect()
    };
    if body {
        ready.push(BODY);
    }
    for i in live {
        ready.push(i);
    }
}

fn poll_body<T, E, B>(
    inner: &Inner<'_>,
    body: Pin<&mut Option<B>>,
    out: &mut Option<Result<Result<T, E>, Cancelled>>,
    _cx: &mut Context<'_>,
) where
    B: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
{
    let Some(waker) = inner.state.borrow().slots[BODY].waker.clone() else { return };
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

fn poll_child(inner: &Inner<'_>, i: usize) {
    let (mut child, mut waker) = {
        let mut st = inner.state.borrow_mut();
        let slot = &mut st.slots[i];
        let Some(child) = slot.child.take() else { return };
        slot.busy = true;
        (child, slot.waker.take())
    };
    let ready = inner.ready.as_ref().expect("checked in nursery()");
    let Child { fut, info, .. } = &mut child;
    // The slot's waker is made only if the child keeps it (most short children never do).
    let polled = ready.with_waker(i, &mut waker, |w| {
        let mut cx = Context::from_waker(w);
        info.run_as(|| {
            let _timer = quartet_runtime::monitor::PollTimer::start(Some(info));
            catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(&mut cx)))
        })
    });
    inner.state.borrow_mut().slots[i].waker = waker;
    let outcome = match polled {
        Ok(Poll::Pending) => {
            let mut st = inner.state.borrow_mut();
            st.slots[i].child = Some(child);
            st.slots[i].busy = false;
            return;
        }
        Ok(Poll::Ready(r)) => Ok(r),
        Err(p) => Err(p),
    };
    let Child { fut, info, start } = child;
    let dropped = catch_unwind(AssertUnwindSafe(move || drop(fut)));
    {
        let mut st = inner.state.borrow_mut();
        st.slots[i].busy = false;
        st.live -= 1;
        st.free.push(i);
    }
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
