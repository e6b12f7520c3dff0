//! `spawn_on`: running a `Send` future on another core, inside a nursery whose join and
//! cancellation span cores ([`Core::nursery`], [`CoreNursery`], [`CoreJoinHandle`]).
//!
//! A [`CoreNursery`] lives on the core that opened it. Its cancel scope is one `ScopeState`
//! activated on every core where one of its children runs, so cancelling it (or a child's
//! failure, which cancels it) reaches every child on every core. A child spawned on core `j` is
//! sent as a *job* to core `j`'s [`Mailbox`]: a `Send` closure that builds the child's future on
//! that core's thread (the future wraps the scope's activation, which is bound to its thread).
//! Each core runs a mailbox task in its host nursery for as long as any body of the group runs,
//! and spawns each job there. A finished child sends its value to its [`CoreJoinHandle`] and
//! finishes in the nursery's [`Tracker`]; the nursery's exit waits (not cancellably, like every
//! nursery exit) until the tracker has no live child, then reports every failure and resumes the
//! first panic.
//!
//! A child that is dropped before it ran (its core's group ended, its mailbox was closed) is
//! finished by its guard: nothing is forgotten (invariant MB1 of `remote.rs`).

use super::Core;
use super::remote::{Ended, Mailbox, PanicPayload, Tracker};
use crate::error::{Failure, JoinError, NurseryError};
use crate::nursery::Nursery;
use crate::scope::{CancelScope, Scoped};
use crate::{BoxError, SpawnError};
use quartet_runtime::cancel;
use quartet_runtime::hooks::ScopeState;
use quartet_runtime::sync::{AtomicUsize, Ordering};
use quartet_runtime::thread::oneshot;
use quartet_runtime::{Cancelled, Reason, find_cancelled, is_cancellation};
use std::fmt;
use std::future::{Future, poll_fn};
use std::panic::Location;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// A job: builds a remote child's future on the core that runs it.
pub(crate) type Job = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()>>> + Send>;

/// What the cores of a group share: one mailbox per core, and how many bodies still run.
pub(crate) struct Group {
    pub mailboxes: Vec<Mailbox<Job>>,
    bodies_left: AtomicUsize,
}

impl fmt::Debug for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Group").field("bodies_left", &self.bodies_left.load(Ordering::Relaxed)).finish()
    }
}

impl Group {
    pub fn new(cores: usize) -> Group {
        Group { mailboxes: (0..cores).map(|_| Mailbox::new()).collect(), bodies_left: AtomicUsize::new(cores) }
    }

    /// One core's body has ended (or will never run). The last one closes every mailbox: no
    /// `CoreNursery` can be open any more, so no job can come, and the mailbox tasks end.
    pub fn body_done(&self) {
        if self.bodies_left.fetch_sub(1, Ordering::AcqRel) == 1 {
            for m in &self.mailboxes {
                m.close();
            }
        }
    }
}

/// Calls [`Group::body_done`] once: explicitly when the body ends, or at drop.
pub(crate) struct BodyDone<'a>(Option<&'a Group>);

impl<'a> BodyDone<'a> {
    pub fn new(group: &'a Group) -> Self {
        BodyDone(Some(group))
    }
    pub fn finish(&mut self) {
        if let Some(g) = self.0.take() {
            g.body_done();
        }
    }
}

impl Drop for BodyDone<'_> {
    fn drop(&mut self) {
        self.finish();
    }
}

/// A core's mailbox task: spawns every job it receives into the core's host nursery, until the
/// group closes the mailbox. Not a checkpoint and not cancellable: it ends when the bodies end.
pub(crate) async fn serve_mailbox(mailbox: &Mailbox<Job>, host: Nursery<'_>) {
    while let Some(job) = poll_fn(|cx| mailbox.poll_recv(cx)).await {
        // A refused spawn drops the future, whose guard finishes the child as dropped.
        let _ = host.spawn(job());
    }
}

/// Finishes a remote child in its tracker exactly once, also when the job or its future is
/// dropped before it ended (then its join handle sees `JoinError::Dropped`).
struct ChildGuard<T> {
    tracker: Arc<Tracker>,
    result: Option<oneshot::Sender<Result<T, JoinError>>>,
}

impl<T> ChildGuard<T> {
    fn end(mut self, result: Result<T, JoinError>, ended: Ended) {
        if let Some(tx) = self.result.take() {
            let _ = tx.send(result);
        }
        self.tracker.finish(ended);
    }
}

impl<T> Drop for ChildGuard<T> {
    fn drop(&mut self) {
        if self.result.take().is_some() {
            self.tracker.finish(Ended::Quietly);
        }
    }
}

/// A nursery whose children may run on any core of the group (see the [module docs](self)).
/// Opened with [`Core::nursery`].
pub struct CoreNursery {
    core: Core,
    state: Arc<ScopeState>,
    tracker: Arc<Tracker>,
}

impl fmt::Debug for CoreNursery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CoreNursery").field("core", &self.core.index).field("live", &self.tracker.live()).finish()
    }
}

impl Core {
    /// Opens a nursery whose children may run on any core of the group
    /// ([`CoreNursery::spawn_on`]), runs `body` in it on this core, and returns once the body and
    /// every child, on every core, have finished. As with [`nursery`](crate::nursery): a child's
    /// failure or panic cancels the nursery (the body and every child on every core); failures
    /// come back together (origin `spawned on core N at file:line`), a panic is resumed here.
    ///
    /// # Errors
    /// [`NurseryError`]: the failures, or the body's cancellation.
    ///
    /// # Examples
    /// ```
    /// use quartet_nursery::{BoxError, Core, PerCore, Pinning};
    /// let out = PerCore::new(2).pin(Pinning::Off).run(|core: Core| async move {
    ///     if core.index() != 0 {
    ///         return Ok::<_, BoxError>(0);
    ///     }
    ///     let sum = core
    ///         .nursery(async |n| {
    ///             let h = n.spawn_on(1, || async { Ok::<_, BoxError>(std::thread::current().name().map(str::to_owned)) })?;
    ///             let ran_on = h.await?;
    ///             assert_eq!(ran_on.as_deref(), Some("quartet-core-1"));
    ///             Ok::<_, BoxError>(42)
    ///         })
    ///         .await?;
    ///     Ok(sum)
    /// })?;
    /// assert_eq!(out, vec![42, 0]);
    /// # Ok::<(), quartet_nursery::CoresError>(())
    /// ```
    pub fn nursery<T, E>(
        &self,
        body: impl AsyncFnOnce(&CoreNursery) -> Result<T, E>,
    ) -> impl std::future::Future<Output = Result<T, NurseryError>>
    where
        E: Into<BoxError>,
    {
        quartet_runtime::fused::once(async move {
            let n = CoreNursery { core: self.clone(), state: ScopeState::new(), tracker: Arc::new(Tracker::new()) };
            let scope = CancelScope::from_state(n.state.clone());
            let out = super::catch_unwind(scope.run(async { body(&n).await.map_err(Into::into) })).await;
            let body_failed = match &out {
                Ok(Err(e)) if !is_cancellation(&**e) => Some("the body failed"),
                Err(_) => Some("the body panicked"),
                _ => None,
            };
            if let Some(why) = body_failed {
                n.state.cancel(Reason::SiblingFailed(why.into()));
            }
            poll_fn(|cx| n.tracker.poll_idle(cx)).await;
            let (mut failures, child_panic) = n.tracker.take();
            let value = match out {
                Err(payload) => std::panic::resume_unwind(payload),
                Ok(v) => v,
            };
            if let Some(p) = child_panic {
                std::panic::resume_unwind(p);
            }
            match value {
                Ok(Some(v)) if failures.is_empty() => Ok(v),
                Ok(None) if failures.is_empty() => {
                    Err(NurseryError::from_cancel(Cancelled::new(n.state.reason().unwrap_or(Reason::Explicit)), true))
                }
                Err(e) if failures.is_empty() && is_cancellation(&*e) => {
                    let c = find_cancelled(&*e).unwrap_or_else(|| Cancelled::new(Reason::Explicit));
                    Err(NurseryError::from_cancel(c, false))
                }
                Err(e) if !is_cancellation(&*e) => {
                    failures.insert(0, Failure::new(format!("the body of the nursery on core {}", self.index), e));
                    Err(NurseryError::failed(failures))
                }
                _ => Err(NurseryError::failed(failures)),
            }
        })
    }
}

impl CoreNursery {
    /// Runs `make()` on core `core` as a child of this nursery, and returns a handle to await its
    /// value from this core. `make` is `Send` (it moves to the other core); the future it returns
    /// is made there and never moves again, so it need not be `Send`: it may open streams, hold
    /// ops and `Rc`s. (A `Send` future `fut` is passed as `move || fut`.) The child runs inside
    /// this nursery's cancel scope.
    ///
    /// # Errors
    /// [`SpawnError`] if `core` is not a core of the group, or its group has ended.
    #[track_caller]
    pub fn spawn_on<M, F, T, E>(&self, core: usize, make: M) -> Result<CoreJoinHandle<T>, SpawnError>
    where
        M: FnOnce() -> F + Send + 'static,
        F: Future<Output = Result<T, E>> + 'static,
        T: Send + 'static,
        E: Into<BoxError> + 'static,
    {
        let mailbox = self.core.shared.mailboxes.get(core).ok_or(SpawnError)?;
        let origin = format!("spawned on core {core} at {}", Location::caller());
        let (tx, rx) = oneshot::channel();
        self.tracker.add();
        let guard = ChildGuard { tracker: self.tracker.clone(), result: Some(tx) };
        let state = self.state.clone();
        let job: Job = Box::new(move || Box::pin(run_child(state, origin, make, guard)));
        // A refused job is dropped here: its guard finishes the child it had counted.
        mailbox.push(job).map_err(|_| SpawnError)?;
        Ok(CoreJoinHandle { rx, yielded: false, joined: false, park: cancel::Park::new() })
    }

    /// The core this nursery runs on.
    pub fn core(&self) -> &Core {
        &self.core
    }

    /// Cancels the nursery: its body and every child, on every core.
    pub fn cancel(&self) {
        self.state.cancel(Reason::Explicit)
    }

    /// Children still running (on any core).
    pub fn live_children(&self) -> usize {
        self.tracker.live()
    }
}

/// A remote child, on the core that runs it: the future in the nursery's scope, its outcome
/// sent to the handle and recorded in the tracker.
async fn run_child<M, F, T, E>(state: Arc<ScopeState>, origin: String, make: M, guard: ChildGuard<T>)
where
    M: FnOnce() -> F,
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
{
    let caught = super::catch_unwind(async { Scoped::new(state.clone(), make()).await }).await;
    match caught {
        Ok((Ok(v), _)) => guard.end(Ok(v), Ended::Quietly),
        Ok((Err(e), _)) => {
            let e: BoxError = e.into();
            if is_cancellation(&*e) {
                guard.end(Err(JoinError::ChildCancelled), Ended::Quietly);
            } else {
                state.cancel(Reason::SiblingFailed(origin.clone()));
                guard.end(Err(JoinError::Failed), Ended::Failed(Failure::new(origin, e)));
            }
        }
        Err(payload) => {
            state.cancel(Reason::SiblingFailed(format!("{origin} (panicked)")));
            guard.end(Err(JoinError::Panicked), Ended::Panicked(PanicPayload(payload)));
        }
    }
}

/// The value of a child spawned on another core, awaitable on the spawning core.
///
/// Dropping it neither detaches nor cancels the child: its [`CoreNursery`] still waits for it and
/// reports its failure.
///
/// # Cancellation
/// Awaiting is a checkpoint: it checks for cancellation first and yields at least once. If the
/// awaiting task is cancelled it returns [`JoinError::Cancelled`]; the child is unaffected and its
/// value stays in the handle for a later await.
pub struct CoreJoinHandle<T> {
    rx: oneshot::Receiver<Result<T, JoinError>>,
    yielded: bool,
    /// The outcome was returned: awaiting again gives `AlreadyJoined`.
    joined: bool,
    park: cancel::Park,
}

impl<T> fmt::Debug for CoreJoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CoreJoinHandle").finish_non_exhaustive()
    }
}

impl<T> Future for CoreJoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if this.joined {
            return Poll::Ready(Err(JoinError::AlreadyJoined));
        }
        if !this.yielded {
            if let Some(c) = cancel::current() {
                return Poll::Ready(Err(JoinError::Cancelled(c)));
            }
            this.yielded = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        // A value that is there is returned even if a cancel came meanwhile; the next checkpoint
        // raises. Polling the receiver stores the waker in the same critical section.
        if let Poll::Ready(r) = this.rx.poll_recv(cx) {
            this.park.unpark();
            this.yielded = false;
            this.joined = true;
            return Poll::Ready(r.unwrap_or(Err(JoinError::Dropped)));
        }
        if let Err(c) = this.park.park(cx) {
            this.park.unpark();
            this.yielded = false;
            return Poll::Ready(Err(JoinError::Cancelled(c)));
        }
        Poll::Pending
    }
}
